package conversation_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// frozen wraps a replica's locker; freeze makes every later call fail, as
// when the replica's process hangs or its network goes away: it can
// neither renew nor release its lease.
type frozen struct {
	conversation.LeaderLocker
	off atomic.Bool
}

var errFrozen = conversation.Errorf(conversation.Unavailable, "replica frozen")

func (f *frozen) Renew(ctx context.Context, l conversation.Lease, ttl time.Duration) (conversation.Lease, error) {
	if f.off.Load() {
		return conversation.Lease{}, errFrozen
	}
	return f.LeaderLocker.Renew(ctx, l, ttl)
}

func (f *frozen) Release(ctx context.Context, l conversation.Lease) error {
	if f.off.Load() {
		return errFrozen
	}
	return f.LeaderLocker.Release(ctx, l)
}

// replica runs RunAsLeader with a job that records when it runs.
type replica struct {
	name    string
	locker  *frozen
	running atomic.Bool
	starts  atomic.Int32
	cancel  context.CancelFunc
	done    chan error
}

func startReplica(t *testing.T, name string, l conversation.LeaderLocker, overlap *atomic.Int32, cfg conversation.LeaderConfig) *replica {
	t.Helper()
	r := &replica{name: name, locker: &frozen{LeaderLocker: l}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- conversation.RunAsLeader(ctx, r.locker, cfg, func(ctx context.Context) error {
			if overlap.Add(1) > 1 {
				t.Errorf("%s started while another replica's job was running", name)
			}
			r.running.Store(true)
			r.starts.Add(1)
			<-ctx.Done()
			r.running.Store(false)
			overlap.Add(-1)
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: RunAsLeader did not return after cancel", name)
		}
	})
	return r
}

func TestRunAsLeaderFailover(t *testing.T) {
	srv := redistest.Start(t)
	newStore := func() conversation.LeaderLocker {
		s, err := redisstore.New(srv.NewClient(), redisstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	cfg := conversation.LeaderConfig{Name: "leader:test", TTL: time.Second, RenewEvery: 200 * time.Millisecond}
	var overlap atomic.Int32
	a := startReplica(t, "a", newStore(), &overlap, cfg)
	waitFor(t, "replica a leads", a.running.Load)
	b := startReplica(t, "b", newStore(), &overlap, cfg)
	// b must not take over while a renews: several TTLs pass.
	time.Sleep(2500 * time.Millisecond)
	if b.starts.Load() != 0 {
		t.Fatalf("replica b led %d times while a was healthy", b.starts.Load())
	}
	// a hangs: it can no longer renew, stops its job when its lease
	// runs out locally, and b takes over after the TTL.
	a.locker.off.Store(true)
	waitFor(t, "replica a stops its job", func() bool { return !a.running.Load() })
	waitFor(t, "replica b takes over", b.running.Load)
	// a recovers, but b holds the lease: a stays a follower.
	a.locker.off.Store(false)
	time.Sleep(1500 * time.Millisecond)
	if a.running.Load() {
		t.Fatal("replica a leads again while b holds the lease")
	}
	// b shuts down cleanly: it releases the lease and a takes over at once.
	b.cancel()
	if err := <-b.done; err != nil {
		t.Fatalf("RunAsLeader of b returned %v, want nil on shutdown", err)
	}
	b.done <- nil // for the cleanup
	waitFor(t, "replica a takes over after b's release", a.running.Load)
}

func TestRunAsLeaderJobError(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.New(srv.Client(t), redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := conversation.LeaderConfig{Name: "leader:err", TTL: time.Second, RenewEvery: 100 * time.Millisecond}
	errBanned := errors.New("banned")
	var runs sync.WaitGroup
	runs.Add(1)
	err = conversation.RunAsLeader(t.Context(), s, cfg, func(ctx context.Context) error {
		defer runs.Done()
		return errBanned
	})
	runs.Wait()
	if !errors.Is(err, errBanned) {
		t.Fatalf("RunAsLeader = %v, want the job's error", err)
	}
	// The lease was released: another holder gets it at once.
	l, err := s.Acquire(t.Context(), cfg.Name, time.Second)
	if err != nil {
		t.Fatalf("Acquire after the job failed: %v (lease not released)", err)
	}
	_ = s.Release(t.Context(), l)
}

func TestLeaderConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  conversation.LeaderConfig
		ok   bool
	}{
		{"defaults", conversation.LeaderConfig{Name: "leader:x"}, true},
		{"no name", conversation.LeaderConfig{}, false},
		{"ttl too short", conversation.LeaderConfig{Name: "x", TTL: 100 * time.Millisecond}, false},
		{"renew slower than half the ttl", conversation.LeaderConfig{Name: "x", TTL: 2 * time.Second, RenewEvery: 1500 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
