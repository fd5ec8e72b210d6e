// Package recent holds a bounded set of the most recently added strings,
// which the platform adapters use to remember the outbound ids they
// delivered (so a retry is not posted twice) without unbounded memory.
package recent

import (
	"container/list"
	"sync"
)

// Set remembers the last n strings added; adding one more forgets the
// oldest. It is safe for concurrent use.
type Set struct {
	mu    sync.Mutex
	n     int
	order *list.List // oldest first
	items map[string]*list.Element
}

// New returns a Set of at most n strings (n < 1 remembers nothing).
func New(n int) *Set {
	return &Set{n: n, order: list.New(), items: make(map[string]*list.Element)}
}

// Has reports whether s was added and is not forgotten yet.
func (r *Set) Has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.items[s]
	return ok
}

// Add remembers s, forgetting the oldest string when the set is full.
// Adding a string it holds changes nothing.
func (r *Set) Add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.items[s]; ok {
		return
	}
	r.items[s] = r.order.PushBack(s)
	for r.order.Len() > r.n {
		old := r.order.Front()
		r.order.Remove(old)
		delete(r.items, old.Value.(string))
	}
}

// Remove forgets s.
func (r *Set) Remove(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if el, ok := r.items[s]; ok {
		r.order.Remove(el)
		delete(r.items, s)
	}
}
