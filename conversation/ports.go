package conversation

import (
	"context"
	"time"
)

// Lease is the right to change one conversation until Expires. Token is a
// fencing token: it grows with every Acquire of the same key, and a store
// rejects a Commit whose lease is no longer the current one.
type Lease struct {
	Key     string    `json:"key"`
	Token   uint64    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Locker hands out per-key leases (conversation turns, outbox delivery).
// Leases work across goroutines and, for shared stores, across replicas.
type Locker interface {
	// Acquire takes the lease on key for ttl. It returns ErrLeaseHeld
	// (Conflict) when another holder has it, Unavailable when the store is down.
	Acquire(ctx context.Context, key string, ttl time.Duration) (Lease, error)
	// Release gives the lease up early. Releasing a lease that expired or was
	// taken over is not an error (nothing happens).
	Release(ctx context.Context, l Lease) error
}

// Dedup answers whether a message was handled before.
type Dedup interface {
	// Seen reports whether dedupeKey was committed for conversation key.
	Seen(ctx context.Context, key, dedupeKey string) (bool, error)
}

// Commit is everything one turn writes, applied atomically by Store.Commit.
type Commit struct {
	// Conversation is the new state. Its Version must equal the stored
	// version (0 for a new conversation); the store saves Version+1 and
	// updates the caller's value on success.
	Conversation *Conversation
	// DedupeKey is marked as seen; if it was seen already the commit is
	// rejected with ErrDuplicate. Empty for commits not caused by a message.
	DedupeKey string
	Events    []Event
	Outbound  []Outbound
}

// Outbox holds outbound messages between commit and delivery.
type Outbox interface {
	// Pending returns up to limit undelivered messages of one conversation,
	// oldest first.
	Pending(ctx context.Context, key string, limit int) ([]Outbound, error)
	// Ack removes a delivered (or dead-lettered) message. Acking an unknown
	// id is not an error.
	Ack(ctx context.Context, key, id string) error
	// Backlog returns up to limit conversation keys that may have pending
	// outbound messages and were last committed before olderThan, so a
	// dispatcher can pick up what a crashed replica left behind.
	Backlog(ctx context.Context, olderThan time.Time, limit int) ([]string, error)
	// Settle removes key from the backlog when it has no pending messages
	// and nothing was committed to it since it was read; a concurrent
	// commit keeps it in the backlog.
	Settle(ctx context.Context, key string) error
}

// Store persists conversations, leases, dedupe marks, events and the
// outbox. Implementations: conversation/redisstore, conversation/boltstore.
// Every implementation must pass conversation/storetest.
type Store interface {
	Locker
	Dedup
	Outbox
	TicketQueue
	// Load returns the stored conversation or ErrNotFound.
	Load(ctx context.Context, key string) (*Conversation, error)
	// Commit applies c atomically under lease l and, on success, releases l.
	// Errors: ErrLeaseLost when l is not the current lease of
	// c.Conversation.Key, ErrStaleVersion, ErrDuplicate, Invalid for a
	// malformed commit, Unavailable. On error nothing was written and the
	// lease is still held (if it was).
	Commit(ctx context.Context, l Lease, c Commit) error
	// Events returns up to limit of the newest events of one conversation,
	// oldest first.
	Events(ctx context.Context, key string, limit int) ([]Event, error)
	// NextSequence returns the next value (1, 2, …) of a named counter, for
	// human-friendly ids such as ticket numbers.
	NextSequence(ctx context.Context, name string) (uint64, error)
	// Ping reports whether the store is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Query is what the engine asks knowledge.
type Query struct {
	Text    string
	Channel Channel
	Locale  string
	// Language is the conversation's language (ISO 639-1, e.g. "de"):
	// the answer should be in it. "" when not known.
	Language string
	// History is the conversation so far (read-only), for follow-up questions.
	History []Turn
}

// Answer is what knowledge found for a Query.
type Answer struct {
	Text      string
	Citations []Citation
	// Score is the answerability score in [0,1]; Confident is Score measured
	// against the knowledge base's calibrated threshold.
	Score     float64
	Confident bool
	// Alternatives are set when retrieval is ambiguous: the competing
	// topics, best first. The engine then asks which one is meant.
	Alternatives []Alternative
}

// Alternative is one candidate topic of an ambiguous question.
type Alternative struct {
	Label string `json:"label"` // what the customer is shown, e.g. a title
	Query string `json:"query"` // what is added to the question when chosen
}

// Knowledge answers questions from the organisation's documents.
// Implementation: package knowledge.
type Knowledge interface {
	// Answer returns the best answer for q. A query with nothing relevant
	// returns an Answer with Confident == false, not an error. Errors:
	// Unavailable (index not loaded, provider down), Invalid.
	Answer(ctx context.Context, q Query) (Answer, error)
}

// Ticket is the handoff record a human agent works on.
type Ticket struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Priority string `json:"priority"`
	Team     string `json:"team"`
	Assignee string `json:"assignee,omitempty"`
	// FirstResponseDue and ResolveDue are the SLA clocks set by the desk
	// from the priority; zero when no SLA applies.
	FirstResponseDue time.Time `json:"first_response_due,omitzero"`
	ResolveDue       time.Time `json:"resolve_due,omitzero"`
}

// HandoffRequest is what the engine passes when a thread goes to a human.
type HandoffRequest struct {
	Conversation *Conversation // read-only
	Reason       string        // e.g. "customer_request", "not_sure", "not_helpful"
}

// Handoff opens tickets and tells the staff channel. It must not deliver
// anything itself: what it wants posted is returned as Outbound messages,
// which the engine commits atomically with the state.
// Implementation: package handoff.
type Handoff interface {
	// Open creates a ticket for the request and returns the messages to post
	// into the staff channel. Errors: Unavailable.
	Open(ctx context.Context, r HandoffRequest) (Ticket, []Outbound, error)
	// Relay returns the staff-channel messages that forward a customer
	// message of a human-owned conversation.
	Relay(ctx context.Context, c *Conversation, m *Message) ([]Outbound, error)
	// Escalate returns the ticket passed to the next support level (its
	// Team changed), or the ticket unchanged when there is none. Errors:
	// Unavailable.
	Escalate(ctx context.Context, t Ticket) (Ticket, error)
}

// Sender delivers outbound messages to one channel.
type Sender interface {
	// Send delivers o. Implementations must treat o.ID as an idempotency
	// key where the platform allows. Errors: Unavailable (retried with
	// backoff), anything else is permanent and the message is dead-lettered.
	Send(ctx context.Context, o Outbound) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, o Outbound) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, o Outbound) error { return f(ctx, o) }

