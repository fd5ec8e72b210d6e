package telegram

import (
	"context"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation"
)

// pacer spaces messages per chat, as Telegram asks: about one message a
// second into one chat, at most 20 a minute into one group. Each chat has
// a token bucket; Send waits for a token, or returns a RetryAfterError
// when the wait would exceed MaxPaceWait. Buckets of chats idle long
// enough to be full again are dropped, so memory stays bounded by the
// chats active in the last few seconds.
type pacer struct {
	off     bool
	private time.Duration // interval between messages in a private chat
	group   time.Duration // interval in a group
	burst   float64
	maxWait time.Duration

	mu      sync.Mutex
	buckets map[int64]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newPacer(cfg Config) *pacer {
	p := &pacer{
		off:     cfg.ChatInterval < 0,
		private: cfg.ChatInterval,
		group:   cfg.ChatInterval,
		burst:   float64(cfg.ChatBurst),
		maxWait: cfg.MaxPaceWait,
		buckets: make(map[int64]*bucket),
	}
	if cfg.GroupPerMinute > 0 {
		if g := time.Minute / time.Duration(cfg.GroupPerMinute); g > p.group {
			p.group = g
		}
	}
	return p
}

// reserve takes a token for chatID and returns how long to wait before
// sending; when that is more than limit nothing is taken and ok is false.
func (p *pacer) reserve(chatID int64, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	if p.off {
		return 0, true
	}
	interval := p.private
	if chatID < 0 {
		interval = p.group
	}
	if interval <= 0 {
		return 0, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gc(now)
	b := p.buckets[chatID]
	if b == nil {
		b = &bucket{tokens: p.burst, at: now}
		p.buckets[chatID] = b
	}
	b.tokens = min(p.burst, b.tokens+float64(now.Sub(b.at))/float64(interval))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait = time.Duration((1 - b.tokens) * float64(interval))
	if wait > limit {
		return wait, false
	}
	b.tokens-- // the token is ours once the wait is over
	return wait, true
}

// gc drops full buckets now and then. Callers hold p.mu.
func (p *pacer) gc(now time.Time) {
	if now.Sub(p.sweep) < time.Minute {
		return
	}
	p.sweep = now
	full := time.Duration(p.burst+1) * max(p.private, p.group)
	for id, b := range p.buckets {
		if now.Sub(b.at) > full {
			delete(p.buckets, id)
		}
	}
}

// wait blocks until a message may go to chatID. Errors: a
// RetryAfterError when the chat's pace is far behind, ctx's error.
func (p *pacer) wait(ctx context.Context, chatID int64) error {
	limit := p.maxWait
	if dl, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(dl))
	}
	d, ok := p.reserve(chatID, time.Now(), limit)
	if !ok {
		return &conversation.RetryAfterError{After: d, Err: conversation.Errorf(conversation.Unavailable, "telegram: chat %d is paced", chatID)}
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return conversation.Errorf(conversation.Unavailable, "telegram: waiting for chat pace: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
