package telegram_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// shopKnowledge knows the returns policy and nothing else.
type shopKnowledge struct{}

func (shopKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "return") {
		return conversation.Answer{
			Text:      "You can return any item within 30 days for a full refund.",
			Citations: []conversation.Citation{{Title: "Returns & refunds", Source: "returns.md", URL: "https://shop.example/returns"}},
			Score:     0.92, Confident: true,
		}, nil
	}
	return conversation.Answer{Score: 0.05}, nil
}

// desk is the whole helpdesk in process: a real engine on a bolt store,
// the handoff desk with the Telegram staff channel, a dispatcher with
// both Telegram senders, and the adapter polling the fake Bot API.
type desk struct {
	fake  *tgfake.Server
	store *boltstore.Store
	a     *telegram.Adapter
}

func startDesk(tb testing.TB) *desk {
	tb.Helper()
	fake := startFake(tb)
	st := openStore(tb, tb.TempDir())
	hd, err := handoff.NewDesk(st, handoff.Config{TicketPrefix: "T", StaffChannel: telegram.StaffChannel})
	if err != nil {
		tb.Fatal(err)
	}
	eng := conversation.NewEngine(st, shopKnowledge{}, hd, conversation.EngineConfig{Logger: quietLogger()})
	disp := conversation.NewDispatcher(st, conversation.DispatcherConfig{
		Logger: quietLogger(), BaseBackoff: 10 * time.Millisecond, PollInterval: 50 * time.Millisecond, Grace: 10 * time.Millisecond,
	})
	eng.DeliverWith(disp)
	a := newAdapter(tb, baseConfig(fake), eng, st)
	disp.Register(telegram.Channel, a.Sender())
	disp.Register(telegram.StaffChannel, a.StaffSender())

	ctx, cancel := context.WithCancel(context.Background())
	dispDone, pollDone := make(chan struct{}), make(chan error, 1)
	go func() { _ = disp.Run(ctx); close(dispDone) }()
	go func() { pollDone <- a.RunPolling(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-dispDone
		if err := <-pollDone; err != nil {
			tb.Errorf("RunPolling: %v", err)
		}
	})
	return &desk{fake: fake, store: st, a: a}
}

// waitSent waits for a message in chat whose shown text contains sub.
func (d *desk) waitSent(tb testing.TB, chat int64, sub string) tgfake.SentMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := d.fake.WaitSent(ctx, func(m tgfake.SentMessage) bool { return m.ChatID == chat && strings.Contains(m.Plain, sub) })
	if err != nil {
		tb.Fatalf("waiting for %q in chat %d: %v\nsent so far: %s", sub, chat, err, shown(d.fake.Sent()))
	}
	return m
}

func shown(ms []tgfake.SentMessage) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString("\n  [" + itoaT(m.ChatID) + "/" + itoaT(int64(m.ThreadID)) + "] " + m.Plain)
	}
	return b.String()
}

// say queues a message of the shopper in their private chat.
func (d *desk) say(text string) {
	d.fake.EnqueueMessage(textMessage(shopperChat, text))
}

// agentSays queues a message of the agent in a staff topic.
func (d *desk) agentSays(thread int, text string) {
	m := models.Message{Chat: staffChat, From: &agent, MessageThreadID: thread, IsTopicMessage: true, Text: text}
	if strings.HasPrefix(text, "/") {
		m = command(staffChat, &agent, text)
		m.MessageThreadID, m.IsTopicMessage = thread, true
	}
	d.fake.EnqueueMessage(m)
}

