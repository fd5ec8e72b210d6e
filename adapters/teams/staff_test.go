package teams_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

func (h *harness) staffSend(tb testing.TB, o conversation.Outbound) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o.Channel = teams.StaffChannel
	return h.adapter.StaffSender().Send(ctx, o)
}

const handoffText = "New ticket IT-1001 (P3, Support) for Alice Employee\nReason: customer_request · Channel: teams\nTranscript:\n  customer: my [VPN](https://evil.example) is broken\n"

func TestStaffSenderOpensOneChainPerTicket(t *testing.T) {
	h := newHarness(t, nil)
	const key = "teams:t1:a:alice"
	if err := h.staffSend(t, conversation.Outbound{ID: "o_h1", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		t.Fatalf("handoff: %v", err)
	}
	root := h.waitActivity(t, "handoff card", func(r botframework.Recorded) bool { return r.Created })
	if root.ChannelID != staffChannelID || root.Tenant != h.fake.Config().TenantID {
		t.Fatalf("chain created in %q/%q, want %q/%q", root.ChannelID, root.Tenant, staffChannelID, h.fake.Config().TenantID)
	}
	c := root.Card()
	if c == nil {
		t.Fatalf("handoff is not a card: %s", root.Raw)
	}
	texts := strings.Join(c.Texts(), "\n")
	if !strings.Contains(texts, "New ticket IT-1001") || strings.Contains(texts, "[VPN](") {
		t.Errorf("card texts (customer links must be defused):\n%s", texts)
	}
	want := map[string]map[string]string{
		"Claim":     {"tier0_action": "claim", "tier0_key": key},
		"Resolve":   {"tier0_action": "resolve", "tier0_key": key},
		"Hand back": {"tier0_action": "hand_back", "tier0_key": key},
		"Escalate":  {"tier0_action": "escalate", "tier0_key": key},
		"P1":        {"tier0_action": "priority", "tier0_key": key, "tier0_value": "P1"},
		"P4":        {"tier0_action": "priority", "tier0_key": key, "tier0_value": "P4"},
	}
	for title, data := range want {
		act, ok := c.Action(title)
		if !ok {
			t.Errorf("card has no %q button", title)
			continue
		}
		got := decodeData(t, act.Data)
		if len(got) != len(data) {
			t.Errorf("%s data = %v, want %v", title, got, data)
		}
		for k, v := range data {
			if got[k] != v {
				t.Errorf("%s data = %v, want %v", title, got, data)
			}
		}
	}
	// Both directions are stored.
	if v, ok := h.refs.get("teams.staff.chain", root.ConversationID); !ok || v != key {
		t.Errorf("chain → conversation ref = %q, %v", v, ok)
	}
	if v, ok := h.refs.get("teams.staff", key); !ok || !strings.Contains(v, root.ConversationID) {
		t.Errorf("conversation → chain ref = %q, %v", v, ok)
	}

	// The same card again (a dispatcher retry) opens nothing new.
	if err := h.staffSend(t, conversation.Outbound{ID: "o_h1", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		t.Fatal(err)
	}
	// A relayed customer message goes into the chain, as plain text.
	relay := conversation.Outbound{ID: "o_r1", ConversationKey: key, Kind: conversation.KindStaff, Text: "IT-1001 (Alice Employee): *still* broken"}
	if err := h.staffSend(t, relay); err != nil {
		t.Fatal(err)
	}
	r := h.waitActivity(t, "relay", func(r botframework.Recorded) bool { return r.Activity.Text == relay.Text })
	if r.ConversationID != root.ConversationID || r.Created || r.Activity.TextFormat != "plain" {
		t.Errorf("relay posted to %q (created %v, format %q), want into %q as plain text", r.ConversationID, r.Created, r.Activity.TextFormat, root.ConversationID)
	}
	if n := len(h.fake.Activities()); n != 2 {
		t.Errorf("%d activities, want the card and the relay", n)
	}

	t.Run("relay without a chain opens one", func(t *testing.T) {
		const other = "teams:t1:a:carol"
		if err := h.staffSend(t, conversation.Outbound{ID: "o_r2", ConversationKey: other, Kind: conversation.KindStaff, Text: "T-1 (Carol): hello?"}); err != nil {
			t.Fatal(err)
		}
		r := h.waitActivity(t, "new chain", func(r botframework.Recorded) bool { return r.Created && r.Seq == 3 })
		if c := r.Card(); c == nil || !strings.Contains(strings.Join(c.Texts(), "\n"), "hello?") {
			t.Fatalf("new chain: %s", r.Raw)
		}
	})
	t.Run("without a staff channel", func(t *testing.T) {
		h2 := newHarness(t, func(c *teams.Config) { c.StaffChannelID, c.StaffServiceURL, c.StaffTenantID = "", "", "" })
		err := h2.staffSend(t, conversation.Outbound{ID: "o", ConversationKey: key, Kind: conversation.KindHandoff, Text: "x"})
		if conversation.ErrorCode(err) != conversation.Invalid {
			t.Fatalf("Send: %v, want Invalid", err)
		}
	})
}

func TestStaffInput(t *testing.T) {
	h := newHarness(t, nil)
	const key = "teams:t1:a:alice"
	if err := h.staffSend(t, conversation.Outbound{ID: "o_h1", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		t.Fatal(err)
	}
	root := h.waitActivity(t, "handoff card", func(r botframework.Recorded) bool { return r.Created })
	chain := root.ConversationID
	claim, _ := root.Card().Action("Claim")
	p2, _ := root.Card().Action("P2")
	forged := json.RawMessage(`{"tier0_action":"claim","tier0_key":"teams:t1:a:someone-else"}`)

	// replyIn waits for the bot's note in the chain that contains want.
	replyIn := func(t *testing.T, conv, want string) {
		t.Helper()
		h.waitActivity(t, "chain reply "+want, func(r botframework.Recorded) bool {
			return r.ConversationID == conv && strings.Contains(r.Activity.Text, want)
		})
	}
	tests := []struct {
		name     string
		act      botframework.Activity
		wantKind conversation.AgentActionKind // "" = no action
		wantText string
		reply    string // expected bot note in the chain
		conv     string // where the note goes (default chain)
	}{
		{"Claim button", h.fake.Submit(chain, root.ID, bob, claim.Data), conversation.AgentClaim, "", "Bob Agent claimed the ticket.", ""},
		{"Priority button", h.fake.Submit(chain, root.ID, bob, p2.Data), conversation.AgentPriority, "P2", "set the priority to P2", ""},
		{"reply: text", h.fake.ChannelMessage(staffChannelID, root.ID, bob, "Reply: please restart your laptop"), conversation.AgentReply, "please restart your laptop", "", ""},
		{"plain text is an internal note", h.fake.ChannelMessage(staffChannelID, root.ID, bob, "checking the VPN logs"), conversation.AgentNote, "checking the VPN logs", "Internal note saved", ""},
		{"forged submit naming another conversation", h.fake.Submit(chain, root.ID, bob, forged), "", "", "does not belong to this ticket thread", ""},
		{"unknown button", h.fake.Submit(chain, root.ID, bob, json.RawMessage(`{"tier0_action":"delete_everything","tier0_key":"`+key+`"}`)), "", "", "not one of the ticket actions", ""},
		{"a chain that is not a ticket", h.fake.ChannelMessage(staffChannelID, "", bob, "hello bot"), "", "", "not a ticket", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.eng.actions())
			status := h.deliver(t, tt.act)
			acts := h.eng.actions()
			if tt.wantKind == "" {
				if len(acts) != before {
					t.Fatalf("engine got an action: %+v", acts[len(acts)-1])
				}
				if status != http.StatusOK {
					t.Errorf("status = %d, want 200", status)
				}
			} else {
				if status != http.StatusAccepted || len(acts) != before+1 {
					t.Fatalf("status %d, %d new actions; want 202 and 1", status, len(acts)-before)
				}
				got := acts[len(acts)-1]
				want := conversation.AgentAction{
					ConversationKey: key, DedupeKey: tt.act.ID, Kind: tt.wantKind, Text: tt.wantText,
					Agent: conversation.Identity{ID: "teams:" + bob.AADObjectID, DisplayName: bob.Name, Locale: "en-US", TenantID: h.fake.Config().TenantID},
				}
				if got != want {
					t.Fatalf("action:\n got %+v\nwant %+v", got, want)
				}
			}
			if tt.reply != "" {
				conv := chain
				if tt.conv == "new" {
					conv = tt.act.Conversation.ID
				}
				replyIn(t, conv, tt.reply)
			}
		})
	}

	t.Run("engine rejection is answered in the chain", func(t *testing.T) {
		h.eng.act = func(context.Context, conversation.AgentAction) (conversation.Result, error) {
			return conversation.Result{}, conversation.Errorf(conversation.Conflict, "ticket IT-1001 is not open (phase bot)")
		}
		defer func() { h.eng.act = nil }()
		resolve, _ := root.Card().Action("Resolve")
		if got := h.deliver(t, h.fake.Submit(chain, root.ID, bob, resolve.Data)); got != http.StatusOK {
			t.Fatalf("status = %d, want 200", got)
		}
		replyIn(t, chain, "Could not resolve the ticket: ticket IT-1001 is not open (phase bot)")
	})

	t.Run("an older chain of the conversation no longer acts", func(t *testing.T) {
		if err := h.staffSend(t, conversation.Outbound{ID: "o_h2", ConversationKey: key, Kind: conversation.KindHandoff, Text: "New ticket IT-1002"}); err != nil {
			t.Fatal(err)
		}
		h.waitActivity(t, "second card", func(r botframework.Recorded) bool { return r.Created && r.ConversationID != chain })
		before := len(h.eng.actions())
		if got := h.deliver(t, h.fake.Submit(chain, root.ID, bob, claim.Data)); got != http.StatusOK {
			t.Fatalf("status = %d, want 200", got)
		}
		if len(h.eng.actions()) != before {
			t.Fatal("a click in the old chain reached the engine")
		}
		replyIn(t, chain, "newer ticket thread")
	})
}

// unaddressed returns a channel message that does not @mention the bot,
// as the bot sees them with the ChannelMessage.Read.Group permission.
func unaddressed(h *harness, channel, root, text string) botframework.Activity {
	a := h.fake.ChannelMessage(channel, root, bob, text)
	a.Text, a.Entities = text, nil
	return a
}

func TestUnaddressedChatterGetsNoAnswer(t *testing.T) {
	h := newHarness(t, nil)
	const key = "teams:t1:a:alice"
	if err := h.staffSend(t, conversation.Outbound{ID: "o_h1", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		t.Fatal(err)
	}
	root := h.waitActivity(t, "handoff card", func(r botframework.Recorded) bool { return r.Created })

	// In the ticket chain: a note, without a confirmation.
	if got := h.deliver(t, unaddressed(h, staffChannelID, root.ID, "looks like the token server")); got != http.StatusAccepted {
		t.Fatalf("note: status %d, want 202", got)
	}
	// Elsewhere in the staff channel, and in a customer channel: ignored.
	if got := h.deliver(t, unaddressed(h, staffChannelID, "", "lunch?")); got != http.StatusOK {
		t.Fatalf("staff chatter: status %d, want 200", got)
	}
	if got := h.deliver(t, unaddressed(h, "19:general@thread.tacv2", "", "anyone seen my charger?")); got != http.StatusOK {
		t.Fatalf("channel chatter: status %d, want 200", got)
	}
	_ = h.adapter.Close() // waits for background posts
	acts := h.eng.actions()
	if len(acts) != 1 || acts[0].Kind != conversation.AgentNote || acts[0].Text != "looks like the token server" {
		t.Fatalf("actions = %+v, want one note", acts)
	}
	if n := len(h.eng.messages()); n != 0 {
		t.Fatalf("engine got %d customer messages from chatter", n)
	}
	if n := len(h.fake.Activities()); n != 1 {
		t.Fatalf("the bot posted %d activities, want only the handoff card: %+v", n, h.fake.Activities())
	}
}