// TurnStarter is an optional Store capability: the start of a turn (dedupe
// check, lease, load) in one step, which a networked store does in one
// round trip. The Engine uses it when the store has it.
type TurnStarter interface {
	// BeginTurn returns ErrDuplicate (and takes no lease) when dedupeKey
	// was committed for key, ErrLeaseHeld when another holder has the
	// lease; otherwise the new lease and the stored conversation, nil when
	// none is stored. Errors otherwise as Acquire and Load.
	BeginTurn(ctx context.Context, key, dedupeKey string, ttl time.Duration) (Lease, *Conversation, error)
}

// OutboxClaim is a batch of a conversation's pending outbound messages,
// taken for delivery under a delivery lease.
type OutboxClaim struct {
	Key      string
	Lease    Lease
	Messages []Outbound // oldest first
	// More is true when the limit cut the batch.
	More bool
	// Mark and Busy are the store's: what it needs to decide, when the
	// claim is finished, whether the conversation can leave the backlog.
	Mark string
	Busy bool
}

// OutboxClaimer is an optional Store capability: delivery in two steps
// (claim, finish) instead of a lease, a read, an ack per message, a
// settle and a release. The Dispatcher uses it when the store has it.
type OutboxClaimer interface {
	// ClaimOutbox takes key's delivery lease for ttl and returns up to
	// limit pending messages. ErrLeaseHeld when another dispatcher has it.
	ClaimOutbox(ctx context.Context, key string, ttl time.Duration, limit int) (OutboxClaim, error)
	// FinishOutbox removes the delivered ids from the outbox, releases the
	// claim and, when every claimed message was delivered, nothing more is
	// pending and nothing was committed since the claim, removes key from
	// the backlog. Errors: Unavailable.
	FinishOutbox(ctx context.Context, c OutboxClaim, delivered []string) error
}

// CommitClaimer is an optional Store capability: Commit that also hands
// the committer the delivery claim of the messages it wrote, when the
// outbox held nothing older and no dispatcher was delivering, so the
// committing replica delivers at once without a separate claim.
type CommitClaimer interface {
	// CommitClaim is Commit (same checks, effects and errors) that, when c
	// has outbound messages and the conditions above hold, also takes the
	// delivery lease for ttl and returns the claim with ok == true. FinishOutbox
	// ends such a claim like one from ClaimOutbox.
	CommitClaim(ctx context.Context, l Lease, c Commit, ttl time.Duration) (claim OutboxClaim, ok bool, err error)
}

