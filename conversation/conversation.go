package conversation

import "time"

// Phase is where a conversation stands in the bot → consulting → handoff →
// agent → resolved machine.
type Phase string

// Phases.
const (
	PhaseBot           Phase = "bot"            // the bot answers from knowledge
	PhaseConsulting    Phase = "consulting"     // the bot asked a clarifying question and waits for the answer
	PhaseAwaitingAgent Phase = "awaiting_agent" // handed off; no human has claimed the ticket yet
	PhaseAgentActive   Phase = "agent_active"   // a human owns the thread; the bot is silent
	PhaseResolved      Phase = "resolved"       // closed; a new message starts over in PhaseBot
)

// Valid reports whether p is one of the phases above.
func (p Phase) Valid() bool {
	switch p {
	case PhaseBot, PhaseConsulting, PhaseAwaitingAgent, PhaseAgentActive, PhaseResolved:
		return true
	}
	return false
}

// HumanOwned reports whether a human is (or is about to be) responsible for
// the thread, so the bot must not answer.
func (p Phase) HumanOwned() bool { return p == PhaseAwaitingAgent || p == PhaseAgentActive }

// Role says who wrote a turn.
type Role string

// Roles.
const (
	RoleCustomer Role = "customer"
	RoleBot      Role = "bot"
	RoleAgent    Role = "agent"
	RoleSystem   Role = "system"
)

// Turn is one entry of a conversation's history.
type Turn struct {
	Role       Role         `json:"role"`
	Text       string       `json:"text"`
	At         time.Time    `json:"at"`
	MessageID  string       `json:"message_id,omitempty"` // dedupe key (inbound) or outbound id
	Kind       OutboundKind `json:"kind,omitempty"`
	Citations  []Citation   `json:"citations,omitempty"`
	Action     *Action      `json:"action,omitempty"`
	AuthorName string       `json:"author_name,omitempty"`
	// Sentiment is the customer turn's score (-1..1) when a scorer is
	// configured.
	Sentiment float64 `json:"sentiment,omitempty"`
	// Internal marks an agent's note: never shown to the customer.
	Internal bool `json:"internal,omitempty"`
}

// Conversation is the dialogue state of one thread, loaded and committed
// as a whole by the Store.
type Conversation struct {
	Key       string   `json:"key"`
	Channel   Channel  `json:"channel"`
	ThreadKey string   `json:"thread_key,omitempty"`
	User      Identity `json:"user"`
	Phase     Phase    `json:"phase"`
	// Language is the conversation's language, a lower-case ISO 639-1
	// code ("de", "en"), detected from the customer's messages with the
	// platform locale as prior and kept while messages are short or
	// ambiguous; "" until known (the deployment's default applies).
	Language string `json:"language,omitempty"`
	History  []Turn `json:"history,omitempty"`
	// Version increases by one with every commit; Store.Commit rejects a
	// conversation whose Version is not the stored one (ErrStaleVersion).
	// A conversation that was never stored has Version 0.
	Version int64 `json:"version"`
	// Ticket is the handoff ticket id while (or after) a human is involved;
	// TicketState its status, assignee and clocks.
	Ticket      string       `json:"ticket,omitempty"`
	TicketState *TicketState `json:"ticket_state,omitempty"`
	// Unanswered counts consecutive turns the bot could not answer.
	Unanswered int `json:"unanswered,omitempty"`
	// NotHelpful counts "not helpful" clicks since the last helpful answer.
	NotHelpful int `json:"not_helpful,omitempty"`
	// Consulting is the open consulting exchange (PhaseConsulting), nil
	// otherwise; Slots are the consulting answers given so far.
	Consulting *Consulting `json:"consulting,omitempty"`
	Slots      []Slot      `json:"slots,omitempty"`
	// PendingAction is the action being prepared (parameters asked,
	// confirmation awaited), nil otherwise; ActionLog the latest runs,
	// masked, for the handoff card.
	PendingAction *PendingAction `json:"pending_action,omitempty"`
	ActionLog     []ActionRun    `json:"action_log,omitempty"`
	Turns         int            `json:"turns"` // turns committed, all time (messages, agent actions, SLA sweeps)
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// NewConversation returns the state of a conversation that has not been
// stored yet, for the first message m.
func NewConversation(m *Message, now time.Time) *Conversation {
	return &Conversation{
		Key:       m.ConversationKey,
		Channel:   m.Channel,
		ThreadKey: m.ThreadKey,
		User:      m.User,
		Phase:     PhaseBot,
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// Append adds t to the history, keeping at most max turns (the oldest are
// dropped; max <= 0 keeps everything).
func (c *Conversation) Append(t Turn, max int) {
	c.History = append(c.History, t)
	if max > 0 && len(c.History) > max {
		c.History = append(c.History[:0:0], c.History[len(c.History)-max:]...)
	}
}

// LastCustomerText returns the text of the most recent customer turn.
func (c *Conversation) LastCustomerText() string {
	for i := len(c.History) - 1; i >= 0; i-- {
		if c.History[i].Role == RoleCustomer && c.History[i].Text != "" {
			return c.History[i].Text
		}
	}
	return ""
}

// EventType names a domain event.
type EventType string

// Domain events, appended in the same atomic step as the state change.
const (
	EventMessageReceived EventType = "message_received"
	EventAnswered        EventType = "answered"
	EventNotSure         EventType = "not_sure"
	EventHandoff         EventType = "handoff"
	EventFeedback        EventType = "feedback"
	EventRelayed         EventType = "relayed"
	EventPhaseChanged    EventType = "phase_changed"
	EventDeadLetter      EventType = "dead_letter"
	EventConsulting      EventType = "consulting"
	EventConsultAnswered EventType = "consult_answered"
	EventAgent           EventType = "agent"
	EventCSAT            EventType = "csat"
	EventSLABreached     EventType = "sla_breached"
)

// Event is a domain event: for analytics, audit and other replicas.
// Data holds small, non-personal attributes (scores, reasons, ids).
type Event struct {
	ID   string    `json:"id,omitempty"` // assigned by the store when empty
	Type EventType `json:"type"`
	// ConversationKey is left out of the stored event (each conversation
	// keeps its own events) and filled in by Store.Events.
	ConversationKey string            `json:"conversation_key,omitempty"`
	At              time.Time         `json:"at"`
	Data            map[string]string `json:"data,omitempty"`
}
