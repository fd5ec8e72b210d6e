package conversation

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AgentActionKind is what a human agent does on a ticket's conversation.
type AgentActionKind string

// Agent actions.
const (
	AgentClaim    AgentActionKind = "claim"     // take the ticket; the customer hears an agent joined
	AgentReply    AgentActionKind = "reply"     // send Text to the customer (claims first if needed)
	AgentNote     AgentActionKind = "note"      // internal note: recorded, never sent to the customer
	AgentResolve  AgentActionKind = "resolve"   // close the ticket; the customer gets the CSAT question
	AgentHandBack AgentActionKind = "hand_back" // give the thread back to the bot
	AgentPriority AgentActionKind = "priority"  // set the priority to Text (P1..P4)
	AgentEscalate AgentActionKind = "escalate"  // pass the ticket to the next support level
)

// Dedupe namespaces: customer messages and agent actions of one
// conversation are recorded under different prefixes, so no id of one can
// ever be mistaken for an id of the other.
const (
	customerDedupePrefix = "c:"
	agentDedupePrefix    = "a:"
)

// StoredDedupeKey is the key under which the store records that message
// m was handled (Store.Seen answers for it).
func StoredDedupeKey(m Message) string { return customerDedupePrefix + m.DedupeKey }

// ActionCSAT is the action id of the satisfaction buttons sent on
// resolve; its value is "1" (bad) … "5" (great).
const ActionCSAT = "csat"

// Ticket statuses.
const (
	TicketOpen       = "open"
	TicketInProgress = "in_progress"
	TicketResolved   = "resolved"
	TicketClosed     = "closed"
)

// AgentAction is one action of a human agent, from a staff channel (the
// web agent console, a Slack thread, a Teams channel).
type AgentAction struct {
	ConversationKey string
	// DedupeKey makes a retried action (a double click, a platform
	// retry) take effect once.
	DedupeKey string
	Agent     Identity
	Kind      AgentActionKind
	Text      string // the reply or the note
}

// Validate checks an action from outside. Errors: Invalid.
func (a *AgentAction) Validate() error {
	switch {
	case !validKey(a.ConversationKey):
		return Errorf(Invalid, "agent action: conversation key must be 1..%d printable characters", MaxKeyLen)
	case !validKey(a.DedupeKey) || len(a.DedupeKey) > MaxKeyLen-len(agentDedupePrefix):
		return Errorf(Invalid, "agent action: dedupe key must be 1..%d printable characters", MaxKeyLen-len(agentDedupePrefix))
	case a.Agent.ID == "":
		return Errorf(Invalid, "agent action: no agent")
	case !utf8.ValidString(a.Text) || utf8.RuneCountInString(a.Text) > MaxTextLen:
		return Errorf(Invalid, "agent action: text must be valid UTF-8 of at most %d characters", MaxTextLen)
	}
	switch a.Kind {
	case AgentReply, AgentNote:
		if strings.TrimSpace(a.Text) == "" {
			return Errorf(Invalid, "agent action %s: text is empty", a.Kind)
		}
	case AgentPriority:
		if len(a.Text) != 2 || a.Text[0] != 'P' || a.Text[1] < '1' || a.Text[1] > '4' {
			return Errorf(Invalid, "agent action priority: %q is not one of P1, P2, P3, P4", a.Text)
		}
	case AgentClaim, AgentResolve, AgentHandBack, AgentEscalate:
	default:
		return Errorf(Invalid, "agent action: unknown kind %q", a.Kind)
	}
	return nil
}

// Act applies an agent action to its conversation in one turn (same
// lease, dedupe and atomic commit as Handle). Errors: Invalid (bad action,
// or a conversation without a ticket), NotFound, Conflict (the ticket is
// not open for this action, or the lease was not obtained), Unavailable.
func (e *Engine) Act(ctx context.Context, a AgentAction) (Result, error) {
	if err := a.Validate(); err != nil {
		return Result{}, err
	}
	now := e.cfg.Now()
	// Agent actions have their own dedupe namespace, so a console's ids
	// never collide with the customer's message ids.
	dedupe := agentDedupePrefix + a.DedupeKey
	// The customer's coordinates come from the conversation, set in act.
	m := &Message{ConversationKey: a.ConversationKey, DedupeKey: dedupe}
	return e.run(ctx, a.ConversationKey, dedupe, m, now, nil, func(t *turn, ctx context.Context) error {
		return t.act(ctx, a)
	})
}

