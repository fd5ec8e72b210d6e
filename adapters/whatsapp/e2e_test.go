package whatsapp_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// shopKnowledge is a fixed knowledge base: it knows about shipping.
type shopKnowledge struct{}

func (shopKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "shipping") {
		return conversation.Answer{
			Text:      "Orders ship within **2 working days**; delivery in Germany takes 1–3 days.",
			Citations: []conversation.Citation{{Title: "Shipping and delivery", Source: "shipping.md", URL: "https://shop.example/help/shipping"}},
			Score:     0.92, Confident: true,
		}, nil
	}
	return conversation.Answer{Score: 0.05}, nil
}

// staffInbox records what the handoff desk posts into the staff channel.
type staffInbox struct {
	mu  sync.Mutex
	got []conversation.Outbound
	ch  chan conversation.Outbound
}

func (s *staffInbox) Send(_ context.Context, o conversation.Outbound) error {
	s.mu.Lock()
	s.got = append(s.got, o)
	s.mu.Unlock()
	s.ch <- o
	return nil
}

// shop is the whole helpdesk in process: a real engine on a bolt store,
// the handoff desk, the dispatcher delivering through the WhatsApp
// adapter, which runs on the fake client.
type shop struct {
	*harness
	engine *conversation.Engine
	store  *boltstore.Store
	staff  *staffInbox
}

func newShop(tb testing.TB, cfg whatsapp.Config) *shop {
	tb.Helper()
	st, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	desk, err := handoff.NewDesk(st, handoff.Config{TicketPrefix: "SHOP", Team: "Customer care", StaffChannel: "staff"})
	if err != nil {
		tb.Fatalf("desk: %v", err)
	}
	eng := conversation.NewEngine(st, shopKnowledge{}, desk, conversation.EngineConfig{})
	a, cli, logs := newAdapter(tb, cfg, eng)

	staff := &staffInbox{ch: make(chan conversation.Outbound, 64)}
	d := conversation.NewDispatcher(st, conversation.DispatcherConfig{BaseBackoff: 5 * time.Millisecond, PollInterval: 50 * time.Millisecond, Grace: 10 * time.Millisecond})
	d.Register(conversation.ChannelWhatsApp, a)
	d.Register("staff", staff)
	eng.DeliverWith(d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })

	h := runAdapter(tb, a, cli, logs, true)
	return &shop{harness: h, engine: eng, store: st, staff: staff}
}

func TestEndToEndShopperAgentRoundTrip(t *testing.T) {
	s := newShop(t, whatsapp.Config{})
	key := "whatsapp:" + shopperPN.User

	// 1. The shopper asks; the bot answers with a cited source and numbered choices.
	s.cli.emit(dm("E1", "How long does shipping take?"))
	ans := s.cli.nextSent(t)
	if ans.to != shopperPN {
		t.Errorf("answer sent to %s, want %s", ans.to, shopperPN)
	}
	for _, want := range []string{"*2 working days*", "\nhttps://shop.example/help/shipping", "1. Helpful", "3. Talk to a person"} {
		if !strings.Contains(ans.text(), want) {
			t.Errorf("answer lacks %q:\n%s", want, ans.text())
		}
	}

	// 2. "2" is the "Not helpful" button: the engine counts it as feedback.
	s.cli.emit(dm("E2", "2"))
	if got := s.cli.nextSent(t).text(); !strings.Contains(got, "Sorry that didn't help") {
		t.Errorf("reply to \"2\" = %q, want the not-helpful reply", got)
	}

	// 3. The shopper asks for a human: a ticket opens and the staff channel gets the card.
	s.cli.emit(dm("E3", "I want to talk to a human please"))
	handed := s.cli.nextSent(t).text()
	if !strings.Contains(handed, "SHOP-1001") {
		t.Errorf("handoff reply %q does not name ticket SHOP-1001", handed)
	}
	select {
	case card := <-s.staff.ch:
		if card.ConversationKey != key || card.Kind != conversation.KindHandoff || !strings.Contains(card.Text, "SHOP-1001") {
			t.Errorf("staff card = %+v, want the handoff card of %s", card, key)
		}
	case <-time.After(waitLimit):
		t.Fatal("no handoff card in the staff channel")
	}

	// 4. An agent replies; the reply reaches the shopper on WhatsApp.
	_, err := s.engine.Act(context.Background(), conversation.AgentAction{
		ConversationKey: key, DedupeKey: "console-1",
		Agent: conversation.Identity{ID: "agent-7", DisplayName: "Ada"},
		Kind:  conversation.AgentReply, Text: "Hi Sam, your parcel left our warehouse today.",
	})
	if err != nil {
		t.Fatalf("Act: %v", err)
	}
	if got := s.cli.nextSent(t).text(); !strings.Contains(got, "Ada has joined") {
		t.Errorf("first message after the agent acted = %q, want the join notice", got)
	}
	reply := s.cli.nextSent(t)
	if reply.to != shopperPN || reply.text() != "Hi Sam, your parcel left our warehouse today." {
		t.Errorf("agent reply = %q to %s, want the agent's text to the shopper", reply.text(), reply.to)
	}

	// 5. While the agent owns the thread, the shopper's messages go to staff, and the bot stays silent.
	s.cli.emit(dm("E4", "Thanks! Which carrier?"))
	select {
	case relayed := <-s.staff.ch:
		if relayed.Kind != conversation.KindStaff || !strings.Contains(relayed.Text, "Which carrier?") {
			t.Errorf("relayed = %+v, want the shopper's message for staff", relayed)
		}
	case <-time.After(waitLimit):
		t.Fatal("the shopper's message did not reach the staff channel")
	}
	if n := len(s.cli.sentMessages()); n != 5 {
		t.Errorf("the shopper received %d messages, want 5 (answer, feedback, handoff, join, agent reply)", n)
	}
}

func TestEndToEndDuplicateDeliveryAnsweredOnce(t *testing.T) {
	s := newShop(t, whatsapp.Config{})
	first := dm("D1", "How long does shipping take?")
	s.cli.emit(first)
	s.cli.emit(first) // WhatsApp redelivers after a reconnect
	s.cli.emit(dm("D2", "Do you sell gift cards?"))
	if got := s.cli.nextSent(t).text(); !strings.Contains(got, "2 working days") {
		t.Fatalf("first answer = %q, want the shipping answer", got)
	}
	// The conversation's turns are handled and delivered in order, so the
	// next message is the answer to D2 only if the duplicate got none.
	if got := s.cli.nextSent(t).text(); !strings.Contains(got, "not sure") {
		t.Errorf("second message = %q, want the answer to D2 (the duplicate must not be answered)", got)
	}
	if n := len(s.cli.sentMessages()); n != 2 {
		t.Errorf("sent %d answers for two distinct messages and one duplicate, want 2", n)
	}
	c, err := s.store.Load(context.Background(), "whatsapp:"+shopperPN.User)
	if err != nil {
		t.Fatal(err)
	}
	customer := 0
	for _, turn := range c.History {
		if turn.Role == conversation.RoleCustomer {
			customer++
		}
	}
	if customer != 2 {
		t.Errorf("history holds %d customer turns, want 2", customer)
	}
}
