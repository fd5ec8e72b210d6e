package llm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/actions"
	"github.com/tier0/tier0/conversation/actions/fakebackend"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/knowledge/llm"
	"github.com/tier0/tier0/knowledge/openai"
)

// toolServer is a fake /chat/completions that answers every request with
// one tool call (or none) and keeps the requests.
type toolServer struct {
	mu       sync.Mutex
	name     string
	args     string
	requests []map[string]any
}

func (s *toolServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req map[string]any
	_ = json.Unmarshal(raw, &req)
	s.mu.Lock()
	s.requests = append(s.requests, req)
	name, args := s.name, s.args
	s.mu.Unlock()
	msg := map[string]any{"role": "assistant", "content": ""}
	if name != "" {
		msg["tool_calls"] = []any{map[string]any{"id": "call_1", "type": "function", "function": map[string]any{"name": name, "arguments": args}}}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"model": "fake", "choices": []any{map[string]any{"message": msg, "finish_reason": "tool_calls"}}})
}

func (s *toolServer) call(name, args string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name, s.args = name, args
}

func newToolEngine(t *testing.T, chat *toolServer) (*conversation.Engine, *fakebackend.Server, *fakebackend.Server) {
	t.Helper()
	shop, it := fakebackend.NewShop(fakebackend.Config{}), fakebackend.NewIT(fakebackend.Config{})
	shopURL, itURL, chatURL := httptest.NewServer(shop), httptest.NewServer(it), httptest.NewServer(chat)
	t.Cleanup(shopURL.Close)
	t.Cleanup(itURL.Close)
	t.Cleanup(chatURL.Close)
	orders, err := actions.New(actions.Config{URL: shopURL.URL + "/orders/{order}?email={email}", Result: map[string]string{"status": "status", "tracking": "shipment.tracking_url"}})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := actions.New(actions.Config{Method: "POST", URL: itURL.URL + "/accounts/unlock", Body: map[string]string{"account": "{account}"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := openai.NewChatClient(openai.Config{BaseURL: chatURL.URL, Model: "fake", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	planner, err := llm.NewToolPlanner(client, llm.ToolsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "t.db"), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	specs := []conversation.ActionSpec{
		{
			Name: "order_status", Description: map[string]string{"en": "Look up an order."},
			Examples: map[string][]string{"en": {"where is my order"}},
			Params: []conversation.ActionParam{
				{Name: "order", Type: conversation.ParamOrder, Pattern: `^[0-9]{5}$`, Ask: map[string]string{"en": "What is your order number?"}},
				{Name: "email", Type: conversation.ParamEmail, FromIdentity: true, Ask: map[string]string{"en": "Which e-mail address did you order with?"}},
			},
			Result: map[string]string{"en": "Order {order} is {status}: {tracking}"}, NotFound: map[string]string{"en": "I can't find order {order}."},
			Source: "Shop orders", Runner: orders,
		},
		{
			Name: "unlock_account", Description: map[string]string{"en": "Unlock the asker's account."},
			Examples:   map[string][]string{"en": {"unlock my account"}},
			Params:     []conversation.ActionParam{{Name: "account", Type: conversation.ParamIdentity, Identity: "email"}},
			SideEffect: true, Confirm: map[string]string{"en": "Shall I unlock your account?"},
			Result: map[string]string{"en": "Unlocked."}, Runner: unlock,
		},
	}
	e := conversation.NewEngine(store, nil, nil, conversation.EngineConfig{Actions: conversation.ActionsConfig{Actions: specs, Planner: planner}})
	return e, shop, it
}

func handle(t *testing.T, e *conversation.Engine, key, dedupe string, u conversation.Identity, text string) conversation.Outbound {
	t.Helper()
	res, err := e.Handle(context.Background(), conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: key, DedupeKey: dedupe, User: u, Text: text})
	if err != nil || len(res.Outbound) == 0 {
		t.Fatalf("Handle(%q): %+v, %v", text, res, err)
	}
	return res.Outbound[0]
}

func TestToolCallsRunValidatedActions(t *testing.T) {
	chat := &toolServer{}
	e, shop, _ := newToolEngine(t, chat)
	visitor := conversation.Identity{ID: "v1"}

	// A tool call with what the customer wrote: run, cited.
	chat.call("order_status", `{"order":"10042","email":"max@example.com"}`)
	out := handle(t, e, "webchat:a", "m1", visitor, "Could you look up 10042 for me? It's max@example.com")
	if !strings.HasPrefix(out.Text, "Order 10042 is shipped: https://tracking.example/") || len(out.Citations) != 1 || out.Citations[0].Source != "action:order_status" {
		t.Errorf("reply = %q %+v, want the status citing the shop", out.Text, out.Citations)
	}
	chat.mu.Lock()
	tools, _ := json.Marshal(chat.requests[0]["tools"])
	chat.mu.Unlock()
	if !strings.Contains(string(tools), `"name":"order_status"`) || strings.Contains(string(tools), `"account"`) {
		t.Errorf("tools offered = %s, want order_status and no identity parameter", tools)
	}

	// A missing argument is asked for.
	chat.call("order_status", `{"order":"10042"}`)
	if out := handle(t, e, "webchat:b", "m1", visitor, "Could you look up 10042 for me?"); out.Text != "Which e-mail address did you order with?" {
		t.Errorf("reply = %q, want the e-mail question", out.Text)
	}

	// Hostile: another customer's e-mail the asker never gave.
	chat.call("order_status", `{"order":"10042","email":"max@example.com"}`)
	out = handle(t, e, "webchat:d", "m1", conversation.Identity{ID: "eve"}, "Could you look up 10042 for me?")
	if !strings.HasPrefix(out.Text, "I can only do that for you yourself") {
		t.Errorf("hostile call reply = %q, want the refusal", out.Text)
	}
	if got := len(shop.Keys()); got != 0 {
		t.Errorf("shop keys = %d", got)
	}
}

func TestToolCallForAnotherAccountRefused(t *testing.T) {
	chat := &toolServer{}
	e, _, it := newToolEngine(t, chat)
	chat.call("unlock_account", `{"account":"boss@corp.example"}`)
	out := handle(t, e, "slack:x", "m1", conversation.Identity{ID: "U1", Email: "anna@corp.example"}, "I need the boss account opened up")
	if !strings.HasPrefix(out.Text, "I can only do that for you yourself") {
		t.Errorf("reply = %q, want the refusal", out.Text)
	}
	if st := it.Stats(); st.Posts != 0 {
		t.Errorf("IT back end got %d POSTs", st.Posts)
	}
	// Without the account argument the asker's own account is confirmed.
	chat.call("unlock_account", `{}`)
	if out := handle(t, e, "slack:y", "m1", conversation.Identity{ID: "U1", Email: "anna@corp.example"}, "I need my login opened up"); out.Text != "Shall I unlock your account?" {
		t.Errorf("reply = %q, want the confirmation", out.Text)
	}
	// No tool call: the turn goes on (no knowledge here: not sure).
	chat.call("", "")
	res, err := e.Handle(context.Background(), conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: "webchat:z", DedupeKey: "m1", User: conversation.Identity{ID: "v"}, Text: "What is the meaning of life?"})
	if err != nil || len(res.Outbound) != 1 || res.Outbound[0].Kind != conversation.KindNotSure {
		t.Errorf("no tool call: %+v, %v, want the not-sure reply", res, err)
	}
}
