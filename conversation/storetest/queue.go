package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// testTicketQueue: the queue follows the committed ticket states, most
// urgent first, then oldest; filters by team and status; resolved tickets
// and conversations without one never show.
func testTicketQueue(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	ticket := func(key, id, prio, team, status string, opened time.Duration) *conversation.Conversation {
		c := newConv(keyFor(t, key))
		if id != "" {
			c.Ticket = id
			c.TicketState = &conversation.TicketState{Ticket: conversation.Ticket{ID: id, Priority: prio, Team: team, Status: status}, OpenedAt: base.Add(opened)}
		}
		commit(t, s, conversation.Commit{Conversation: c})
		return c
	}
	a := ticket("a", "IT-1", "P3", "desk", conversation.TicketOpen, 2*time.Minute)
	ticket("b", "IT-2", "P1", "desk", conversation.TicketOpen, 3*time.Minute)
	ticket("c", "IT-3", "P3", "network", conversation.TicketInProgress, time.Minute)
	ticket("d", "", "", "", "", 0)
	ticket("e", "IT-5", "P1", "desk", conversation.TicketResolved, 0)
	ids := func(q conversation.TicketQuery) string {
		t.Helper()
		got, err := s.Tickets(ctx, q)
		if err != nil {
			t.Fatalf("Tickets(%+v): %v", q, err)
		}
		var out []string
		for _, g := range got {
			// Other cases run in parallel on the same store: keep this case's.
			if strings.HasPrefix(g.ConversationKey, keyFor(t, "")) {
				out = append(out, g.Ticket.ID)
			}
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name string
		q    conversation.TicketQuery
		want string
	}{
		{"AllOpen", conversation.TicketQuery{Limit: 1000}, "IT-2,IT-3,IT-1"},
		{"Team", conversation.TicketQuery{Team: "network", Limit: 1000}, "IT-3"},
		{"Status", conversation.TicketQuery{Statuses: []string{conversation.TicketOpen}, Limit: 1000}, "IT-2,IT-1"},
		{"Resolved", conversation.TicketQuery{Statuses: []string{conversation.TicketResolved}, Limit: 1000}, ""},
	}
	for _, tc := range cases {
		if got := ids(tc.q); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// Resolving takes the ticket out of the queue.
	a.TicketState.Status = conversation.TicketResolved
	commit(t, s, conversation.Commit{Conversation: a})
	if got := ids(conversation.TicketQuery{Limit: 1000}); got != "IT-2,IT-3" {
		t.Errorf("after resolving IT-1: got %q, want IT-2,IT-3", got)
	}
	if _, err := s.Tickets(ctx, conversation.TicketQuery{}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("Tickets with limit 0: %v, want invalid", err)
	}
}
