package conversation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/handoff"
)

func TestAgentWorksATicket(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			ctx := context.Background()
			ada := conversation.Identity{ID: "agent-7", DisplayName: "Ada"}
			n := 0
			customer := func(text string, action *conversation.Action) conversation.Result {
				t.Helper()
				n++
				m := msg("webchat:t", fmt.Sprint("c", n), text)
				m.Action = action
				res, err := e.Handle(ctx, m)
				if err != nil {
					t.Fatalf("customer %q: %v", text, err)
				}
				return res
			}
			agent := func(kind conversation.AgentActionKind, text string) conversation.Result {
				t.Helper()
				n++
				res, err := e.Act(ctx, conversation.AgentAction{ConversationKey: "webchat:t", DedupeKey: fmt.Sprint("a", n), Agent: ada, Kind: kind, Text: text})
				if err != nil {
					t.Fatalf("agent %s: %v", kind, err)
				}
				return res
			}
			kinds := func(res conversation.Result) string {
				var k []string
				for _, o := range res.Outbound {
					k = append(k, string(o.Kind))
				}
				return strings.Join(k, ",")
			}
			steps := []struct {
				name      string
				do        func() conversation.Result
				wantPhase conversation.Phase
				wantKinds string
			}{
				{"customer asks for a person", func() conversation.Result { return customer("talk to a human please", nil) }, conversation.PhaseAwaitingAgent, "handoff"},
				{"agent claims", func() conversation.Result { return agent(conversation.AgentClaim, "") }, conversation.PhaseAgentActive, "notice"},
				{"customer writes: relayed, bot silent", func() conversation.Result { return customer("my password expired", nil) }, conversation.PhaseAgentActive, ""},
				{"internal note: nothing sent", func() conversation.Result { return agent(conversation.AgentNote, "AD account locked, unlocking") }, conversation.PhaseAgentActive, ""},
				{"agent replies", func() conversation.Result { return agent(conversation.AgentReply, "Unlocked, please try again.") }, conversation.PhaseAgentActive, "agent"},
				{"agent resolves", func() conversation.Result { return agent(conversation.AgentResolve, "") }, conversation.PhaseResolved, "notice"},
				{"customer rates 5", func() conversation.Result {
					return customer("", &conversation.Action{ID: conversation.ActionCSAT, Value: "5"})
				}, conversation.PhaseBot, "notice"},
				{"the bot answers again", func() conversation.Result { return customer("password reset?", nil) }, conversation.PhaseBot, "answer"},
			}
			for _, st := range steps {
				res := st.do()
				if res.Phase != st.wantPhase || kinds(res) != st.wantKinds {
					t.Fatalf("%s: phase %s, outbound [%s]; want %s, [%s]", st.name, res.Phase, kinds(res), st.wantPhase, st.wantKinds)
				}
			}
			c, err := s.Load(ctx, "webchat:t")
			if err != nil {
				t.Fatal(err)
			}
			tk := c.TicketState
			if tk == nil || tk.Status != conversation.TicketResolved || tk.Assignee != "agent-7" || tk.FirstResponseAt.IsZero() || tk.ClaimedAt.IsZero() || tk.Reason != "customer_request" {
				t.Errorf("ticket state %+v, want resolved by agent-7 with its clocks", tk)
			}
			// The note is in the history, marked internal; nothing sent ever carried it.
			for _, tn := range c.History {
				if strings.Contains(tn.Text, "AD account") && !tn.Internal {
					t.Errorf("note stored as %+v, want it internal", tn)
				}
			}
			pending, err := s.Pending(ctx, "webchat:t", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range pending {
				if strings.Contains(o.Text, "AD account") {
					t.Errorf("an internal note is on its way to a channel: %+v", o)
				}
				if o.Kind == conversation.KindAgent && (o.Channel != conversation.ChannelWebChat || o.Recipient != "u1") {
					t.Errorf("agent reply routed to %s/%s, want the customer's web chat", o.Channel, o.Recipient)
				}
			}
		})
	}
}