// SentimentScorer rates how a customer feels in one message. The engine
// uses it to hand frustrated customers to a person early; the handoff card
// shows the trend. Implementations must be safe for concurrent use,
// deterministic, and must never panic, whatever the text. Built-in:
// handoff.LexiconScorer (English and German).
type SentimentScorer interface {
	Score(text string) Sentiment
}

// Sentiment is the verdict on one message.
type Sentiment struct {
	// Score runs from -1 (very negative) through 0 (neutral) to +1.
	Score float64
	// Frustrated asks for a person now (very negative, or a frustration
	// phrase such as "third time", "schon wieder").
	Frustrated bool
	// Signals name what moved the score, for logs and the handoff card.
	Signals []string
}

// EventSink receives the domain events of each committed turn, after the
// commit: for metrics and live analytics. Record must be fast and must
// not block (the turn's caller waits for it); the durable record of the
// events is the store's (Store.Events).
type EventSink interface {
	Record(events []Event)
}

// Refs is an optional Store capability: a small durable map of platform
// references that adapters need across restarts and replicas — which
// staff thread belongs to which conversation (and back), a Teams
// conversation reference for proactive replies, a Telegram update offset.
// Values are short strings (at most MaxRefValueLen bytes); namespace and
// key follow the store's key limits.
type Refs interface {
	// PutRef stores value under (namespace, key), replacing what was
	// there, for ttl (0 means DefaultRefTTL). Errors: Invalid, Unavailable.
	PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error
	// GetRef returns the value under (namespace, key). Errors: ErrNotFound
	// (never stored, or expired), Invalid, Unavailable.
	GetRef(ctx context.Context, namespace, key string) (string, error)
}

// Limits of Refs values and their default lifetime.
const (
	MaxRefValueLen = 16 << 10
	DefaultRefTTL  = 90 * 24 * time.Hour
	MaxRefTTL      = 400 * 24 * time.Hour
)

// LeaseRenewer is an optional Locker capability: extending a held lease,
// for long-lived leases such as the leader lease of a single-connection
// channel (Telegram long polling, the WhatsApp socket).
type LeaseRenewer interface {
	// Renew extends l to ttl from now and returns the extended lease (same
	// token). Errors: ErrLeaseLost when l expired or another holder has
	// the key, Invalid, Unavailable.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
}

// QueueVersioner is an optional TicketQueue capability: a cheap answer
// to "did the ticket queue change?", so a watcher (the agent console's
// live stream on every replica) reads the whole queue only when it did.
type QueueVersioner interface {
	// QueueVersion returns the queue's version, a counter that grows with
	// every commit that changes the queue: a ticket enters it (opened,
	// reopened, escalated back to open), its entry changes (status,
	// priority, team, assignee, or any other commit to a conversation
	// whose ticket is queued, which moves the entry's UpdatedAt), or it
	// leaves (resolved, closed, removed). Once such a Commit has
	// returned, every reading differs from the readings taken before it
	// started. A commit to a conversation whose ticket is in the queue
	// neither before nor after it (a bot turn without a ticket, a turn
	// after the ticket was resolved) leaves the version alone; a commit
	// that failed may still move it. On a store that is not one atomic
	// unit (Redis Cluster) a reading taken while a commit is under way
	// may show the new version a moment before the queue shows the
	// commit, so a watcher that saw the version move should look at the
	// queue once more a little later. Entries of conversations that
	// expired idle may leave the queue before the version moves; a store
	// that lost its data may count from zero again, so compare readings
	// for equality only. Errors: Unavailable.
	QueueVersion(ctx context.Context) (uint64, error)
}

// OutboxClaimRenewer is an optional capability of an OutboxClaimer:
// extending a delivery claim while its batch is being sent. With it the
// Dispatcher keeps claims short, so the conversations a crashed replica
// was delivering are picked up by another one soon, and renews them so a
// slow send does not outlive its claim.
type OutboxClaimRenewer interface {
	// RenewOutboxClaim extends c's delivery lease to ttl from now and
	// returns c with the new expiry (same token). Errors: ErrLeaseLost
	// when the claim expired or was finished or taken over, Invalid,
	// Unavailable.
	RenewOutboxClaim(ctx context.Context, c OutboxClaim, ttl time.Duration) (OutboxClaim, error)
}
