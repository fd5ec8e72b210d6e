package whatsappcloud

import (
	"sync"
	"time"
)

// pacer is a token bucket per recipient: burst messages at once, then one
// per interval. It keeps at most max buckets, dropping full (idle) ones
// first.
type pacer struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	max      int
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newPacer(burst int, interval time.Duration, max int) *pacer {
	return &pacer{burst: float64(burst), interval: interval, max: max, buckets: make(map[string]*bucket)}
}

// reserve takes a token for key at now. It returns how long the caller
// must wait before sending (0: at once). When that wait would exceed
// limit nothing is taken and ok is false.
func (p *pacer) reserve(key string, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	if p.interval <= 0 {
		return 0, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[key]
	if b == nil {
		if len(p.buckets) >= p.max {
			p.evict(now)
		}
		b = &bucket{tokens: p.burst, at: now}
		p.buckets[key] = b
	}
	if now.After(b.at) {
		b.tokens = min(p.burst, b.tokens+float64(now.Sub(b.at))/float64(p.interval))
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait = time.Duration((1 - b.tokens) * float64(p.interval))
	if wait > limit {
		return wait, false
	}
	b.tokens-- // reserved: later callers queue behind this one
	return wait, true
}

func (p *pacer) evict(now time.Time) {
	for k, b := range p.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(p.interval) >= p.burst {
			delete(p.buckets, k)
		}
	}
	for k := range p.buckets {
		if len(p.buckets) < p.max {
			return
		}
		delete(p.buckets, k)
	}
}
