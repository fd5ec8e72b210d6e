package webchat

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/tier0/tier0/adapters/recent"
	"github.com/tier0/tier0/conversation"
)

// Hub fans outbound messages out to the live event streams of a
// conversation. The in-memory MemoryHub serves one process; a hub over a
// shared bus (Redis pub/sub) lets any replica's Send reach a visitor whose
// stream is held by another replica.
type Hub interface {
	// Publish delivers o to the current subscribers of key without waiting
	// for them. No subscriber is not an error. Publishing an o.ID that was
	// published for key recently does nothing. Errors: Unavailable when the
	// bus is down, or ctx's error.
	Publish(ctx context.Context, key string, o conversation.Outbound) error
	// Subscribe returns a channel of the messages published for key from
	// now on, and a function that ends the subscription. The hub closes the
	// channel when it drops the subscriber (it fell behind, or the session
	// has too many streams); the client then reconnects and reloads history.
	Subscribe(key string) (<-chan conversation.Outbound, func())
}

// HubConfig bounds a MemoryHub. Zero values take the defaults.
type HubConfig struct {
	// Buffer is how many messages a subscriber may lag behind before it is
	// dropped (default 32).
	Buffer int
	// MaxSubscribers is the number of streams per key; a new one drops the
	// oldest (default 8).
	MaxSubscribers int
	// RecentIDs is how many published ids per key are remembered for
	// idempotency (default 128).
	RecentIDs int
	// MaxKeys is how many keys' recent ids are remembered, least recently
	// published first out (default 10000).
	MaxKeys int
}

func (c HubConfig) withDefaults() HubConfig {
	if c.Buffer <= 0 {
		c.Buffer = 32
	}
	if c.MaxSubscribers <= 0 {
		c.MaxSubscribers = 8
	}
	if c.RecentIDs <= 0 {
		c.RecentIDs = 128
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10000
	}
	return c
}

// MemoryHub is the in-process Hub: enough for a single replica. Its memory
// is bounded by HubConfig whatever the traffic.
type MemoryHub struct {
	cfg HubConfig

	mu     sync.Mutex
	subs   map[string][]*subscriber
	recent map[string]*list.Element // of *recentIDs
	lru    *list.List               // front: most recently published
}

var _ Hub = (*MemoryHub)(nil)

type subscriber struct {
	ch chan conversation.Outbound
}

// recentIDs are the last ids published for one key.
type recentIDs struct {
	key string
	ids *recent.Set
}

// NewMemoryHub returns an empty in-memory hub.
func NewMemoryHub(cfg HubConfig) *MemoryHub {
	return &MemoryHub{
		cfg:    cfg.withDefaults(),
		subs:   make(map[string][]*subscriber),
		recent: make(map[string]*list.Element),
		lru:    list.New(),
	}
}

// Publish delivers o to key's subscribers; see Hub. A subscriber whose
// buffer is full is dropped (its channel closed) instead of blocking.
// Errors: ctx's error only.
func (h *MemoryHub) Publish(ctx context.Context, key string, o conversation.Outbound) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", key, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o.ID != "" && !h.remember(key, o.ID) {
		return nil
	}
	subs := h.subs[key]
	kept := subs[:0]
	for _, s := range subs {
		select {
		case s.ch <- o:
			kept = append(kept, s)
		default:
			close(s.ch)
		}
	}
	clear(subs[len(kept):])
	h.setSubs(key, kept)
	return nil
}

// Subscribe starts a subscription to key; see Hub.
func (h *MemoryHub) Subscribe(key string) (<-chan conversation.Outbound, func()) {
	s := &subscriber{ch: make(chan conversation.Outbound, h.cfg.Buffer)}
	h.mu.Lock()
	subs := h.subs[key]
	if len(subs) >= h.cfg.MaxSubscribers {
		close(subs[0].ch)
		subs = slices.Delete(subs, 0, 1)
	}
	h.subs[key] = append(subs, s)
	h.mu.Unlock()

	var once sync.Once
	return s.ch, func() { once.Do(func() { h.unsubscribe(key, s) }) }
}

// Subscribers returns the number of live subscriptions to key.
func (h *MemoryHub) Subscribers(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[key])
}

func (h *MemoryHub) unsubscribe(key string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.subs[key]
	for i, x := range subs {
		if x == s {
			close(s.ch)
			h.setSubs(key, slices.Delete(subs, i, i+1))
			return
		}
	}
	// Already dropped by Publish or Subscribe, which closed the channel.
}

func (h *MemoryHub) setSubs(key string, subs []*subscriber) {
	if len(subs) == 0 {
		delete(h.subs, key)
		return
	}
	h.subs[key] = subs
}

// remember records id for key and reports whether it is new.
func (h *MemoryHub) remember(key, id string) bool {
	var r *recentIDs
	if el, ok := h.recent[key]; ok {
		h.lru.MoveToFront(el)
		r = el.Value.(*recentIDs)
	} else {
		r = &recentIDs{key: key, ids: recent.New(h.cfg.RecentIDs)}
		h.recent[key] = h.lru.PushFront(r)
		for h.lru.Len() > h.cfg.MaxKeys {
			old := h.lru.Remove(h.lru.Back()).(*recentIDs)
			delete(h.recent, old.key)
		}
	}
	if r.ids.Has(id) {
		return false
	}
	r.ids.Add(id)
	return true
}
