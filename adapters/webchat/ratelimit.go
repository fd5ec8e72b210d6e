package webchat

import (
	"math"
	"sync"
	"time"
)

// limiter is a per-session token bucket kept in memory. A bucket that has
// been idle long enough to be full again carries no information, so it is
// evicted; the number of buckets is capped, and when the cap is reached
// after eviction new sessions are refused until buckets refill. Memory is
// therefore bounded by max buckets whatever the traffic.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst, max int) *limiter {
	return &limiter{
		rate:    float64(perMinute) / 60,
		burst:   float64(burst),
		max:     max,
		buckets: make(map[string]*bucket),
	}
}

// refillTime is how long an empty bucket takes to be full again.
func (l *limiter) refillTime() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// allow takes one token from key's bucket at now. When none is left it
// returns false and how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.refillTime() {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
		}
		if len(l.buckets) >= l.max {
			return false, l.refillTime()
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep drops the buckets that are full again.
func (l *limiter) sweep(now time.Time) {
	full := l.refillTime()
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// size returns the number of buckets held.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
