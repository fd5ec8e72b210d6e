package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/storetest"
)

func open(tb testing.TB, path string, cfg boltstore.Config) *boltstore.Store {
	tb.Helper()
	s, err := boltstore.Open(path, cfg)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) conversation.Store {
		return open(t, filepath.Join(t.TempDir(), "data", "tier0.db"), boltstore.Config{EventsMax: storetest.EventsCap})
	})
}

func TestConfigValidate(t *testing.T) {
	storetest.CheckConfigs(t, []storetest.ConfigCase[boltstore.Config]{
		{Name: "Defaults", Config: boltstore.Config{}, OK: true},
		{Name: "Custom", Config: boltstore.Config{IdleTTL: time.Hour, DedupeTTL: time.Minute, EventsMax: 5, NoSync: true, SweepInterval: time.Second}, OK: true},
		{Name: "NegativeIdle", Config: boltstore.Config{IdleTTL: -time.Hour}, OK: false},
		{Name: "NegativeDedupe", Config: boltstore.Config{DedupeTTL: -time.Hour}, OK: false},
		{Name: "NegativeEvents", Config: boltstore.Config{EventsMax: -3}, OK: false},
		{Name: "TinySweep", Config: boltstore.Config{SweepInterval: time.Microsecond}, OK: false},
		{Name: "NegativeLockTimeout", Config: boltstore.Config{LockTimeout: -time.Second}, OK: false},
	})
}

