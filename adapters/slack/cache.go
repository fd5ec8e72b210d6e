package slack

import (
	"slices"
	"sync"
	"time"
)

// ttlCache is a small map whose entries expire after ttl and whose size
// is capped: when full, expired entries are dropped first, then the
// oldest ones. Safe for concurrent use.
type ttlCache[V any] struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](max int, ttl time.Duration) *ttlCache[V] {
	return &ttlCache[V]{max: max, ttl: ttl, entries: make(map[string]cacheEntry[V])}
}

// get returns the value under key unless it expired.
func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under key for the cache's ttl.
func (c *ttlCache[V]) put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = cacheEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// evict makes room: expired entries go; if none had, the eighth that
// expires soonest goes, so the sort is paid once per max/8 inserts.
func (c *ttlCache[V]) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.max {
		return
	}
	type aged struct {
		key     string
		expires time.Time
	}
	all := make([]aged, 0, len(c.entries))
	for k, e := range c.entries {
		all = append(all, aged{k, e.expires})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.expires.Compare(b.expires) })
	for _, e := range all[:max(1, c.max/8)] {
		delete(c.entries, e.key)
	}
}
