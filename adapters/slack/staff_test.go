package slack_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
)

const customerKey = "webchat:visitor-42" // the customer may be on any channel

func handoffCard(id, key string) conversation.Outbound {
	return conversation.Outbound{ID: id, ConversationKey: key, Channel: slack.StaffChannel, ThreadKey: staffChan, Kind: conversation.KindHandoff,
		Text: "New ticket IT-1001 (P3, Support) for Erin <erin>\nReason: customer_request · Channel: webchat\nTranscript:\n  customer: VPN & Wi-Fi down\n"}
}

// openTicket posts a handoff card for key and returns it as posted.
func openTicket(t *testing.T, fx *fixture, id, key string) slackfake.Message {
	t.Helper()
	if err := fx.adapter.StaffSender().Send(context.Background(), handoffCard(id, key)); err != nil {
		t.Fatalf("send card: %v", err)
	}
	msgs := fx.fake.Messages()
	return msgs[len(msgs)-1]
}

func TestStaffCardAndThread(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	card := openTicket(t, fx, "o1", customerKey)
	if card.Channel != staffChan || card.ThreadTS != "" {
		t.Fatalf("card %+v, want a top-level message in the staff channel", card)
	}
	bs := blocksOf(t, card)
	if bs[0].Text == nil || bs[0].Text.Text != "*New ticket IT-1001 (P3, Support) for Erin &lt;erin&gt;*" {
		t.Errorf("card head = %+v", bs[0].Text)
	}
	if bs[1].Text == nil || !strings.Contains(bs[1].Text.Text, "VPN &amp; Wi-Fi down") {
		t.Errorf("card body is not escaped: %s", card.Blocks)
	}
	acts := bs[len(bs)-1]
	got := map[string]string{}
	var options []string
	for _, e := range acts.Elements {
		got[e.ActionID] = e.Value
		for _, o := range e.Options {
			options = append(options, o.Value)
		}
	}
	for _, id := range []string{"claim", "resolve", "hand_back", "escalate"} {
		if got["tier0_staff_"+id] != customerKey {
			t.Errorf("button %s carries %q, want the conversation key", id, got["tier0_staff_"+id])
		}
	}
	if strings.Join(options, ",") != "P1,P2,P3,P4" {
		t.Errorf("priority options = %v", options)
	}
	relay := conversation.Outbound{ID: "o2", ConversationKey: customerKey, Channel: slack.StaffChannel, Kind: conversation.KindStaff, Text: "IT-1001 (Erin): any news?"}
	for range 2 { // the second send is a retry: not posted again
		if err := fx.adapter.StaffSender().Send(ctx, relay); err != nil {
			t.Fatal(err)
		}
	}
	msgs := fx.fake.Messages()
	if len(msgs) != 2 || msgs[1].ThreadTS != card.TS || !strings.Contains(msgs[1].Text, "any news?") {
		t.Fatalf("messages %+v, want the relay once in the card's thread", msgs)
	}
	for _, bad := range []conversation.Outbound{
		{ID: "o3", ConversationKey: customerKey, Channel: conversation.ChannelSlack, Kind: conversation.KindStaff, Text: "x"},
		{ConversationKey: customerKey, Channel: slack.StaffChannel, Kind: conversation.KindStaff, Text: "x"},
	} {
		if err := fx.adapter.StaffSender().Send(ctx, bad); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("send %+v = %v, want invalid", bad, err)
		}
	}
}

