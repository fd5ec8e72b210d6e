package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
	"github.com/tier0/tier0/conversation/storetest"
)

func TestStatsConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.RunStats(t, func(t *testing.T) analytics.Store {
		s := newStore(t, srv, redisstore.Config{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// On Cluster, one day's counters and questions share a slot, so the
// MULTI of AddStats is accepted.
func TestStatsConformanceCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	storetest.RunStats(t, func(t *testing.T) analytics.Store {
		s := newStore(t, srv, redisstore.Config{})
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// The day's keys carry the store's prefix and the day as hash tag, and
// expire analytics.Retention after the day.
func TestStatsKeysAndExpiry(t *testing.T) {
	ctx := context.Background()
	s := startStore(t, redisstore.Config{Prefix: "acme"})
	now := time.Now().UTC()
	day := analytics.DayOf(now)
	if err := s.AddStats(ctx, day, map[string]int64{analytics.Answered: 2}, map[string]int64{"vpn broken": 1}); err != nil {
		t.Fatalf("AddStats: %v", err)
	}
	d, _ := analytics.ParseDay(day)
	wantExpiry := d.Add(24 * time.Hour).Add(analytics.Retention)
	for _, key := range []string{"acme:stats:{" + day + "}:counters", "acme:stats:{" + day + "}:questions"} {
		ttl, err := s.Client().PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if expiry := now.Add(ttl); ttl <= 0 || expiry.Before(wantExpiry.Add(-time.Minute)) || expiry.After(wantExpiry.Add(time.Minute)) {
			t.Errorf("key %s expires in %s (at %s), want at %s", key, ttl, expiry, wantExpiry)
		}
	}
	if n, err := s.Client().HGet(ctx, "acme:stats:{"+day+"}:counters", analytics.Answered).Int64(); err != nil || n != 2 {
		t.Errorf("HGET answered = %d, %v; want 2", n, err)
	}
}
