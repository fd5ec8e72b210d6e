package analytics_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/language"
	"github.com/tier0/tier0/handoff"
)

// vpnKnowledge answers questions about the VPN and nothing else.
type vpnKnowledge struct{}

func (vpnKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "vpn") {
		return conversation.Answer{Text: "Restart the VPN client.", Score: 0.9, Confident: true,
			Citations: []conversation.Citation{{Title: "VPN", Source: "vpn.md"}}}, nil
	}
	return conversation.Answer{Score: 0.1}, nil
}

// The events a real engine emits carry what the figures need: new
// conversations, which answer a verdict or handoff settles, the
// unanswered question, the wait for the first reply, the resolution time
// and the first CSAT rating of a ticket.
func TestEngineEventsMakeTheFigures(t *testing.T) {
	ctx := context.Background()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	desk, err := handoff.NewDesk(store, handoff.Config{TicketPrefix: "IT", Team: "Support"})
	if err != nil {
		t.Fatalf("new desk: %v", err)
	}
	clock := &fakeClock{t: time.Now()}
	rec, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: time.Hour, Now: clock.Now, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	detector, err := language.New(language.Config{Languages: []string{"de", "en"}})
	if err != nil {
		t.Fatal(err)
	}
	eng := conversation.NewEngine(store, vpnKnowledge{}, desk, conversation.EngineConfig{Events: rec, Now: clock.Now, Logger: discard(),
		Language: conversation.LanguageConfig{Detector: detector}})

	n := 0
	say := func(key, text string, action *conversation.Action) {
		t.Helper()
		n++
		_, err := eng.Handle(ctx, conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: key,
			DedupeKey: "m" + strings.Repeat("x", n), User: conversation.Identity{ID: "u-" + key}, Text: text, Action: action})
		if err != nil {
			t.Fatalf("%s says %q: %v", key, text, err)
		}
	}
	act := func(key string, kind conversation.AgentActionKind, text string) {
		t.Helper()
		n++
		_, err := eng.Act(ctx, conversation.AgentAction{ConversationKey: key, DedupeKey: "a" + strings.Repeat("x", n),
			Agent: conversation.Identity{ID: "ada"}, Kind: kind, Text: text})
		if err != nil {
			t.Fatalf("agent %s on %s: %v", kind, key, err)
		}
	}

	// A: answered, confirmed by a helpful click (a second click counts once).
	say("webchat:A", "my vpn is broken", nil)
	say("webchat:A", "", &conversation.Action{ID: conversation.ActionHelpful})
	say("webchat:A", "", &conversation.Action{ID: conversation.ActionHelpful})
	// B: not answered, asks for a person; an agent replies after 90 s and
	// resolves after an hour; the customer rates 5, then 4.
	say("webchat:B", "How do I fix the coffee machine?", nil)
	say("webchat:B", "I want to talk to a human", nil)
	clock.Advance(90 * time.Second)
	act("webchat:B", conversation.AgentReply, "Descale it.")
	clock.Advance(time.Hour)
	act("webchat:B", conversation.AgentResolve, "")
	say("webchat:B", "", &conversation.Action{ID: conversation.ActionCSAT, Value: "5"})
	say("webchat:B", "", &conversation.Action{ID: conversation.ActionCSAT, Value: "4"})
	// C: answered, then hands off: the answer is rejected.
	say("webchat:C", "vpn help", nil)
	say("webchat:C", "I want to talk to a human", nil)
	// D: answered, nothing else: assumed.
	say("webchat:D", "vpn setup", nil)
	// E: answered, two not-helpful clicks hand off: rejected once.
	say("webchat:E", "vpn token", nil)
	say("webchat:E", "", &conversation.Action{ID: conversation.ActionNotHelpful})
	say("webchat:E", "", &conversation.Action{ID: conversation.ActionNotHelpful})
	// F: German, answered (a German conversation of its own).
	say("webchat:F", "Mein VPN geht nicht mehr", nil)
	say("webchat:F", "danke", nil)

	rep, err := rec.Report(ctx, 2) // two days, in case the test runs across midnight
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	f := rep.Totals
	if f.Conversations != 6 || f.Answered != 5 || f.AnswersConfirmed != 1 || f.AnswersRejected != 2 || f.AnswersAssumed != 2 || f.Handoffs != 3 {
		t.Errorf("totals = %+v; want 6 conversations, 5 answers (1 confirmed, 2 rejected, 2 assumed), 3 handoffs", f)
	}
	if f.ConfirmedResolved != 2 || f.CSATConfirmed != 1 || f.DeflectionRate != 3.0/6 {
		t.Errorf("totals = %+v; want confirmed 2 (helpful + CSAT 5), deflection 3/6", f)
	}
	if want := []analytics.Count{{Label: "en", Count: 4}, {Label: "de", Count: 1}}; fmt.Sprint(rep.Languages) != fmt.Sprint(want) {
		t.Errorf("languages = %+v, want %+v (E's \"vpn token\" tells nothing)", rep.Languages, want)
	}
	if rep.CSAT.Count != 1 || rep.CSAT.Scores[4] != 1 {
		t.Errorf("CSAT = %+v, want the first rating (5) alone", rep.CSAT)
	}
	if rep.FirstReply.Count != 1 || rep.FirstReply.SumSeconds != 90 || rep.FirstReply.Median != "≤ 5 min" {
		t.Errorf("first reply = %+v, want one reply after 90 s", rep.FirstReply)
	}
	if rep.Resolution.Count != 1 || rep.Resolution.SumSeconds != 3690 {
		t.Errorf("resolution = %+v, want one ticket resolved after 3690 s", rep.Resolution)
	}
	reasons := map[string]int64{}
	for _, c := range rep.HandoffReasons {
		reasons[c.Label] = c.Count
	}
	if reasons["customer_request"] != 2 || reasons["not_helpful"] != 1 {
		t.Errorf("handoff reasons = %+v, want customer_request 2, not_helpful 1", rep.HandoffReasons)
	}
	if len(rep.KnowledgeGaps) != 1 || rep.KnowledgeGaps[0].Label != "fix coffee machine" || rep.KnowledgeGaps[0].Examples[0] != "how do i fix the coffee machine" {
		t.Errorf("knowledge gaps = %+v, want the coffee machine question", rep.KnowledgeGaps)
	}
}