func TestStaffInput(t *testing.T) {
	const agentTS, agentTS2 = "1800000000.000100", "1800000000.000200"
	staffMsg := func(card slackfake.Message, text, ts string) slackfake.Event {
		return slackfake.Event{Type: "message", ChannelType: "channel", Channel: staffChan, User: "UAGENT", Text: text, TS: ts, ThreadTS: card.TS}
	}
	click := func(t *testing.T, fx *fixture, card slackfake.Message, action string) {
		t.Helper()
		p, err := fx.fake.Click(card, "tier0_staff_"+action, "UAGENT")
		if err != nil {
			t.Fatal(err)
		}
		fx.interact(t, p)
	}
	tests := []struct {
		name      string
		act       func(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
		do        func(t *testing.T, fx *fixture, card slackfake.Message)
		want      []conversation.AgentAction // Agent checked separately
		ephemeral string
	}{
		{
			name: "plain thread message is an internal note",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				fx.event(t, "Ev1", staffMsg(card, "checking AD", agentTS))
			},
			want: []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentNote, Text: "checking AD", DedupeKey: "note:CSTAFF:" + agentTS}},
		},
		{
			name: "reply: goes to the customer",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				fx.event(t, "Ev1", staffMsg(card, "  Reply: Your VPN works again &amp; Wi-Fi too.", agentTS))
			},
			want: []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentReply, Text: "Your VPN works again & Wi-Fi too.", DedupeKey: "reply:CSTAFF:" + agentTS}},
		},
		{
			name: "empty reply: is explained",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				fx.event(t, "Ev1", staffMsg(card, "reply:   ", agentTS))
			},
			ephemeral: `after "reply:"`,
		},
		{
			name: "chatter in a thread that is no ticket is ignored",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				fx.event(t, "Ev1", slackfake.Event{Type: "message", ChannelType: "channel", Channel: staffChan, User: "UAGENT", Text: "lunch?", TS: agentTS2, ThreadTS: agentTS})
			},
		},
		{
			name: "claim button",
			do:   func(t *testing.T, fx *fixture, card slackfake.Message) { click(t, fx, card, "claim") },
			want: []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentClaim}},
		},
		{
			name: "resolve, hand back and escalate buttons",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				click(t, fx, card, "resolve")
				click(t, fx, card, "hand_back")
				click(t, fx, card, "escalate")
			},
			want: []conversation.AgentAction{
				{ConversationKey: customerKey, Kind: conversation.AgentResolve},
				{ConversationKey: customerKey, Kind: conversation.AgentHandBack},
				{ConversationKey: customerKey, Kind: conversation.AgentEscalate},
			},
		},
		{
			name: "priority select",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				p, err := fx.fake.Select(card, "tier0_staff_priority", "UAGENT", "P1")
				if err != nil {
					t.Fatal(err)
				}
				fx.interact(t, p)
			},
			want: []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentPriority, Text: "P1"}},
		},
		{
			name: "a forged button value cannot act on another conversation",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				p, err := fx.fake.Click(card, "tier0_staff_resolve", "UAGENT")
				if err != nil {
					t.Fatal(err)
				}
				fx.interact(t, []byte(strings.ReplaceAll(string(p), `"value":"`+customerKey+`"`, `"value":"slack:T0FAKE:D9"`)))
			},
			ephemeral: "does not belong to this ticket",
		},
		{
			name: "a card of an earlier ticket no longer acts",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				openTicket(t, fx, "o9", customerKey) // a newer ticket of the same conversation
				click(t, fx, card, "resolve")
			},
			ephemeral: "earlier ticket",
		},
		{
			name: "the engine's refusal is told to the agent",
			act: func(context.Context, conversation.AgentAction) (conversation.Result, error) {
				return conversation.Result{}, conversation.Errorf(conversation.Conflict, "ticket IT-1001 is not open (phase resolved)")
			},
			do:        func(t *testing.T, fx *fixture, card slackfake.Message) { click(t, fx, card, "resolve") },
			want:      []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentResolve}},
			ephemeral: "That didn't work: ticket IT-1001 is not open",
		},
		{
			name: "Send to customer shortcut",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				fx.interact(t, fx.fake.MessageAction(slack.SendToCustomerCallbackID, "UAGENT", staffMsg(card, "Please restart the laptop.", agentTS)))
			},
			want:      []conversation.AgentAction{{ConversationKey: customerKey, Kind: conversation.AgentReply, Text: "Please restart the laptop.", DedupeKey: "reply:CSTAFF:" + agentTS}},
			ephemeral: "Sent to the customer.",
		},
		{
			name: "Send to customer refuses the bot's own messages",
			do: func(t *testing.T, fx *fixture, card slackfake.Message) {
				ev := staffMsg(card, "IT-1001 (Erin): any news?", agentTS)
				ev.User = botUser
				fx.interact(t, fx.fake.MessageAction(slack.SendToCustomerCallbackID, "UAGENT", ev))
			},
			ephemeral: "Only messages written by agents",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.eng.act = tt.act
			card := openTicket(t, fx, "o1", customerKey)
			tt.do(t, fx, card)
			fx.close(t)
			got := fx.eng.actions()
			// Clicks are processed concurrently: compare in a fixed order.
			byKind := func(a, b conversation.AgentAction) int { return strings.Compare(string(a.Kind), string(b.Kind)) }
			slices.SortStableFunc(got, byKind)
			slices.SortStableFunc(tt.want, byKind)
			if len(got) != len(tt.want) {
				t.Fatalf("engine got %d actions, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.ConversationKey != w.ConversationKey || g.Kind != w.Kind || g.Text != w.Text || (w.DedupeKey != "" && g.DedupeKey != w.DedupeKey) || g.DedupeKey == "" {
					t.Errorf("action %d = %+v, want %+v", i, g, w)
				}
				if g.Agent.ID != "slack:UAGENT" || g.Agent.DisplayName != "Sam" {
					t.Errorf("action %d agent = %+v, want slack:UAGENT named Sam", i, g.Agent)
				}
				if err := g.Validate(); err != nil {
					t.Errorf("action %d does not validate: %v", i, err)
				}
			}
			var eph []string
			for _, m := range fx.fake.Messages() {
				if m.Method == "chat.postEphemeral" {
					if m.User != "UAGENT" || m.Channel != staffChan {
						t.Errorf("ephemeral %+v is not for the agent in the staff channel", m)
					}
					eph = append(eph, m.Text)
				}
			}
			joined := strings.Join(eph, "\n")
			if tt.ephemeral == "" && len(eph) > 0 || !strings.Contains(joined, tt.ephemeral) {
				t.Fatalf("ephemeral messages %q, want one containing %q", eph, tt.ephemeral)
			}
		})
	}
}
