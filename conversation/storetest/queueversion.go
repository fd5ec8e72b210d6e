package storetest

import (
	"testing"

	"github.com/tier0/tier0/conversation"
)

// queueVersion reads the queue version and fails the test on error.
func queueVersion(tb testing.TB, qv conversation.QueueVersioner) uint64 {
	tb.Helper()
	v, err := qv.QueueVersion(ctxFor(tb))
	if err != nil {
		tb.Fatalf("QueueVersion: %v", err)
	}
	return v
}

// testQueueVersion: the version grows with each commit that opens a
// ticket, changes its entry (priority, assignee and status, team, a new
// customer message) or takes it out of the queue, and stays put for
// commits that leave the queue alone: turns without a ticket and turns
// after the ticket was resolved. Each case has a store of its own, so
// nothing else moves the version meanwhile.
func testQueueVersion(t *testing.T, s conversation.Store) {
	qv := as[conversation.QueueVersioner](t, s)
	tc := newConv(keyFor(t, "ticket"))
	plain := newConv(keyFor(t, "plain"))
	ticket := func(c *conversation.Conversation) *conversation.TicketState {
		if c.TicketState == nil {
			c.Ticket = "IT-7"
			c.TicketState = &conversation.TicketState{
				Ticket:   conversation.Ticket{ID: "IT-7", Status: conversation.TicketOpen, Priority: "P3", Team: "desk"},
				Reason:   "customer_request",
				OpenedAt: ts(10),
			}
		}
		return c.TicketState
	}
	steps := []struct {
		name   string
		conv   *conversation.Conversation
		change func(c *conversation.Conversation)
		moves  bool
	}{
		{"BotTurnWithoutTicket", plain, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleCustomer, Text: "hello", At: ts(1)}, 50)
		}, false},
		{"BotTurnBeforeTheTicket", tc, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleBot, Text: "how can I help?", At: ts(2)}, 50)
		}, false},
		{"TicketOpened", tc, func(c *conversation.Conversation) {
			ticket(c)
			c.Phase = conversation.PhaseAwaitingAgent
		}, true},
		{"BotTurnBesideTheQueue", plain, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleBot, Text: "anything else?", At: ts(11)}, 50)
		}, false},
		{"PriorityChanged", tc, func(c *conversation.Conversation) { ticket(c).Priority = "P1" }, true},
		{"AssigneeChanged", tc, func(c *conversation.Conversation) {
			tk := ticket(c)
			tk.Assignee, tk.Status, tk.ClaimedAt = "ada", conversation.TicketInProgress, ts(12)
			c.Phase = conversation.PhaseAgentActive
		}, true},
		{"CustomerMessageRelayed", tc, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleCustomer, Text: "still broken", At: ts(13)}, 50)
			c.UpdatedAt = ts(13)
		}, true},
		{"TeamChanged", tc, func(c *conversation.Conversation) {
			tk := ticket(c)
			tk.Team, tk.Assignee, tk.Status = "network", "", conversation.TicketOpen
			c.Phase = conversation.PhaseAwaitingAgent
		}, true},
		{"TicketResolved", tc, func(c *conversation.Conversation) {
			tk := ticket(c)
			tk.Status, tk.ResolvedAt = conversation.TicketResolved, ts(14)
			c.Phase = conversation.PhaseResolved
		}, true},
		{"TurnAfterResolution", tc, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleCustomer, Text: "thanks!", At: ts(15)}, 50)
			c.UpdatedAt = ts(15)
		}, false},
		{"TicketReopened", tc, func(c *conversation.Conversation) {
			ticket(c).Status = conversation.TicketOpen
			c.Phase = conversation.PhaseAwaitingAgent
		}, true},
		{"TicketClosed", tc, func(c *conversation.Conversation) {
			ticket(c).Status = conversation.TicketClosed
			c.Phase = conversation.PhaseBot
		}, true},
		{"BotTurnAfterClosing", tc, func(c *conversation.Conversation) {
			c.Append(conversation.Turn{Role: conversation.RoleBot, Text: "back to the bot", At: ts(16)}, 50)
			c.UpdatedAt = ts(16)
		}, false},
	}
	before := queueVersion(t, qv)
	if again := queueVersion(t, qv); again != before {
		t.Fatalf("two readings without a commit: %d then %d, want equal", before, again)
	}
	for _, st := range steps {
		st.change(st.conv)
		commit(t, s, conversation.Commit{Conversation: st.conv})
		after := queueVersion(t, qv)
		switch {
		case st.moves && after <= before:
			t.Errorf("%s: version %d after the commit, want more than %d", st.name, after, before)
		case !st.moves && after != before:
			t.Errorf("%s: version went from %d to %d, want it unchanged (the queue did not change)", st.name, before, after)
		}
		before = after
	}
}

// testQueueVersionClosed: a closed store answers Unavailable.
func testQueueVersionClosed(t *testing.T, s conversation.Store) {
	qv := as[conversation.QueueVersioner](t, s)
	queueVersion(t, qv)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := qv.QueueVersion(ctxFor(t))
	wantCode(t, "QueueVersion on a closed store", err, conversation.Unavailable)
}