func TestAgentActionErrors(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	ctx := context.Background()
	if _, err := e.Handle(ctx, msg("webchat:bot", "m1", "password?")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Handle(ctx, msg("webchat:h", "m1", "I want a human")); err != nil {
		t.Fatal(err)
	}
	ada := conversation.Identity{ID: "agent-7"}
	tests := []struct {
		name string
		a    conversation.AgentAction
		want conversation.Code
	}{
		{"unknown conversation", conversation.AgentAction{ConversationKey: "webchat:none", DedupeKey: "x", Agent: ada, Kind: conversation.AgentClaim}, conversation.NotFound},
		{"no ticket", conversation.AgentAction{ConversationKey: "webchat:bot", DedupeKey: "x", Agent: ada, Kind: conversation.AgentNote, Text: "hi"}, conversation.Invalid},
		{"empty reply", conversation.AgentAction{ConversationKey: "webchat:h", DedupeKey: "x", Agent: ada, Kind: conversation.AgentReply}, conversation.Invalid},
		{"unknown kind", conversation.AgentAction{ConversationKey: "webchat:h", DedupeKey: "x", Agent: ada, Kind: "delete"}, conversation.Invalid},
		{"no agent", conversation.AgentAction{ConversationKey: "webchat:h", DedupeKey: "x", Kind: conversation.AgentClaim}, conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Act(ctx, tt.a)
			if got := conversation.ErrorCode(err); got != tt.want {
				t.Errorf("code %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	// A retried action takes effect once; after hand-back the ticket is
	// no longer open for claims.
	back := conversation.AgentAction{ConversationKey: "webchat:h", DedupeKey: "back-1", Agent: ada, Kind: conversation.AgentHandBack}
	res, err := e.Act(ctx, back)
	if err != nil || res.Phase != conversation.PhaseBot {
		t.Fatalf("hand back: %+v, %v", res, err)
	}
	if res, err := e.Act(ctx, back); err != nil || !res.Duplicate {
		t.Errorf("retried hand back: %+v, %v; want a duplicate", res, err)
	}
	_, err = e.Act(ctx, conversation.AgentAction{ConversationKey: "webchat:h", DedupeKey: "claim-2", Agent: ada, Kind: conversation.AgentClaim})
	if conversation.ErrorCode(err) != conversation.Conflict {
		t.Errorf("claim after hand back: %v, want a conflict", err)
	}
}

func TestSLAClocksAndBreaches(t *testing.T) {
	s := stores()["bolt"](t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	desk, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "IT", Priority: "P3", Now: clock,
		SLA: map[string]handoff.SLA{"P3": {FirstResponse: time.Hour, Resolution: 4 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	e := conversation.NewEngine(s, &keywordKnowledge{}, desk, conversation.EngineConfig{Now: clock})
	ctx := context.Background()
	if _, err := e.Handle(ctx, msg("webchat:sla", "m1", "I need a human")); err != nil {
		t.Fatal(err)
	}
	ada := conversation.Identity{ID: "agent-7"}
	steps := []struct {
		after      time.Duration
		kind       conversation.AgentActionKind
		wantBreach []string // sla_breached events this action records
	}{
		{30 * time.Minute, conversation.AgentClaim, nil},
		{2 * time.Hour, conversation.AgentReply, []string{conversation.SLAFirstResponse}}, // first reply an hour late
		{3 * time.Hour, conversation.AgentNote, nil},                                      // nothing new to record
		{5 * time.Hour, conversation.AgentResolve, []string{conversation.SLAResolution}},
	}
	start := now
	for i, st := range steps {
		now = start.Add(st.after)
		if _, err := e.Act(ctx, conversation.AgentAction{ConversationKey: "webchat:sla", DedupeKey: fmt.Sprint("a", i), Agent: ada, Kind: st.kind, Text: "ok"}); err != nil {
			t.Fatalf("%s: %v", st.kind, err)
		}
		evs, err := s.Events(ctx, "webchat:sla", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			if ev.Type == conversation.EventSLABreached && ev.At.Equal(now) {
				got = append(got, ev.Data["clock"])
			}
		}
		if strings.Join(got, ",") != strings.Join(st.wantBreach, ",") {
			t.Errorf("%s after %s: breaches %v, want %v", st.kind, st.after, got, st.wantBreach)
		}
	}
	c, err := s.Load(ctx, "webchat:sla")
	if err != nil {
		t.Fatal(err)
	}
	if ts := c.TicketState; !ts.FirstResponseDue.Equal(start.Add(time.Hour)) || !ts.ResolveDue.Equal(start.Add(4*time.Hour)) || len(ts.Breached) != 2 {
		t.Errorf("ticket clocks %+v, want due times from the P3 SLA and both breaches recorded", ts)
	}
	if got := (&conversation.TicketState{Ticket: conversation.Ticket{FirstResponseDue: start}}).Breaches(start.Add(-time.Minute)); len(got) != 0 {
		t.Errorf("breaches before the due time: %v", got)
	}
}

// A console's action id equal to a customer message id is a different
// event: both take effect.
func TestAgentDedupeKeysDoNotCollideWithCustomerMessages(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	ctx := context.Background()
	if _, err := e.Handle(ctx, msg("webchat:d", "1", "I want a human")); err != nil {
		t.Fatal(err)
	}
	res, err := e.Act(ctx, conversation.AgentAction{ConversationKey: "webchat:d", DedupeKey: "1", Agent: conversation.Identity{ID: "a"}, Kind: conversation.AgentClaim})
	if err != nil || res.Duplicate || res.Phase != conversation.PhaseAgentActive {
		t.Fatalf("claim with id 1: %+v, %v; want it applied", res, err)
	}
	res, err = e.Handle(ctx, msg("webchat:d", "agent:1", "hello?"))
	if err != nil || res.Duplicate {
		t.Fatalf("customer message with id agent:1: %+v, %v; want it handled", res, err)
	}
}

func TestSLASweepRecordsBreachesOfUntouchedTickets(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			desk, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "IT", Priority: "P2", Now: clock,
				SLA: map[string]handoff.SLA{"P2": {FirstResponse: time.Hour, Resolution: 8 * time.Hour}}})
			if err != nil {
				t.Fatal(err)
			}
			// Two replicas sweep the same store.
			e1 := conversation.NewEngine(s, &keywordKnowledge{}, desk, conversation.EngineConfig{Now: clock})
			e2 := conversation.NewEngine(s, &keywordKnowledge{}, desk, conversation.EngineConfig{Now: clock})
			ctx := context.Background()
			if _, err := e1.Handle(ctx, msg("webchat:sw", "m1", "I want a human")); err != nil {
				t.Fatal(err)
			}
			sweep := func(e *conversation.Engine) int {
				t.Helper()
				n, err := e.SweepSLA(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := sweep(e1); n != 0 {
				t.Errorf("sweep before any due time recorded %d", n)
			}
			now = now.Add(90 * time.Minute)
			if n1, n2 := sweep(e1), sweep(e2); n1+n2 != 1 {
				t.Errorf("sweeps after the first-response due time recorded %d + %d, want 1 in all", n1, n2)
			}
			if n := sweep(e2); n != 0 {
				t.Errorf("a repeated sweep recorded %d, want 0", n)
			}
			now = now.Add(8 * time.Hour)
			if n := sweep(e2); n != 1 {
				t.Errorf("sweep after the resolution due time recorded %d, want 1", n)
			}
			evs, err := s.Events(ctx, "webchat:sw", 100)
			if err != nil {
				t.Fatal(err)
			}
			var clocks []string
			for _, ev := range evs {
				if ev.Type == conversation.EventSLABreached {
					clocks = append(clocks, ev.Data["clock"])
				}
			}
			if strings.Join(clocks, ",") != "first_response,resolution" {
				t.Errorf("breach events %v, want first_response then resolution, once each", clocks)
			}
		})
	}
}

func TestAgentEscalatesAndReprioritises(t *testing.T) {
	s := stores()["bolt"](t)
	desk, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "IT", Team: "L1",
		Routes: handoff.Routes{Rules: []handoff.RouteRule{{Team: "L1", EscalateTo: "L2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e := conversation.NewEngine(s, &keywordKnowledge{}, desk, conversation.EngineConfig{})
	ctx := context.Background()
	if _, err := e.Handle(ctx, msg("webchat:esc", "m1", "I want a human")); err != nil {
		t.Fatal(err)
	}
	ada := conversation.Identity{ID: "ada"}
	act := func(id string, kind conversation.AgentActionKind, text string) (conversation.Result, error) {
		return e.Act(ctx, conversation.AgentAction{ConversationKey: "webchat:esc", DedupeKey: id, Agent: ada, Kind: kind, Text: text})
	}
	if _, err := act("1", conversation.AgentClaim, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := act("2", conversation.AgentPriority, "P1"); err != nil {
		t.Fatal(err)
	}
	res, err := act("3", conversation.AgentEscalate, "")
	if err != nil || res.Phase != conversation.PhaseAwaitingAgent || len(res.Outbound) != 1 || !strings.Contains(res.Outbound[0].Text, "L2") {
		t.Fatalf("escalate: %+v, %v; want the ticket back in the queue for L2 and the customer told", res, err)
	}
	c, err := s.Load(ctx, "webchat:esc")
	if err != nil {
		t.Fatal(err)
	}
	if tk := c.TicketState; tk.Team != "L2" || tk.Priority != "P1" || tk.Assignee != "" || tk.Status != conversation.TicketOpen {
		t.Errorf("ticket after escalation %+v, want L2, P1, unassigned, open", tk)
	}
	if _, err := act("4", conversation.AgentEscalate, ""); conversation.ErrorCode(err) != conversation.Conflict {
		t.Errorf("escalating past the last level: %v, want a conflict", err)
	}
	if _, err := act("5", conversation.AgentPriority, "P9"); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("priority P9: %v, want invalid", err)
	}
}
