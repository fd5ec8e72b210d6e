package whatsapp

import (
	"math"
	"sync"
	"time"
)

// limiter paces outbound messages with token buckets: one per chat and
// one for the whole account. WhatsApp bans numbers that send fast, so
// pacing is part of staying connected, not only politeness. Chat buckets
// that have refilled carry no information and are dropped; their number
// is bounded by max.
type limiter struct {
	mu     sync.Mutex
	chat   bucketSpec
	global bucketSpec
	all    bucket
	chats  map[string]*bucket
	max    int
}

type bucketSpec struct{ rate, burst float64 } // tokens per second, capacity

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst, globalPerMinute, globalBurst, max int) *limiter {
	return &limiter{
		chat:   bucketSpec{rate: float64(perMinute) / 60, burst: float64(burst)},
		global: bucketSpec{rate: float64(globalPerMinute) / 60, burst: float64(globalBurst)},
		all:    bucket{tokens: float64(globalBurst)},
		chats:  make(map[string]*bucket),
		max:    max,
	}
}

// refill brings b up to now under spec.
func (s bucketSpec) refill(b *bucket, now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(s.burst, b.tokens+el*s.rate)
		b.last = now
	}
}

// wait returns how long until b holds one token.
func (s bucketSpec) wait(b *bucket) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - b.tokens) / s.rate * float64(time.Second)))
}

// take takes n tokens for chat from both buckets at now, or none. When it
// cannot, it returns how long to wait.
func (l *limiter) take(chat string, n int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.chats[chat]
	if b == nil {
		if len(l.chats) >= l.max {
			l.sweep(now)
		}
		b = &bucket{tokens: l.chat.burst, last: now}
		if len(l.chats) < l.max {
			l.chats[chat] = b
		}
	}
	l.chat.refill(b, now)
	l.global.refill(&l.all, now)
	need := float64(n)
	if b.tokens < need || l.all.tokens < need {
		w := max(l.chat.wait(&bucket{tokens: b.tokens - need + 1}), l.global.wait(&bucket{tokens: l.all.tokens - need + 1}))
		return false, max(w, time.Millisecond)
	}
	b.tokens -= need
	l.all.tokens -= need
	return true, 0
}

// sweep drops chat buckets that are full again.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.chats {
		l.chat.refill(b, now)
		if b.tokens >= l.chat.burst {
			delete(l.chats, k)
		}
	}
}
