package conversation

import (
	"context"
	"sync"
)

// keyLock serialises work per key inside one process, in arrival order.
// Waiters queue on a one-slot channel; Go wakes blocked senders first in,
// first out, so messages of one conversation keep their order.
type keyLock struct {
	mu    sync.Mutex
	slots map[string]*keySlot
}

type keySlot struct {
	ch   chan struct{}
	refs int
}

// lock blocks until key is free or ctx is done; the returned func unlocks.
func (l *keyLock) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.slots == nil {
		l.slots = make(map[string]*keySlot)
	}
	s := l.slots[key]
	if s == nil {
		s = &keySlot{ch: make(chan struct{}, 1)}
		l.slots[key] = s
	}
	s.refs++
	l.mu.Unlock()

	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch; l.done(key, s) }, nil
	case <-ctx.Done():
		l.done(key, s)
		return nil, ctx.Err()
	}
}

func (l *keyLock) done(key string, s *keySlot) {
	l.mu.Lock()
	s.refs--
	if s.refs == 0 {
		delete(l.slots, key)
	}
	l.mu.Unlock()
}