func (t *turn) act(ctx context.Context, a AgentAction) error {
	if err := t.apply(ctx, a); err != nil {
		return err
	}
	t.recordBreaches()
	return nil
}

func (t *turn) apply(ctx context.Context, a AgentAction) error {
	c, tx := t.conv, t.texts()
	// Replies go where the customer is.
	t.msg.Channel, t.msg.ThreadKey, t.msg.User = c.Channel, c.ThreadKey, c.User
	if c.Ticket == "" || c.TicketState == nil {
		return Errorf(Invalid, "conversation %s has no ticket", c.Key)
	}
	tk := c.TicketState
	name := a.Agent.DisplayName
	if name == "" {
		name = a.Agent.ID
	}
	owned := c.Phase.HumanOwned()
	claim := func() {
		if c.Phase == PhaseAgentActive && tk.Assignee == a.Agent.ID {
			return
		}
		tk.Assignee, tk.Status = a.Agent.ID, TicketInProgress
		if tk.ClaimedAt.IsZero() {
			tk.ClaimedAt = t.now
		}
		t.setPhase(PhaseAgentActive)
		t.event(EventAgent, "action", "claim", "ticket", c.Ticket)
		t.reply(KindNotice, strings.ReplaceAll(tx.AgentJoined, "{agent}", name), nil, nil)
	}
	switch a.Kind {
	case AgentClaim:
		if !owned {
			return Errorf(Conflict, "ticket %s is not waiting for an agent (phase %s)", c.Ticket, c.Phase)
		}
		claim()
	case AgentReply:
		if !owned {
			return Errorf(Conflict, "ticket %s is not open: the bot has the conversation (phase %s)", c.Ticket, c.Phase)
		}
		claim()
		if tk.FirstResponseAt.IsZero() {
			tk.FirstResponseAt = t.now
			// The ticket's first human reply: how long the customer waited.
			t.event(EventAgent, withSeconds([]string{"action", "reply", "ticket", c.Ticket}, "first_reply_s", tk.OpenedAt, t.now)...)
		} else {
			t.event(EventAgent, "action", "reply", "ticket", c.Ticket)
		}
		t.send(RoleAgent, name, KindAgent, a.Text, nil, nil)
	case AgentNote:
		c.Append(Turn{Role: RoleAgent, Text: a.Text, At: t.now, MessageID: a.DedupeKey, Kind: KindNote, AuthorName: name, Internal: true}, t.e.cfg.MaxHistory)
		t.event(EventAgent, "action", "note", "ticket", c.Ticket)
	case AgentResolve:
		if !owned {
			return Errorf(Conflict, "ticket %s is not open (phase %s)", c.Ticket, c.Phase)
		}
		tk.Status, tk.ResolvedAt = TicketResolved, t.now
		if tk.Assignee == "" {
			tk.Assignee = a.Agent.ID
		}
		t.setPhase(PhaseResolved)
		t.event(EventAgent, withSeconds([]string{"action", "resolve", "ticket", c.Ticket}, "resolution_s", tk.OpenedAt, t.now)...)
		buttons := make([]Button, 5)
		for i := range buttons {
			v := strconv.Itoa(i + 1)
			buttons[i] = Button{Action: Action{ID: ActionCSAT, Value: v}, Label: v}
		}
		t.reply(KindNotice, strings.ReplaceAll(tx.Resolved, "{ticket}", c.Ticket), nil, buttons)
	case AgentPriority:
		if !owned {
			return Errorf(Conflict, "ticket %s is not open (phase %s)", c.Ticket, c.Phase)
		}
		t.event(EventAgent, "action", "priority", "ticket", c.Ticket, "from", tk.Priority, "to", a.Text)
		tk.Priority = a.Text
	case AgentEscalate:
		if !owned {
			return Errorf(Conflict, "ticket %s is not open (phase %s)", c.Ticket, c.Phase)
		}
		if t.e.handoff == nil {
			return Errorf(Invalid, "no handoff desk to escalate ticket %s", c.Ticket)
		}
		next, err := t.e.handoff.Escalate(ctx, tk.Ticket)
		if err != nil {
			return fmt.Errorf("escalate ticket %s: %w", c.Ticket, err)
		}
		if next.Team == "" || next.Team == tk.Team {
			return Errorf(Conflict, "ticket %s: team %q has no next support level", c.Ticket, tk.Team)
		}
		t.event(EventAgent, "action", "escalate", "ticket", c.Ticket, "from", tk.Team, "to", next.Team)
		tk.Team, tk.Assignee, tk.Status = next.Team, "", TicketOpen
		t.setPhase(PhaseAwaitingAgent)
		t.reply(KindNotice, strings.NewReplacer("{ticket}", c.Ticket, "{team}", next.Team).Replace(tx.Escalated), nil, nil)
	case AgentHandBack:
		if !owned {
			return Errorf(Conflict, "ticket %s is not open (phase %s)", c.Ticket, c.Phase)
		}
		tk.Status = TicketClosed
		if tk.ResolvedAt.IsZero() {
			tk.ResolvedAt = t.now
		}
		t.setPhase(PhaseBot)
		c.Consulting = nil
		t.event(EventAgent, "action", "hand_back", "ticket", c.Ticket)
		t.reply(KindNotice, tx.HandedBack, nil, nil)
	}
	return nil
}

