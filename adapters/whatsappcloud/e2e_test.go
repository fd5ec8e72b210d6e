package whatsappcloud_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// shopKnowledge answers questions about returns from one fixed page.
type shopKnowledge struct{}

func (shopKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if !strings.Contains(strings.ToLower(q.Text), "return") {
		return conversation.Answer{Score: 0.1}, nil
	}
	return conversation.Answer{
		Text:      "You can return unworn shoes within 30 days; print the label from your order page.",
		Citations: []conversation.Citation{{Title: "Returns policy", Source: "returns.md", URL: "https://shop.example/help/returns"}},
		Score:     0.92, Confident: true,
	}, nil
}

// stack is the real thing in process: a bolt store, the engine with a
// handoff desk, a dispatcher delivering through the adapter to the fake
// Graph API, and the adapter's webhook behind an httptest server.
type stack struct {
	store   *boltstore.Store
	eng     *conversation.Engine
	graph   *whatsappgraph.Server
	hook    whatsappgraph.Webhook
	hookURL string
}

func newStack(tb testing.TB) *stack {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true, Logger: quiet})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	desk, err := handoff.NewDesk(store, handoff.Config{TicketPrefix: "SHOP", Team: "Customer care"})
	if err != nil {
		tb.Fatalf("desk: %v", err)
	}
	eng := conversation.NewEngine(store, shopKnowledge{}, desk, conversation.EngineConfig{Logger: quiet})
	disp := conversation.NewDispatcher(store, conversation.DispatcherConfig{Logger: quiet, PollInterval: 50 * time.Millisecond, Grace: 10 * time.Millisecond})
	eng.DeliverWith(disp)

	s := &stack{store: store, eng: eng,
		graph: whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID}),
		hook:  whatsappgraph.Webhook{AppSecret: testSecret, PhoneNumberID: testPhoneID}}
	graphTS := httptest.NewServer(s.graph)
	cfg := testConfig(graphTS.URL)
	cfg.Refs, cfg.Logger = store, quiet
	a, err := whatsappcloud.New(cfg, eng)
	if err != nil {
		tb.Fatalf("adapter: %v", err)
	}
	disp.Register(a.Channel(), a.Sender())
	hookTS := httptest.NewServer(a.WebhookHandler())
	s.hookURL = hookTS.URL + webhookPath

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = disp.Run(ctx) })
	tb.Cleanup(func() {
		hookTS.Close()
		cancel()
		wg.Wait()
		graphTS.Close()
		_ = store.Close()
	})
	return s
}

func (s *stack) post(tb testing.TB, body []byte) {
	tb.Helper()
	status, resp, err := s.hook.Post(waitCtx(tb), nil, s.hookURL, body)
	if err != nil || status != 200 {
		tb.Fatalf("webhook: %d %s %v, want 200", status, resp, err)
	}
}

// next waits for the n-th message (1-based) sent to the shopper.
func (s *stack) next(tb testing.TB, n int) whatsappgraph.Sent {
	tb.Helper()
	sent, err := s.graph.WaitSent(waitCtx(tb), n)
	if err != nil {
		tb.Fatalf("waiting for message %d: %v (got %d)", n, err, len(s.graph.Sent()))
	}
	return sent[n-1]
}

func TestEndToEndShopperAgentRoundTrip(t *testing.T) {
	s := newStack(t)
	key := whatsappcloud.ConversationKey(shopper)

	// 1. A question answered from knowledge, with its source and buttons.
	s.post(t, s.hook.Messages("Kerry Fisher", whatsappgraph.TextMessage(shopper, "wamid.E1", "How do I return my shoes?")))
	answer := s.next(t, 1)
	if answer.To != shopper || answer.Interactive != "button" || len(answer.Choices) != 3 {
		t.Fatalf("answer = %+v, want reply buttons to the shopper", answer)
	}
	contains(t, "answer", answer.Text, "return unworn shoes within 30 days")
	contains(t, "answer", answer.Text, "Returns policy\nhttps://shop.example/help/returns")
	if answer.Choices[0].Title != "Helpful" || answer.Choices[2].Title != "Talk to a person" {
		t.Errorf("buttons = %+v, want Helpful … Talk to a person", answer.Choices)
	}

	// 2. The shopper taps "Helpful".
	s.post(t, s.hook.Messages("Kerry Fisher", whatsappgraph.ButtonReply(shopper, "wamid.E2", answer.ID, answer.Choices[0].ID, answer.Choices[0].Title)))
	if got := s.next(t, 2); got.Type != "text" || got.Text != "Glad that helped!" {
		t.Errorf("after Helpful: %+v, want the thanks", got)
	}

	// 3. The shopper asks for a person: a ticket is opened.
	s.post(t, s.hook.Messages("Kerry Fisher", whatsappgraph.TextMessage(shopper, "wamid.E3", "My parcel is lost, I want to talk to a person")))
	handed := s.next(t, 3)
	c, err := s.store.Load(waitCtx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ticket == "" || c.Phase != conversation.PhaseAwaitingAgent || c.User.DisplayName != "Kerry Fisher" {
		t.Fatalf("conversation = ticket %q phase %s user %+v, want a ticket awaiting an agent", c.Ticket, c.Phase, c.User)
	}
	contains(t, "handoff reply", handed.Text, "ticket "+c.Ticket)
	contains(t, "handoff reply", handed.Text, "Customer care")

	// While the ticket waits the bot is silent.
	s.post(t, s.hook.Messages("Kerry Fisher", whatsappgraph.TextMessage(shopper, "wamid.E4", "hello?")))

	// 4. An agent replies from the staff side.
	if _, err := s.eng.Act(waitCtx(t), conversation.AgentAction{ConversationKey: key, DedupeKey: "console:1",
		Agent: conversation.Identity{ID: "agent-7", DisplayName: "Sam"}, Kind: conversation.AgentReply,
		Text: "Hi Kerry, I have asked the carrier to trace your parcel."}); err != nil {
		t.Fatalf("agent reply: %v", err)
	}
	joined, reply := s.next(t, 4), s.next(t, 5)
	if joined.Text != "Sam has joined the conversation." {
		t.Errorf("4th message = %q, want the agent joined notice (the bot must stay silent while the ticket waits)", joined.Text)
	}
	if reply.To != shopper || reply.Type != "text" || reply.Text != "Hi Kerry, I have asked the carrier to trace your parcel." {
		t.Errorf("agent reply = %+v, want the agent's text to the shopper", reply)
	}
	if n := len(s.graph.Sent()); n != 5 {
		t.Errorf("sent %d messages, want 5", n)
	}
}

func TestEndToEndDuplicateDeliveryAnsweredOnce(t *testing.T) {
	s := newStack(t)
	body := s.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.DUP1", "How do returns work?"))
	s.post(t, body)
	s.post(t, body) // Meta redelivers
	s.post(t, s.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.DUP2", "And returns of boots?")))
	// Delivery of one conversation is in order: once the answer to the
	// second question is out, an answer to the redelivery would be too.
	second := s.next(t, 2)
	sent := s.graph.Sent()
	if len(sent) != 2 {
		t.Fatalf("sent %d messages for two distinct questions, want 2", len(sent))
	}
	contains(t, "answers", sent[0].Text+second.Text, "30 days")
	evs, err := s.store.Events(waitCtx(t), whatsappcloud.ConversationKey(shopper), 100)
	if err != nil {
		t.Fatal(err)
	}
	received := 0
	for _, e := range evs {
		if e.Type == conversation.EventMessageReceived {
			received++
		}
	}
	if received != 2 {
		t.Errorf("the engine handled %d messages, want 2", received)
	}
}
