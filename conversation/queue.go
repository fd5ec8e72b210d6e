package conversation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TicketSummary is one entry of the ticket queue: a handed-off
// conversation's ticket and who it is for.
type TicketSummary struct {
	ConversationKey string      `json:"conversation_key"`
	Channel         Channel     `json:"channel"`
	User            Identity    `json:"user"`
	Language        string      `json:"language,omitempty"` // the conversation's language (ISO 639-1)
	Ticket          TicketState `json:"ticket"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// TicketQuery selects queue entries.
type TicketQuery struct {
	Team     string   // "" for every team
	Statuses []string // default: open and in_progress
	Limit    int      // 1..MaxReadLimit
}

// TicketQueue lists the tickets agents work on. Stores keep the queue
// from the TicketState of every committed conversation: a ticket appears
// when it opens and leaves when it is resolved or closed.
type TicketQueue interface {
	// Tickets returns up to q.Limit tickets, most urgent first (P1 before
	// P4), then oldest first. Errors: Invalid, Unavailable.
	Tickets(ctx context.Context, q TicketQuery) ([]TicketSummary, error)
}

// Queued reports whether a ticket in this state belongs in the queue.
func (ts *TicketState) Queued() bool {
	return ts != nil && (ts.Status == TicketOpen || ts.Status == TicketInProgress || ts.Status == "")
}

// Matches reports whether a summary is selected by q (statuses and team).
func (q TicketQuery) Matches(s TicketSummary) bool {
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{TicketOpen, TicketInProgress}
	}
	status := s.Ticket.Status
	if status == "" {
		status = TicketOpen
	}
	return slices.Contains(statuses, status) && (q.Team == "" || q.Team == s.Ticket.Team)
}

// Validate checks a query. Errors: Invalid.
func (q TicketQuery) Validate() error {
	if err := CheckLimit(q.Limit); err != nil {
		return fmt.Errorf("ticket query: %w", err)
	}
	return nil
}

// QueueRank orders queue entries: priority first (P1 = 1 … P4 = 4,
// anything else 5), then the opening time. Lower ranks come first.
func QueueRank(ts TicketState) float64 {
	p := 5
	if len(ts.Priority) == 2 && ts.Priority[0] == 'P' && ts.Priority[1] >= '1' && ts.Priority[1] <= '4' {
		p = int(ts.Priority[1] - '0')
	}
	// Milliseconds since 2020 stay below 1e12 until 2051, well inside a
	// float64's exact integers with the priority digit on top.
	ms := max(ts.OpenedAt.UnixMilli()-1577836800000, 0)
	return float64(p)*1e12 + float64(ms)
}

// SummaryOf is the queue entry of a conversation with a ticket.
func SummaryOf(c *Conversation) TicketSummary {
	s := TicketSummary{ConversationKey: c.Key, Channel: c.Channel, User: c.User, Language: c.Language, UpdatedAt: c.UpdatedAt}
	if c.TicketState != nil {
		s.Ticket = *c.TicketState
	}
	return s
}

// SortQueue orders summaries by QueueRank, then conversation key.
func SortQueue(ts []TicketSummary) {
	slices.SortStableFunc(ts, func(a, b TicketSummary) int {
		ra, rb := QueueRank(a.Ticket), QueueRank(b.Ticket)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return strings.Compare(a.ConversationKey, b.ConversationKey)
	})
}
