package conversation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
)

// consultKnowledge answers only well-specified questions: a printer
// question is ambiguous until it says which problem, a VPN question needs
// the error code.
type consultKnowledge struct{ asked []string }

func (k *consultKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	k.asked = append(k.asked, q.Text)
	text := strings.ToLower(q.Text)
	switch {
	case strings.Contains(text, "paper jam"):
		return conversation.Answer{Text: "Open tray 2 and remove the sheet.", Score: 0.9, Confident: true,
			Citations: []conversation.Citation{{Title: "Printers", Source: "printers.md"}}}, nil
	case strings.Contains(text, "printer"):
		return conversation.Answer{Text: "Printers…", Score: 0.6, Confident: true, Alternatives: []conversation.Alternative{
			{Label: "Add a printer", Query: "add printer"},
			{Label: "Paper jam", Query: "paper jam"},
		}}, nil
	case strings.Contains(text, "809"):
		return conversation.Answer{Text: "Error 809: switch the network.", Score: 0.8, Confident: true,
			Citations: []conversation.Citation{{Title: "VPN", Source: "vpn.md"}}}, nil
	}
	return conversation.Answer{Score: 0.2}, nil
}

var vpnFlow = conversation.ConsultFlow{Name: "vpn", Keywords: []string{"vpn"}, Questions: []string{"Which device are you on?", "What error message do you see?"}}

func TestEngineConsulting(t *testing.T) {
	type step struct {
		text      string
		action    *conversation.Action
		wantPhase conversation.Phase
		wantKind  conversation.OutboundKind
		wantText  string // substring of the first reply
	}
	consult := func(v string) *conversation.Action {
		return &conversation.Action{ID: conversation.ActionConsult, Value: v}
	}
	tests := []struct {
		name      string
		cfg       conversation.ConsultingConfig
		steps     []step
		wantSlots int
		wantAsked []string // the queries knowledge saw, in order
	}{
		{
			name: "ambiguous answers: which one, then the chosen one",
			steps: []step{
				{text: "my printer", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting, wantText: "Which one"},
				{action: consult("paper jam"), wantPhase: conversation.PhaseBot, wantKind: conversation.KindAnswer, wantText: "tray 2"},
			},
			wantSlots: 1,
			wantAsked: []string{"my printer", "my printer paper jam"},
		},
		{
			name: "topic flow: questions one at a time until the answer is found",
			cfg:  conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{vpnFlow}},
			steps: []step{
				{text: "vpn broken", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting, wantText: "Which device"},
				{text: "windows laptop", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting, wantText: "What error"},
				{text: "it says 809", wantPhase: conversation.PhaseBot, wantKind: conversation.KindAnswer, wantText: "Error 809"},
			},
			wantSlots: 2,
			wantAsked: []string{"vpn broken", "vpn broken windows laptop", "vpn broken windows laptop it says 809"},
		},
		{
			name: "cap reached: handed to a person",
			cfg:  conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{vpnFlow}},
			steps: []step{
				{text: "vpn broken", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting},
				{text: "mac", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting},
				{text: "no idea", wantPhase: conversation.PhaseAwaitingAgent, wantKind: conversation.KindHandoff, wantText: "IT-1001"},
			},
			wantSlots: 2,
		},
		{
			name: "asking for a person while consulting",
			cfg:  conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{vpnFlow}},
			steps: []step{
				{text: "vpn broken", wantPhase: conversation.PhaseConsulting, wantKind: conversation.KindConsulting},
				{text: "just let me talk to a human", wantPhase: conversation.PhaseAwaitingAgent, wantKind: conversation.KindHandoff},
			},
		},
		{
			name: "no flow for the topic: not sure, no question",
			cfg:  conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{vpnFlow}},
			steps: []step{
				{text: "when is the summer party", wantPhase: conversation.PhaseBot, wantKind: conversation.KindNotSure},
			},
		},
		{
			name: "consulting off",
			cfg:  conversation.ConsultingConfig{MaxQuestions: -1, Flows: []conversation.ConsultFlow{vpnFlow}},
			steps: []step{
				{text: "vpn broken", wantPhase: conversation.PhaseBot, wantKind: conversation.KindNotSure},
				{text: "my printer", wantPhase: conversation.PhaseBot, wantKind: conversation.KindAnswer},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stores()["bolt"](t)
			k := &consultKnowledge{}
			e := newEngine(t, s, k, conversation.EngineConfig{Consulting: tt.cfg})
			for i, st := range tt.steps {
				m := msg("webchat:c", fmt.Sprint("m", i), st.text)
				m.Action = st.action
				res, err := e.Handle(context.Background(), m)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if res.Phase != st.wantPhase || len(res.Outbound) == 0 || res.Outbound[0].Kind != st.wantKind || !strings.Contains(res.Outbound[0].Text, st.wantText) {
					t.Fatalf("step %d (%q): phase %s, outbound %+v; want phase %s and a %s reply containing %q", i, st.text, res.Phase, res.Outbound, st.wantPhase, st.wantKind, st.wantText)
				}
				if st.wantKind == conversation.KindConsulting && !hasButton(res.Outbound[0], conversation.ActionHuman) {
					t.Errorf("step %d: consulting question without a way to a person: %+v", i, res.Outbound[0].Buttons)
				}
			}
			c, err := s.Load(context.Background(), "webchat:c")
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Slots) != tt.wantSlots {
				t.Errorf("slots = %+v, want %d", c.Slots, tt.wantSlots)
			}
			if c.Phase != conversation.PhaseConsulting && c.Consulting != nil {
				t.Errorf("consulting state %+v left behind in phase %s", c.Consulting, c.Phase)
			}
			if tt.wantAsked != nil && strings.Join(k.asked, "|") != strings.Join(tt.wantAsked, "|") {
				t.Errorf("knowledge asked %q, want %q", k.asked, tt.wantAsked)
			}
		})
	}
}

func hasButton(o conversation.Outbound, action string) bool {
	for _, b := range o.Buttons {
		if b.Action.ID == action {
			return true
		}
	}
	return false
}