func TestEndToEndShopperAgentViaTelegram(t *testing.T) {
	d := startDesk(t)
	ctx := ctxT(t)

	// A cited answer with feedback buttons.
	d.say("How do I return an item?")
	ans := d.waitSent(t, shopperChat.ID, "within 30 days")
	if len(ans.Links) != 1 || ans.Links[0] != "https://shop.example/returns" {
		t.Errorf("answer links = %v, want the cited returns page", ans.Links)
	}
	if !strings.Contains(ans.Plain, "Returns & refunds") || len(ans.Labels()) != 3 {
		t.Errorf("answer %q with buttons %v, want the source title and three buttons", ans.Plain, ans.Labels())
	}

	// The shopper asks for a person: a ticket, a topic, the card.
	d.say("Can I talk to a human please?")
	d.waitSent(t, shopperChat.ID, "ticket T-1001")
	card := d.waitSent(t, staffChat.ID, "New ticket T-1001")
	topics := d.fake.Topics()
	if len(topics) != 1 || topics[0].ChatID != staffChat.ID || !strings.HasPrefix(topics[0].Name, "T-1001") || card.ThreadID != topics[0].ThreadID {
		t.Fatalf("topics %+v, card in thread %d: want one topic T-1001 holding the card", topics, card.ThreadID)
	}
	if got := strings.Join(card.Labels(), ","); got != "Claim,Resolve,Hand back,Escalate,P1,P2,P3,P4" {
		t.Errorf("card buttons = %s", got)
	}
	thread := card.ThreadID

	// The agent claims with the button; the shopper hears about it.
	if _, err := d.fake.Click(agent, card, "Claim"); err != nil {
		t.Fatal(err)
	}
	d.waitSent(t, shopperChat.ID, "Alex Agent has joined")
	d.waitSent(t, staffChat.ID, "Alex Agent claimed the ticket")

	// The shopper's next message is relayed into the topic, not answered.
	d.say("My order number is 4711")
	relay := d.waitSent(t, staffChat.ID, "My order number is 4711")
	if relay.ThreadID != thread {
		t.Errorf("relay went to thread %d, want the ticket topic %d", relay.ThreadID, thread)
	}

	// Plain chatter in the topic is an internal note; /reply and "reply:"
	// reach the shopper.
	d.agentSays(thread, "checking the warehouse system for 4711")
	d.agentSays(thread, "/reply Your refund for order 4711 is on its way.")
	d.waitSent(t, shopperChat.ID, "Your refund for order 4711 is on its way.")
	d.agentSays(thread, "reply: Anything else I can do?")
	d.waitSent(t, shopperChat.ID, "Anything else I can do?")
	for _, m := range d.fake.SentTo(shopperChat.ID) {
		if strings.Contains(m.Plain, "warehouse") || strings.Contains(m.Plain, "New ticket") {
			t.Errorf("the shopper saw staff-only text: %q", m.Plain)
		}
	}
	conv, err := d.store.Load(ctx, telegram.ConversationKey(shopperChat.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	var note *conversation.Turn
	for i, tn := range conv.History {
		if tn.Kind == conversation.KindNote {
			note = &conv.History[i]
		}
	}
	if note == nil || !note.Internal || !strings.Contains(note.Text, "warehouse") || note.AuthorName != "Alex Agent" {
		t.Errorf("internal note = %+v, want the agent's warehouse note, internal", note)
	}
	if conv.TicketState == nil || conv.TicketState.Assignee != "telegram:8001" {
		t.Errorf("ticket = %+v, want it assigned to telegram:8001", conv.TicketState)
	}

	// Resolve with the button; the shopper rates the help.
	if _, err := d.fake.Click(agent, card, "Resolve"); err != nil {
		t.Fatal(err)
	}
	csat := d.waitSent(t, shopperChat.ID, "Ticket T-1001 is resolved")
	if got := strings.Join(csat.Labels(), ","); got != "1,2,3,4,5" || len(csat.Keyboard) != 1 {
		t.Errorf("satisfaction buttons = %s in %d rows, want 1..5 in one row", got, len(csat.Keyboard))
	}
	if _, err := d.fake.Click(shopper, csat, "5"); err != nil {
		t.Fatal(err)
	}
	d.waitSent(t, shopperChat.ID, "Thank you for your feedback")
}

func TestStaffInputOutsideATicket(t *testing.T) {
	d := startDesk(t)
	d.say("I want to speak to someone")
	card := d.waitSent(t, staffChat.ID, "New ticket T-1001")
	thread := card.ThreadID

	// An unknown command gets the help; a bad priority gets the reason.
	d.agentSays(thread, "/frobnicate")
	d.waitSent(t, staffChat.ID, "Commands in a ticket topic")
	d.agentSays(thread, "/priority P9")
	d.waitSent(t, staffChat.ID, "Could not change the priority")
	d.agentSays(thread, "/reply")
	d.waitSent(t, staffChat.ID, "Usage: /reply <text>")

	// A topic no ticket lives in: commands are told so.
	d.fake.EnqueueMessage(models.Message{Chat: staffChat, From: &agent, MessageThreadID: 999, IsTopicMessage: true, Text: "hello?"})
	other := command(staffChat, &agent, "/claim")
	other.MessageThreadID, other.IsTopicMessage = 999, true
	d.fake.EnqueueMessage(other)
	d.waitSent(t, staffChat.ID, "not linked to an open ticket")

	// A staff button whose conversation tag does not match the topic's
	// conversation (a forged or stale button) acts on nothing.
	forged := card
	forged.Keyboard = [][]tgfake.Button{{{Text: "Claim", CallbackData: "scAAAAAAAAAAAA"}}}
	if _, err := d.fake.Click(agent, forged, "Claim"); err != nil {
		t.Fatal(err)
	}
	answers := waitAnswers(t, d.fake, 1)
	if !strings.Contains(answers[0].Text, "another ticket") {
		t.Errorf("forged button answered %q, want a refusal", answers[0].Text)
	}
	// Setting the priority with a button works and is announced.
	if _, err := d.fake.Click(agent, card, "P1"); err != nil {
		t.Fatal(err)
	}
	d.waitSent(t, staffChat.ID, "Alex Agent set the priority to P1")
	for _, m := range d.fake.SentTo(shopperChat.ID) {
		if strings.Contains(m.Plain, "joined") {
			t.Errorf("the shopper was told an agent joined, but nobody claimed: %q", m.Plain)
		}
	}
}
