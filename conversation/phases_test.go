package conversation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

// seed stores a conversation in the given phase, as if earlier turns had
// led there.
func seed(tb testing.TB, s conversation.Store, key string, phase conversation.Phase) {
	tb.Helper()
	c := &conversation.Conversation{Key: key, Channel: conversation.ChannelWebChat, User: conversation.Identity{ID: "u1"}, Phase: phase, CreatedAt: time.Now()}
	switch phase {
	case conversation.PhaseConsulting:
		c.Consulting = &conversation.Consulting{Query: "vpn broken", Flow: "vpn", Asked: 1, Pending: vpnFlow.Questions[0]}
	case conversation.PhaseAwaitingAgent, conversation.PhaseAgentActive:
		c.Ticket = "IT-1000"
	}
	l, err := s.Acquire(context.Background(), key, time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Commit(context.Background(), l, conversation.Commit{Conversation: c}); err != nil {
		tb.Fatal(err)
	}
}

// Every phase × every kind of customer event: the phase afterwards and
// what the customer gets (nothing at all while a human owns the thread).
func TestPhaseMachine(t *testing.T) {
	const (
		question   = "password please"   // answerable
		unknown    = "vpn broken again"  // unanswerable, has a consulting flow
		offTopic   = "when is the party" // unanswerable, no flow
		wantHuman  = "I want a human"    // explicit request
		frustrated = "this is the third time, useless bot!!!"
	)
	type event struct {
		name   string
		text   string
		action string
	}
	events := []event{
		{"question", question, ""}, {"unknown", unknown, ""}, {"off-topic", offTopic, ""}, {"human request", wantHuman, ""},
		{"frustrated", frustrated, ""}, {"helpful click", "", conversation.ActionHelpful},
		{"not helpful click", "", conversation.ActionNotHelpful}, {"human click", "", conversation.ActionHuman},
	}
	P := struct{ bot, consulting, awaiting, active, resolved conversation.Phase }{
		conversation.PhaseBot, conversation.PhaseConsulting, conversation.PhaseAwaitingAgent, conversation.PhaseAgentActive, conversation.PhaseResolved,
	}
	K := struct{ answer, notSure, consulting, handoff, notice, none conversation.OutboundKind }{
		conversation.KindAnswer, conversation.KindNotSure, conversation.KindConsulting, conversation.KindHandoff, conversation.KindNotice, "",
	}
	type outcome struct {
		phase conversation.Phase
		kind  conversation.OutboundKind // first customer-facing reply; "" for none
	}
	want := map[conversation.Phase]map[string]outcome{
		P.bot: {
			"question": {P.bot, K.answer}, "unknown": {P.consulting, K.consulting}, "off-topic": {P.bot, K.notSure},
			"human request": {P.awaiting, K.handoff}, "frustrated": {P.awaiting, K.handoff}, "helpful click": {P.bot, K.notice},
			"not helpful click": {P.bot, K.notice}, "human click": {P.awaiting, K.handoff},
		},
		P.consulting: {
			// The reply is taken as the answer to the pending question.
			"question": {P.bot, K.answer}, "unknown": {P.consulting, K.consulting}, "off-topic": {P.consulting, K.consulting},
			"human request": {P.awaiting, K.handoff}, "frustrated": {P.awaiting, K.handoff}, "helpful click": {P.consulting, K.notice},
			"not helpful click": {P.consulting, K.notice}, "human click": {P.awaiting, K.handoff},
		},
		P.awaiting: {}, // every event: relayed to the staff side, the bot says nothing
		P.active:   {},
		P.resolved: {
			"question": {P.bot, K.answer}, "unknown": {P.consulting, K.consulting}, "off-topic": {P.bot, K.notSure},
			"human request": {P.awaiting, K.handoff}, "frustrated": {P.awaiting, K.handoff}, "helpful click": {P.bot, K.notice},
			"not helpful click": {P.bot, K.notice}, "human click": {P.awaiting, K.handoff},
		},
	}
	for _, from := range []conversation.Phase{P.bot, P.consulting, P.awaiting, P.active, P.resolved} {
		for _, ev := range events {
			t.Run(fmt.Sprintf("%s/%s", from, ev.name), func(t *testing.T) {
				s := stores()["bolt"](t)
				desk, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "IT", StaffChannel: "staff"})
				if err != nil {
					t.Fatal(err)
				}
				e := conversation.NewEngine(s, &phaseKnowledge{}, desk, conversation.EngineConfig{
					Consulting: conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{vpnFlow}},
					Sentiment:  handoff.NewLexiconScorer(),
				})
				seed(t, s, "webchat:pm", from)
				m := msg("webchat:pm", "e1", ev.text)
				if ev.action != "" {
					m.Action = &conversation.Action{ID: ev.action}
				}
				res, err := e.Handle(context.Background(), m)
				if err != nil {
					t.Fatal(err)
				}
				var customer, staff []conversation.OutboundKind
				for _, o := range res.Outbound {
					if o.Channel == "staff" {
						staff = append(staff, o.Kind)
					} else {
						customer = append(customer, o.Kind)
					}
				}
				w, ok := want[from][ev.name]
				if !ok { // human-owned: relayed, silent
					w = outcome{from, K.none}
					if len(staff) != 1 {
						t.Errorf("staff messages %v, want the customer's message relayed once", staff)
					}
				}
				gotKind := K.none
				if len(customer) > 0 {
					gotKind = customer[0]
				}
				if res.Phase != w.phase || gotKind != w.kind || len(customer) > 1 {
					t.Errorf("got phase %s, customer replies %v; want phase %s and %q", res.Phase, customer, w.phase, w.kind)
				}
			})
		}
	}
}

// phaseKnowledge answers "password" questions only.
type phaseKnowledge struct{}

func (phaseKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if contains(q.Text, "password") {
		return conversation.Answer{Text: "Use the portal.", Score: 0.9, Confident: true}, nil
	}
	return conversation.Answer{Score: 0.1}, nil
}
