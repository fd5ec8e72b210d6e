package boltstore

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Bounds on what the store accepts; larger input is rejected as Invalid.
const (
	// MaxKeyLen bounds conversation keys, lease keys, dedupe keys,
	// outbound ids and sequence names, in bytes.
	MaxKeyLen = 1024
	// MaxStateBytes bounds one conversation's encoded state.
	MaxStateBytes = 8 << 20
	// MaxItemBytes bounds one encoded event or outbound message.
	MaxItemBytes = 1 << 20
	// MaxItemsPerCommit bounds the events, and separately the outbound
	// messages, of one commit.
	MaxItemsPerCommit = 1000
	// MaxLimit bounds the limit argument of Pending, Events and Backlog
	// (Redis scripts unpack up to this many values; Lua allows about 8000).
	MaxLimit = 1000
	// MaxLeaseTTL bounds the ttl argument of Acquire.
	MaxLeaseTTL = 24 * time.Hour
)

func checkKey(what, key string) error {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) {
		return conversation.Errorf(conversation.Invalid, "%s must be 1..%d bytes of valid UTF-8", what, MaxKeyLen)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond || ttl > MaxLeaseTTL {
		return conversation.Errorf(conversation.Invalid, "lease ttl %s must be within 1ms..%s", ttl, MaxLeaseTTL)
	}
	return nil
}

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return conversation.Errorf(conversation.Invalid, "limit %d must be within 1..%d", limit, MaxLimit)
	}
	return nil
}

// checkRead checks the arguments of Pending and Events.
func checkRead(key string, limit int) error {
	if err := checkKey("conversation key", key); err != nil {
		return err
	}
	return checkLimit(limit)
}

// validate checks a commit against its lease and the store's bounds.
// Errors: Invalid.
func validate(l conversation.Lease, c conversation.Commit) error {
	conv := c.Conversation
	switch {
	case conv == nil:
		return conversation.Errorf(conversation.Invalid, "commit has no conversation")
	case l.Key != conv.Key:
		return conversation.Errorf(conversation.Invalid, "lease for %q cannot commit conversation %q", l.Key, conv.Key)
	case conv.Version < 0:
		return conversation.Errorf(conversation.Invalid, "conversation %q has negative version %d", conv.Key, conv.Version)
	case len(c.Events) > MaxItemsPerCommit || len(c.Outbound) > MaxItemsPerCommit:
		return conversation.Errorf(conversation.Invalid, "commit of %q has more than %d events or outbound messages", conv.Key, MaxItemsPerCommit)
	}
	if err := checkKey("conversation key", conv.Key); err != nil {
		return err
	}
	if c.DedupeKey != "" {
		if err := checkKey("dedupe key", c.DedupeKey); err != nil {
			return err
		}
	}
	for _, e := range c.Events {
		if e.ConversationKey != "" && e.ConversationKey != conv.Key {
			return conversation.Errorf(conversation.Invalid, "event for %q in a commit of %q", e.ConversationKey, conv.Key)
		}
	}
	ids := make(map[string]bool, len(c.Outbound))
	for _, o := range c.Outbound {
		if err := checkKey("outbound id", o.ID); err != nil {
			return err
		}
		if ids[o.ID] {
			return conversation.Errorf(conversation.Invalid, "outbound id %q appears twice in one commit", o.ID)
		}
		ids[o.ID] = true
		if o.ConversationKey != "" && o.ConversationKey != conv.Key {
			return conversation.Errorf(conversation.Invalid, "outbound message for %q in a commit of %q", o.ConversationKey, conv.Key)
		}
	}
	return nil
}

// prepared is a validated commit, encoded for the commit script.
type prepared struct {
	state    string
	events   []string
	outbound []string
}

// prepare validates c against l and encodes it: the conversation with its
// new version; events and outbound messages with c's key filled in.
// Errors: Invalid.
func prepare(l conversation.Lease, c conversation.Commit) (prepared, error) {
	var p prepared
	if err := validate(l, c); err != nil {
		return p, err
	}
	key := c.Conversation.Key
	next := *c.Conversation
	next.Version++
	var err error
	if p.state, err = encode("conversation", &next, MaxStateBytes); err != nil {
		return p, err
	}
	for _, e := range c.Events {
		e.ConversationKey = key
		raw, err := encode("event", &e, MaxItemBytes)
		if err != nil {
			return p, err
		}
		p.events = append(p.events, raw)
	}
	for _, o := range c.Outbound {
		o.ConversationKey = key
		raw, err := encode("outbound message", &o, MaxItemBytes)
		if err != nil {
			return p, err
		}
		p.outbound = append(p.outbound, raw)
	}
	return p, nil
}

func encode(what string, v any, max int) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", conversation.Errorf(conversation.Invalid, "encode %s: %w", what, err)
	}
	if len(b) > max {
		return "", conversation.Errorf(conversation.Invalid, "encoded %s is %d bytes, more than %d", what, len(b), max)
	}
	return string(b), nil
}
