package conversation

import (
	"time"
	"unicode/utf8"
)

// Bounds every Store implementation enforces on its arguments, so that all
// stores accept and reject the same input; larger input is rejected as
// Invalid. The helpers below check them.
const (
	// MaxStoreKeyLen bounds conversation keys, lease keys, dedupe keys,
	// outbound ids and sequence names passed to a Store, in bytes. It is
	// larger than MaxKeyLen so derived keys (such as the Dispatcher's
	// "deliver/<key>" lease) fit.
	MaxStoreKeyLen = 1024
	// MaxStateBytes bounds one conversation's encoded state.
	MaxStateBytes = 8 << 20
	// MaxItemBytes bounds one encoded event or outbound message.
	MaxItemBytes = 1 << 20
	// MaxItemsPerCommit bounds the events, and separately the outbound
	// messages, of one commit.
	MaxItemsPerCommit = 1000
	// MaxReadLimit bounds the limit argument of Pending, Events, Backlog
	// and OutboxClaimer.ClaimOutbox (Redis scripts unpack up to this many
	// values; Lua allows about 8000).
	MaxReadLimit = 1000
	// MaxLeaseTTL bounds the ttl argument of Acquire,
	// TurnStarter.BeginTurn and OutboxClaimer.ClaimOutbox.
	MaxLeaseTTL = 24 * time.Hour
)

// CheckKey checks a key a Store is given (what names it in the error,
// e.g. "conversation key"): 1..MaxStoreKeyLen bytes of valid UTF-8.
// Errors: Invalid.
func CheckKey(what, key string) error {
	if key == "" || len(key) > MaxStoreKeyLen || !utf8.ValidString(key) {
		return Errorf(Invalid, "%s must be 1..%d bytes of valid UTF-8", what, MaxStoreKeyLen)
	}
	return nil
}

// CheckTTL checks a lease ttl: within 1ms..MaxLeaseTTL. Errors: Invalid.
func CheckTTL(ttl time.Duration) error {
	if ttl < time.Millisecond || ttl > MaxLeaseTTL {
		return Errorf(Invalid, "lease ttl %s must be within 1ms..%s", ttl, MaxLeaseTTL)
	}
	return nil
}

// CheckLimit checks the limit of a Store read: within 1..MaxReadLimit.
// Errors: Invalid.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxReadLimit {
		return Errorf(Invalid, "limit %d must be within 1..%d", limit, MaxReadLimit)
	}
	return nil
}

// CheckRead checks the arguments of a read of one conversation (Pending,
// Events, ClaimOutbox): CheckKey on the conversation key, then
// CheckLimit. Errors: Invalid.
func CheckRead(key string, limit int) error {
	if err := CheckKey("conversation key", key); err != nil {
		return err
	}
	return CheckLimit(limit)
}

// Validate checks c against the lease l it is committed under and the
// bounds above: a conversation with l's key and a non-negative version,
// at most MaxItemsPerCommit events and outbound messages, valid keys,
// distinct outbound ids, and no event or outbound message that names
// another conversation. Stores call it (through Encode) before writing.
// Errors: Invalid.
func (c Commit) Validate(l Lease) error {
	conv := c.Conversation
	switch {
	case conv == nil:
		return Errorf(Invalid, "commit has no conversation")
	case l.Key != conv.Key:
		return Errorf(Invalid, "lease for %q cannot commit conversation %q", l.Key, conv.Key)
	case conv.Version < 0:
		return Errorf(Invalid, "conversation %q has negative version %d", conv.Key, conv.Version)
	case len(c.Events) > MaxItemsPerCommit || len(c.Outbound) > MaxItemsPerCommit:
		return Errorf(Invalid, "commit of %q has more than %d events or outbound messages", conv.Key, MaxItemsPerCommit)
	}
	if err := CheckKey("conversation key", conv.Key); err != nil {
		return err
	}
	if c.DedupeKey != "" {
		if err := CheckKey("dedupe key", c.DedupeKey); err != nil {
			return err
		}
	}
	for _, e := range c.Events {
		if e.ConversationKey != "" && e.ConversationKey != conv.Key {
			return Errorf(Invalid, "event for %q in a commit of %q", e.ConversationKey, conv.Key)
		}
	}
	ids := make(map[string]bool, len(c.Outbound))
	for _, o := range c.Outbound {
		if err := CheckKey("outbound id", o.ID); err != nil {
			return err
		}
		if ids[o.ID] {
			return Errorf(Invalid, "outbound id %q appears twice in one commit", o.ID)
		}
		ids[o.ID] = true
		if o.ConversationKey != "" && o.ConversationKey != conv.Key {
			return Errorf(Invalid, "outbound message for %q in a commit of %q", o.ConversationKey, conv.Key)
		}
	}
	return nil
}

