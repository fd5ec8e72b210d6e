package conversation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

// An action registered in code: the runner is any Go function (here a
// map instead of a warehouse system). The engine asks for what is
// missing, in the customer's language, and answers with the result.
func ExampleActionSpec() {
	orders := map[string]string{"10042": "shipped"}
	orderStatus := conversation.ActionSpec{
		Name: "order_status",
		Examples: map[string][]string{
			"en": {"where is my order", "order status"},
			"de": {"wo ist meine Bestellung", "Status meiner Bestellung"},
		},
		Params: []conversation.ActionParam{{
			Name: "order", Type: conversation.ParamOrder, Pattern: `^[0-9]{5}$`,
			Ask: map[string]string{"en": "What is your order number?", "de": "Wie lautet Ihre Bestellnummer?"},
		}},
		Result:   map[string]string{"en": "Order {order} is {status}.", "de": "Bestellung {order}: {status}."},
		NotFound: map[string]string{"en": "I can't find order {order}.", "de": "Ich kann die Bestellung {order} nicht finden."},
		Runner: conversation.ActionRunnerFunc(func(ctx context.Context, call conversation.ActionCall) (conversation.ActionResult, error) {
			status, ok := orders[call.Params["order"]]
			if !ok {
				return conversation.ActionResult{}, conversation.Errorf(conversation.NotFound, "no order %s", call.Params["order"])
			}
			return conversation.ActionResult{Fields: map[string]string{"status": status}}, nil
		}),
	}

	dir, _ := os.MkdirTemp("", "tier0-example")
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "tier0.db"), boltstore.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	engine := conversation.NewEngine(store, nil, nil, conversation.EngineConfig{
		Actions: conversation.ActionsConfig{Actions: []conversation.ActionSpec{orderStatus}},
	})
	for i, text := range []string{"Wo ist meine Bestellung?", "10042"} {
		res, err := engine.Handle(context.Background(), conversation.Message{
			Channel: conversation.ChannelWebChat, ConversationKey: "webchat:example",
			DedupeKey: fmt.Sprint("m", i), User: conversation.Identity{ID: "visitor-1"}, Text: text,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Outbound[0].Text)
	}
	// Output:
	// Wie lautet Ihre Bestellnummer?
	// Bestellung 10042: shipped.
}
