package redisstore

import (
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Defaults for Config fields left zero.
const (
	DefaultPrefix       = "tier0"
	DefaultIdleTTL      = 30 * 24 * time.Hour
	DefaultDedupeTTL    = 7 * 24 * time.Hour
	DefaultEventsMaxLen = 1000
)

// Config tunes a Store. Zero values take the defaults above.
type Config struct {
	// Prefix starts every key the store writes, so several deployments can
	// share one Redis (default "tier0"). It must not contain '{', '}',
	// spaces or control characters.
	Prefix string
	// IdleTTL is how long a conversation's state, outbox, event stream and
	// fencing counter live after its last commit; every commit refreshes it
	// (default 30 days).
	IdleTTL time.Duration
	// DedupeTTL is how long a dedupe mark lives; a platform retry after that
	// is handled again (default 7 days).
	DedupeTTL time.Duration
	// EventsMaxLen caps each conversation's event log (default 1000): a
	// commit keeps the newest EventsMaxLen events and drops older ones.
	EventsMaxLen int64
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.IdleTTL == 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = DefaultDedupeTTL
	}
	if c.EventsMaxLen == 0 {
		c.EventsMaxLen = DefaultEventsMaxLen
	}
	return c
}

// Validate checks the configuration after defaults were applied. It
// returns an Invalid error naming the first problem.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Prefix) > 64 || strings.ContainsAny(c.Prefix, "{} ") || hasControl(c.Prefix):
		return conversation.Errorf(conversation.Invalid, "redis key prefix %q must be at most 64 bytes without '{', '}', spaces or control characters", c.Prefix)
	case c.IdleTTL < time.Second:
		return conversation.Errorf(conversation.Invalid, "redis idle TTL %s must be at least 1s", c.IdleTTL)
	case c.DedupeTTL < time.Second:
		return conversation.Errorf(conversation.Invalid, "redis dedupe TTL %s must be at least 1s", c.DedupeTTL)
	case c.EventsMaxLen < 1 || c.EventsMaxLen > 1_000_000:
		return conversation.Errorf(conversation.Invalid, "redis events max length %d must be within 1..1000000", c.EventsMaxLen)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
