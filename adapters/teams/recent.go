package teams

import "sync"

// recentSet remembers the last n ids added (a ring with an index), for
// idempotent sends. Safe for concurrent use.
type recentSet struct {
	mu   sync.Mutex
	ring []string
	next int
	has  map[string]bool
}

func newRecentSet(n int) *recentSet {
	return &recentSet{ring: make([]string, n), has: make(map[string]bool, n)}
}

// contains reports whether id was added and not yet pushed out.
func (s *recentSet) contains(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.has[id]
}

// add records id, forgetting the oldest when full.
func (s *recentSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.has[id] || len(s.ring) == 0 {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.has, old)
	}
	s.ring[s.next] = id
	s.has[id] = true
	s.next = (s.next + 1) % len(s.ring)
}