// TicketState is the ticket of a conversation that was handed off, kept
// with the conversation so ticket changes commit atomically with it.
type TicketState struct {
	Ticket
	Reason          string    `json:"reason,omitempty"`
	OpenedAt        time.Time `json:"opened_at"`
	ClaimedAt       time.Time `json:"claimed_at,omitzero"`
	FirstResponseAt time.Time `json:"first_response_at,omitzero"`
	ResolvedAt      time.Time `json:"resolved_at,omitzero"`
	// Breached lists the SLA clocks already recorded as breached.
	Breached []string `json:"breached,omitempty"`
}

// SLA clocks a ticket can breach.
const (
	SLAFirstResponse = "first_response"
	SLAResolution    = "resolution"
)

// Breaches returns the SLA clocks the ticket has run past at now: a first
// response that came (or has not come) after its due time, a resolution
// likewise.
func (ts *TicketState) Breaches(now time.Time) []string {
	late := func(due, done time.Time) bool {
		if due.IsZero() {
			return false
		}
		if done.IsZero() {
			return now.After(due)
		}
		return done.After(due)
	}
	var out []string
	if late(ts.FirstResponseDue, ts.FirstResponseAt) {
		out = append(out, SLAFirstResponse)
	}
	if late(ts.ResolveDue, ts.ResolvedAt) {
		out = append(out, SLAResolution)
	}
	return out
}

// recordBreaches records an sla_breached event, once, for each clock the
// ticket has run past.
func (t *turn) recordBreaches() {
	ts := t.conv.TicketState
	for _, b := range ts.Breaches(t.now) {
		if !slices.Contains(ts.Breached, b) {
			ts.Breached = append(ts.Breached, b)
			t.event(EventSLABreached, "clock", b, "ticket", t.conv.Ticket, "priority", ts.Priority)
		}
	}
}

// withSeconds appends name and the whole seconds from start to now to
// the event attributes kv, unless start is unknown or later than now:
// the durations (first reply, resolution) carried by agent events.
func withSeconds(kv []string, name string, start, now time.Time) []string {
	if start.IsZero() || now.Before(start) {
		return kv
	}
	return append(kv, name, strconv.FormatInt(int64(now.Sub(start)/time.Second), 10))
}
