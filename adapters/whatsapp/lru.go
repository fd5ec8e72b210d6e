package whatsapp

import (
	"container/list"
	"sync"
	"time"
)

// lru is a bounded map with least-recently-used eviction and an optional
// time to live, safe for concurrent use. It keeps the adapter's per-chat
// memory (choices, chat addresses, recent ids) bounded whatever the
// traffic.
type lru[V any] struct {
	mu  sync.Mutex
	max int
	ttl time.Duration // 0: entries live until evicted
	ll  *list.List    // front = most recently used
	m   map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
	at  time.Time
}

func newLRU[V any](max int, ttl time.Duration) *lru[V] {
	return &lru[V]{max: max, ttl: ttl, ll: list.New(), m: make(map[string]*list.Element)}
}

// get returns key's value unless it is absent or expired at now.
func (c *lru[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.m[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if c.ttl > 0 && now.Sub(e.at) > c.ttl {
		c.ll.Remove(el)
		delete(c.m, key)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// put stores val under key at now, evicting the least recently used entry
// when full.
func (c *lru[V]) put(key string, val V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		e := el.Value.(*lruEntry[V])
		e.val, e.at = val, now
		c.ll.MoveToFront(el)
		return
	}
	c.m[key] = c.ll.PushFront(&lruEntry[V]{key: key, val: val, at: now})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*lruEntry[V]).key)
	}
}

// remove deletes key.
func (c *lru[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[key]; ok {
		c.ll.Remove(el)
		delete(c.m, key)
	}
}

// len returns the number of entries held (expired ones included until
// they are looked up or evicted).
func (c *lru[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