// EncodedCommit is a validated Commit in the JSON form the stores keep:
// what a store writes, in one atomic step, for one turn.
type EncodedCommit struct {
	// State is the conversation at its next version (Version+1).
	State string
	// Events and Outbound are in the commit's order, each with the
	// commit's conversation key filled in.
	Events   []string
	Outbound []string
}

// Encode validates c against l (see Validate) and encodes it for a store:
// the conversation with its version incremented, events and outbound
// messages with c's key filled in. The state is bounded by MaxStateBytes,
// each event and outbound message by MaxItemBytes. c itself is not
// changed. Errors: Invalid.
func (c Commit) Encode(l Lease) (EncodedCommit, error) {
	var p EncodedCommit
	if err := c.Validate(l); err != nil {
		return p, err
	}
	key := c.Conversation.Key
	next := *c.Conversation
	next.Version++
	var err error
	if p.State, err = encodeBounded("conversation", &next, MaxStateBytes); err != nil {
		return p, err
	}
	// An event is stored under its conversation, without the key (Events
	// fills it in): a few dozen bytes less per event.
	if p.Events, err = encodeItems("event", c.Events, func(e *Event) { e.ConversationKey = "" }); err != nil {
		return p, err
	}
	if p.Outbound, err = encodeItems("outbound message", c.Outbound, func(o *Outbound) { o.ConversationKey = key }); err != nil {
		return p, err
	}
	return p, nil
}

// encodeItems encodes each of items, after fill on a copy, bounded by
// MaxItemBytes. Errors: Invalid.
func encodeItems[T any](what string, items []T, fill func(*T)) ([]string, error) {
	out := make([]string, 0, len(items))
	for _, it := range items {
		fill(&it)
		raw, err := encodeBounded(what, &it, MaxItemBytes)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// encodeBounded returns v as JSON, rejecting it as Invalid when it cannot
// be encoded or is longer than max bytes.
func encodeBounded(what string, v any, max int) (string, error) {
	b, err := MarshalRecord(v)
	if err != nil {
		return "", Errorf(Invalid, "encode %s: %w", what, err)
	}
	if len(b) > max {
		return "", Errorf(Invalid, "encoded %s is %d bytes, more than %d", what, len(b), max)
	}
	return string(b), nil
}

// CheckRef checks the arguments of Refs.PutRef and returns the ttl to
// apply (DefaultRefTTL for 0). Errors: Invalid.
func CheckRef(namespace, key, value string, ttl time.Duration) (time.Duration, error) {
	if err := CheckKey("ref namespace", namespace); err != nil {
		return 0, err
	}
	if err := CheckKey("ref key", key); err != nil {
		return 0, err
	}
	if len(value) > MaxRefValueLen || !utf8.ValidString(value) {
		return 0, Errorf(Invalid, "ref value must be at most %d bytes of valid UTF-8", MaxRefValueLen)
	}
	switch {
	case ttl == 0:
		ttl = DefaultRefTTL
	case ttl < time.Millisecond || ttl > MaxRefTTL:
		return 0, Errorf(Invalid, "ref ttl %s must be within 1ms..%s", ttl, MaxRefTTL)
	}
	return ttl, nil
}
