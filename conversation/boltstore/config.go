package boltstore

import (
	"log/slog"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Defaults for Config fields left zero.
const (
	DefaultIdleTTL       = 30 * 24 * time.Hour
	DefaultDedupeTTL     = 7 * 24 * time.Hour
	DefaultEventsMax     = 1000
	DefaultSweepInterval = 10 * time.Minute
	DefaultLockTimeout   = 500 * time.Millisecond
)

// Config tunes a Store. Zero values take the defaults above.
type Config struct {
	// IdleTTL is how long a conversation (state, outbox, events) lives
	// after its last commit (default 30 days). An idle conversation reads
	// as absent at once and is deleted by the next sweep.
	IdleTTL time.Duration
	// DedupeTTL is how long a dedupe mark lives (default 7 days).
	DedupeTTL time.Duration
	// EventsMax caps each conversation's events; older ones are dropped
	// on commit (default 1000).
	EventsMax int
	// NoSync skips fsync after each commit: faster, but a machine crash
	// may lose the last commits. For tests and throwaway data only.
	NoSync bool
	// SweepInterval is how often the background janitor deletes idle
	// conversations and expired dedupe marks (default 10 minutes).
	SweepInterval time.Duration
	// LockTimeout is how long Open waits for the file lock held by another
	// process before it gives up (default 500ms).
	LockTimeout time.Duration
	// Logger receives janitor failures (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.IdleTTL == 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = DefaultDedupeTTL
	}
	if c.EventsMax == 0 {
		c.EventsMax = DefaultEventsMax
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate checks the configuration after defaults were applied. It
// returns an Invalid error naming the first problem.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.IdleTTL < time.Millisecond:
		return conversation.Errorf(conversation.Invalid, "bolt idle TTL %s must be positive", c.IdleTTL)
	case c.DedupeTTL < time.Millisecond:
		return conversation.Errorf(conversation.Invalid, "bolt dedupe TTL %s must be positive", c.DedupeTTL)
	case c.EventsMax < 1 || c.EventsMax > 1_000_000:
		return conversation.Errorf(conversation.Invalid, "bolt events max %d must be within 1..1000000", c.EventsMax)
	case c.SweepInterval < 10*time.Millisecond:
		return conversation.Errorf(conversation.Invalid, "bolt sweep interval %s must be at least 10ms", c.SweepInterval)
	case c.LockTimeout < 0:
		return conversation.Errorf(conversation.Invalid, "bolt lock timeout %s must not be negative", c.LockTimeout)
	}
	return nil
}