func commit(tb testing.TB, s conversation.Store, c conversation.Commit) {
	tb.Helper()
	ctx := context.Background()
	l, err := s.Acquire(ctx, c.Conversation.Key, 10*time.Second)
	if err != nil {
		tb.Fatalf("Acquire: %v", err)
	}
	if err := s.Commit(ctx, l, c); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

func TestReopenKeepsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tier0.db")
	s := open(t, path, boltstore.Config{})
	key := "webchat:reopen"
	c := &conversation.Conversation{Key: key, Phase: conversation.PhaseConsulting, Ticket: "T-1",
		History: []conversation.Turn{{Role: conversation.RoleCustomer, Text: "hello"}}}
	commit(t, s, conversation.Commit{Conversation: c, DedupeKey: "d-1",
		Events:   []conversation.Event{{Type: conversation.EventAnswered}},
		Outbound: []conversation.Outbound{{ID: "o-1", Text: "hi"}}})
	if _, err := s.NextSequence(ctx, "ticket"); err != nil {
		t.Fatalf("NextSequence: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Load(ctx, key); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("Load on a closed store: got %v, want an Unavailable error", err)
	}
	if _, err := s.Acquire(ctx, key, time.Second); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("Acquire on a closed store: got %v, want an Unavailable error", err)
	}

	s = open(t, path, boltstore.Config{})
	t.Cleanup(func() { _ = s.Close() })
	got, err := s.Load(ctx, key)
	if err != nil {
		t.Fatalf("Load after reopen: %v", err)
	}
	if got.Version != 1 || got.Ticket != "T-1" || got.Phase != conversation.PhaseConsulting || len(got.History) != 1 {
		t.Fatalf("Load after reopen: got %+v", got)
	}
	checks := []struct {
		name string
		ok   func() (bool, error)
	}{
		{"Seen", func() (bool, error) { return s.Seen(ctx, key, "d-1") }},
		{"Pending", func() (bool, error) { o, err := s.Pending(ctx, key, 10); return len(o) == 1 && o[0].ID == "o-1", err }},
		{"Events", func() (bool, error) { e, err := s.Events(ctx, key, 10); return len(e) == 1, err }},
		{"Backlog", func() (bool, error) {
			k, err := s.Backlog(ctx, time.Now().Add(time.Hour), 10)
			return len(k) == 1 && k[0] == key, err
		}},
		{"NextSequence", func() (bool, error) { n, err := s.NextSequence(ctx, "ticket"); return n == 2, err }},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := tc.ok()
			if err != nil || !ok {
				t.Fatalf("%s after reopen: got ok=%v err=%v, want the data written before Close", tc.name, ok, err)
			}
		})
	}
	// Fencing tokens keep growing within a process; a new lease works.
	commit(t, s, conversation.Commit{Conversation: got})
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tier0.db")
	s := open(t, path, boltstore.Config{})
	t.Cleanup(func() { _ = s.Close() })
	done := make(chan error, 1)
	go func() {
		s2, err := boltstore.Open(path, boltstore.Config{})
		if err == nil {
			_ = s2.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if conversation.ErrorCode(err) != conversation.Unavailable {
			t.Fatalf("second Open: got %v, want an Unavailable error", err)
		}
		if got := conversation.ErrorMessage(err); got != "store file is in use by another tier0 process" {
			t.Fatalf("second Open: got message %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Open of a locked file did not return")
	}
}

// TestSweep checks that idle conversations and expired dedupe marks read
// as absent and that Sweep deletes them, while live ones stay.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	const idle = 400 * time.Millisecond
	s := open(t, filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{IdleTTL: idle, DedupeTTL: idle / 2, NoSync: true})
	t.Cleanup(func() { _ = s.Close() })
	stale, fresh := "webchat:stale", "webchat:fresh"
	commit(t, s, conversation.Commit{Conversation: &conversation.Conversation{Key: stale}, DedupeKey: "d",
		Events: []conversation.Event{{Type: conversation.EventAnswered}}, Outbound: []conversation.Outbound{{ID: "o", Text: "x"}}})
	time.Sleep(idle + 300*time.Millisecond)
	commit(t, s, conversation.Commit{Conversation: &conversation.Conversation{Key: fresh}, DedupeKey: "d"})

	if _, err := s.Load(ctx, stale); !errors.Is(err, conversation.ErrNotFound) {
		t.Fatalf("Load of an idle conversation: got %v, want ErrNotFound", err)
	}
	if ok, err := s.Seen(ctx, stale, "d"); err != nil || ok {
		t.Fatalf("Seen of an expired mark: got %v, %v; want false", ok, err)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if keys, err := s.Backlog(ctx, time.Now().Add(time.Hour), 10); err != nil || len(keys) != 0 {
		t.Fatalf("Backlog after Sweep: got %q, %v; want none", keys, err)
	}
	if evs, err := s.Events(ctx, stale, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Events after Sweep: got %d, %v; want none", len(evs), err)
	}
	if _, err := s.Load(ctx, fresh); err != nil {
		t.Fatalf("Load of a fresh conversation after Sweep: %v", err)
	}
	if ok, err := s.Seen(ctx, fresh, "d"); err != nil || !ok {
		t.Fatalf("Seen of a fresh mark after Sweep: got %v, %v; want true", ok, err)
	}
	// An idle conversation starts over at version 0.
	commit(t, s, conversation.Commit{Conversation: &conversation.Conversation{Key: stale}, DedupeKey: "d"})
	if c, err := s.Load(ctx, stale); err != nil || c.Version != 1 {
		t.Fatalf("Load of a restarted conversation: got %+v, %v; want version 1", c, err)
	}
}

// TestJanitor checks that Open starts a janitor that sweeps by itself.
func TestJanitor(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "tier0.db"),
		boltstore.Config{IdleTTL: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond, NoSync: true})
	t.Cleanup(func() { _ = s.Close() })
	key := "webchat:janitor"
	commit(t, s, conversation.Commit{Conversation: &conversation.Conversation{Key: key}, Outbound: []conversation.Outbound{{ID: "o"}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, err := s.Backlog(ctx, time.Now().Add(time.Hour), 10)
		if err != nil {
			t.Fatalf("Backlog: %v", err)
		}
		if len(keys) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor did not remove idle %q within 10s", key)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQueueVersionSweepAndReopen checks that the queue version outlives
// a reopen of the file, moves when Sweep removes the queue entry of a
// conversation that went idle, and stays when a sweep removes nothing.
func TestQueueVersionSweepAndReopen(t *testing.T) {
	ctx := context.Background()
	const idle = 400 * time.Millisecond
	path := filepath.Join(t.TempDir(), "tier0.db")
	s := open(t, path, boltstore.Config{IdleTTL: idle, NoSync: true})
	version := func(what string) uint64 {
		t.Helper()
		v, err := s.QueueVersion(ctx)
		if err != nil {
			t.Fatalf("QueueVersion %s: %v", what, err)
		}
		return v
	}
	queued := &conversation.Conversation{Key: "webchat:queued", Phase: conversation.PhaseAwaitingAgent, Ticket: "IT-1",
		TicketState: &conversation.TicketState{Ticket: conversation.Ticket{ID: "IT-1", Status: conversation.TicketOpen}}}
	commit(t, s, conversation.Commit{Conversation: queued})
	commit(t, s, conversation.Commit{Conversation: &conversation.Conversation{Key: "webchat:plain"}})
	opened := version("after opening a ticket")
	if opened == 0 {
		t.Fatal("version after opening a ticket: 0, want more")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path, boltstore.Config{IdleTTL: idle, NoSync: true})
	t.Cleanup(func() { _ = s.Close() })
	if v := version("after reopening"); v != opened {
		t.Fatalf("version after reopening: %d, want %d", v, opened)
	}
	time.Sleep(idle + 300*time.Millisecond)
	if err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	swept := version("after the sweep")
	if swept <= opened {
		t.Fatalf("version after sweeping an idle queued conversation: %d, want more than %d", swept, opened)
	}
	if got, err := s.Tickets(ctx, conversation.TicketQuery{Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("Tickets after the sweep: %+v, %v; want none", got, err)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatalf("second Sweep: %v", err)
	}
	if v := version("after a sweep with nothing to remove"); v != swept {
		t.Fatalf("version after a sweep that removed nothing: %d, want %d", v, swept)
	}
}
