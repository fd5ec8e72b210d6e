package slack

import (
	"context"
	"math"
	"sync"
	"time"
)

// pacer spaces posts per Slack channel with a token bucket: rate posts per
// second, up to burst at once. A 429 from Slack blocks the channel for
// the Retry-After it named. Buckets that are full again carry no
// information and are dropped, so memory is bounded by max.
type pacer struct {
	rate  float64
	burst float64
	max   int

	mu      sync.Mutex
	buckets map[string]*paceBucket
}

type paceBucket struct {
	tokens  float64
	last    time.Time
	blocked time.Time // no posts before this (a 429's Retry-After)
}

func newPacer(rate float64, burst, max int) *pacer {
	return &pacer{rate: rate, burst: float64(burst), max: max, buckets: make(map[string]*paceBucket)}
}

// reserve takes a token of channel's bucket at now and returns how long
// the caller must wait before posting. When that wait would exceed
// maxWait, nothing is taken and ok is false.
func (p *pacer) reserve(channel string, now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	if p.rate <= 0 || p.burst <= 0 {
		return 0, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[channel]
	if b == nil {
		if len(p.buckets) >= p.max {
			p.sweep(now)
		}
		if len(p.buckets) >= p.max {
			return 0, true // too many busy channels to track: Slack's 429 still paces
		}
		b = &paceBucket{tokens: p.burst, last: now}
		p.buckets[channel] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(p.burst, b.tokens+el*p.rate)
		b.last = now
	}
	if b.tokens < 1 {
		wait = time.Duration((1 - b.tokens) / p.rate * float64(time.Second))
	}
	if block := b.blocked.Sub(now); block > wait {
		wait = block
	}
	if wait > maxWait {
		return wait, false
	}
	b.tokens-- // may go negative: the next caller waits for it
	return wait, true
}

// block stops posts to channel until now+d (Slack answered 429).
func (p *pacer) block(channel string, now time.Time, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[channel]
	if b == nil {
		b = &paceBucket{tokens: p.burst, last: now}
		p.buckets[channel] = b
	}
	if until := now.Add(d); until.After(b.blocked) {
		b.blocked = until
	}
}

// sweep drops buckets that are full again and not blocked.
func (p *pacer) sweep(now time.Time) {
	full := time.Duration(p.burst / p.rate * float64(time.Second))
	for k, b := range p.buckets {
		if now.Sub(b.last) >= full && now.After(b.blocked) {
			delete(p.buckets, k)
		}
	}
}

// wait reserves a slot for channel and sleeps until it. It returns the
// delay to report instead when the wait would exceed maxWait (nothing is
// reserved then), or ctx's error.
func (p *pacer) wait(ctx context.Context, channel string, maxWait time.Duration) (retryAfter time.Duration, err error) {
	d, ok := p.reserve(channel, time.Now(), maxWait)
	if !ok {
		return d, nil
	}
	if d <= 0 {
		return 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-t.C:
		return 0, nil
	}
}
