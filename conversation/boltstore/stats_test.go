package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/storetest"
)

func TestStatsConformance(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) analytics.Store {
		s := open(t, filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// Figures survive a restart, and a day full of questions counts the
// questions it could not keep.
func TestStatsReopenAndDropped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tier0.db")
	day := analytics.DayOf(time.Now())
	s := open(t, path, boltstore.Config{NoSync: true})
	qs := make(map[string]int64)
	for i := range analytics.StoredQuestionsPerDay + 3 {
		qs[fmt.Sprintf("q%05d", i)] = 1
	}
	if err := s.AddStats(ctx, day, map[string]int64{analytics.Answered: 7}, qs); err != nil {
		t.Fatalf("AddStats: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, path, boltstore.Config{NoSync: true})
	defer s.Close()
	got, err := s.Stats(ctx, day, day)
	if err != nil {
		t.Fatalf("Stats after reopening: %v", err)
	}
	if len(got) != 1 || got[0].Counters[analytics.Answered] != 7 || got[0].Counters[analytics.QuestionsDropped] != 3 {
		t.Errorf("after reopening: %+v, want answered 7 and 3 questions dropped", got)
	}
}
