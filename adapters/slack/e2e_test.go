package slack_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

// fixedKnowledge knows one answer, about passwords, and is not sure of
// anything else.
type fixedKnowledge struct{}

func (fixedKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "password") {
		return conversation.Answer{
			Text:      "Reset it at https://id.example/reset, then sign in again.",
			Citations: []conversation.Citation{{Title: "Password reset", Source: "it/password.md", URL: "https://kb.example/password"}},
			Score:     0.92,
			Confident: true,
		}, nil
	}
	return conversation.Answer{Score: 0.05}, nil
}

// eventLog records the engine's committed domain events.
type eventLog struct {
	mu      sync.Mutex
	events  []conversation.Event
	changed chan struct{}
}

func (l *eventLog) Record(evs []conversation.Event) {
	l.mu.Lock()
	l.events = append(l.events, evs...)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) waitAgent(tb testing.TB, action string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		l.mu.Lock()
		ch := l.changed
		for _, e := range l.events {
			if e.Type == conversation.EventAgent && e.Data["action"] == action {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			tb.Fatalf("no agent %s was committed", action)
		case <-ch:
		}
	}
}

// TestEndToEnd runs a real engine, handoff desk, bolt store and
// dispatcher behind the adapter and a fake Slack: an employee asks in a
// channel and is answered in the thread, asks for a person, an agent
// claims the ticket in the staff channel, notes something internally,
// replies with "reply:", and resolves; the employee rates the help.
func TestEndToEnd(t *testing.T) {
	f := startFake(t)
	store := openStore(t)
	desk, err := handoff.NewDesk(store, handoff.Config{TicketPrefix: "IT", Team: "IT Support", StaffChannel: slack.StaffChannel, StaffThread: staffChan})
	if err != nil {
		t.Fatal(err)
	}
	events := &eventLog{changed: make(chan struct{})}
	eng := conversation.NewEngine(store, fixedKnowledge{}, desk, conversation.EngineConfig{Events: events, Logger: testConfig(f).Logger})
	cfg := testConfig(f)
	cfg.PlaceholderAfter = 0 // the default: slow turns get a placeholder
	a, err := slack.New(cfg, eng, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := conversation.NewDispatcher(store, conversation.DispatcherConfig{Logger: cfg.Logger})
	d.Register(conversation.ChannelSlack, a.Sender())
	d.Register(slack.StaffChannel, a.StaffSender())
	eng.DeliverWith(d)
	ctx, cancel := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		_ = d.Run(ctx)
	}()
	srv := serve(a)
	fx := &fixture{fake: f, adapter: a, store: store, eng: newRecorder(), srv: srv}
	t.Cleanup(func() {
		srv.Close()
		fx.close(t)
		cancel()
		<-dispatched
	})

	const general, t1 = "CGENERAL", "1700000100.000100"
	customerSays := func(id, text, ts string) {
		t.Helper()
		fx.event(t, id, slackfake.Event{Type: "message", ChannelType: "channel", Channel: general, User: "UEMP", Text: text, TS: ts, ThreadTS: t1})
	}
	inT1 := func(substr string) func(slackfake.Message) bool {
		return func(m slackfake.Message) bool {
			return m.Channel == general && m.ThreadTS == t1 && m.Method == "chat.postMessage" && strings.Contains(m.Text, substr)
		}
	}

	// 1. The employee mentions the bot in a channel: answered in a thread
	// under the question, with the source and feedback buttons.
	fx.event(t, "Ev1", slackfake.Event{Type: "app_mention", Channel: general, User: "UEMP", Text: "<@U0BOT> How do I reset my password?", TS: t1})
	ans := waitMessage(t, f, "the answer", inT1("id.example/reset"))
	bs := blocksOf(t, ans)
	if len(bs) != 3 || !strings.Contains(textOf(bs[1].Elements[0].Text), "<https://kb.example/password|Password reset>") || len(bs[2].Elements) != 3 {
		t.Fatalf("answer blocks = %s, want text, the cited source and three buttons", ans.Blocks)
	}

	// 2. In the thread (no mention needed: the bot is part of it) the
	// employee asks for a person: told the ticket id, and the ticket
	// thread opens in the staff channel.
	customerSays("Ev2", "That did not work, I want to talk to a human", "1700000101.000100")
	waitMessage(t, f, "the handoff notice", inT1("IT-1001"))
	card := waitMessage(t, f, "the handoff card", func(m slackfake.Message) bool {
		return m.Channel == staffChan && m.ThreadTS == "" && strings.Contains(m.Text, "New ticket IT-1001")
	})

	// 3. An agent claims it; the employee hears an agent joined.
	claim, err := f.Click(card, "tier0_staff_claim", "UAGENT")
	if err != nil {
		t.Fatal(err)
	}
	fx.interact(t, claim)
	waitMessage(t, f, "the agent-joined notice", inT1("Sam has joined"))
	waitMessage(t, f, "the claim confirmation", func(m slackfake.Message) bool {
		return m.Channel == staffChan && m.ThreadTS == card.TS && strings.Contains(m.Text, "Sam claimed the ticket")
	})

	// 4. Plain thread chatter is an internal note: recorded, not sent.
	const secret = "AD account locked by the VPN client"
	fx.event(t, "Ev3", slackfake.Event{Type: "message", ChannelType: "channel", Channel: staffChan, User: "UAGENT", Text: secret, TS: "1700000102.000100", ThreadTS: card.TS})
	events.waitAgent(t, "note")

	// 5. "reply:" reaches the employee in the original thread.
	fx.event(t, "Ev4", slackfake.Event{Type: "message", ChannelType: "channel", Channel: staffChan, User: "UAGENT", Text: "reply: I've unlocked your account, please try again.", TS: "1700000103.000100", ThreadTS: card.TS})
	waitMessage(t, f, "the agent's reply", inT1("I've unlocked your account"))

	// 6. The employee's answer goes to the ticket thread, not to the bot.
	customerSays("Ev5", "Works now, thanks!", "1700000104.000100")
	waitMessage(t, f, "the relayed customer message", func(m slackfake.Message) bool {
		return m.Channel == staffChan && m.ThreadTS == card.TS && strings.Contains(m.Text, "Works now, thanks!")
	})

	// 7. The agent resolves; the employee is asked for a rating and rates.
	resolve, err := f.Click(card, "tier0_staff_resolve", "UAGENT")
	if err != nil {
		t.Fatal(err)
	}
	fx.interact(t, resolve)
	csat := waitMessage(t, f, "the satisfaction question", inT1("is resolved"))
	rate, err := f.Click(csat, "tier0_btn_4", "UEMP")
	if err != nil {
		t.Fatal(err)
	}
	fx.interact(t, rate)
	waitMessage(t, f, "the thanks for the rating", inT1("Thank you for your feedback"))

	// 8. Resolving again is refused, and the agent is told why.
	again, err := f.Click(card, "tier0_staff_resolve", "UAGENT")
	if err != nil {
		t.Fatal(err)
	}
	fx.interact(t, again)
	waitMessage(t, f, "the refusal", func(m slackfake.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == "UAGENT" && strings.Contains(m.Text, "is not open")
	})

	// The internal note never reached the employee's channel.
	for _, m := range f.Messages() {
		if m.Channel != staffChan && (strings.Contains(m.Text, secret) || strings.Contains(string(m.Blocks), secret)) {
			t.Fatalf("the internal note reached the employee: %+v", m)
		}
	}
}
