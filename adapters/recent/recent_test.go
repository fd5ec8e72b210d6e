package recent_test

import (
	"testing"

	"github.com/tier0/tier0/adapters/recent"
)

func TestSet(t *testing.T) {
	s := recent.New(2)
	s.Add("a")
	s.Add("b")
	s.Add("a") // already held: still the oldest
	s.Add("c") // forgets a
	for v, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if got := s.Has(v); got != want {
			t.Errorf("Has(%q) = %v, want %v", v, got, want)
		}
	}
	s.Remove("b")
	s.Add("d") // room for d without forgetting c
	for v, want := range map[string]bool{"b": false, "c": true, "d": true} {
		if got := s.Has(v); got != want {
			t.Errorf("after Remove: Has(%q) = %v, want %v", v, got, want)
		}
	}
	if empty := recent.New(0); func() bool { empty.Add("x"); return empty.Has("x") }() {
		t.Error("a Set of 0 remembered a string")
	}
}
