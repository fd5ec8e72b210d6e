package workpool_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/workpool"
)

// waitLimit bounds the waits that must not run out; it is a safety net,
// not a speed assertion.
const waitLimit = 20 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestAwait(t *testing.T) {
	p := workpool.New("test", 1, 1, quiet())
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	long := workpool.Wait{Queue: waitLimit, Result: waitLimit, Job: waitLimit}

	// Done, with the work's error.
	boom := errors.New("boom")
	if out, err := p.Await(context.Background(), long, func(context.Context) error { return boom }); out != workpool.Done || !errors.Is(err, boom) {
		t.Fatalf("Await = %v, %v; want done, boom", out, err)
	}
	if out, err := p.Await(context.Background(), long, func(context.Context) error { return nil }); out != workpool.Done || err != nil {
		t.Fatalf("Await = %v, %v; want done, nil", out, err)
	}

	// The job's context outlives the caller's: a request that hung up
	// does not cut the work short.
	reqCtx, cancelReq := context.WithCancel(context.Background())
	cancelReq()
	if out, err := p.Await(reqCtx, long, func(ctx context.Context) error { return ctx.Err() }); out != workpool.Done || err != nil {
		t.Fatalf("Await with a cancelled request = %v, %v; want done, nil", out, err)
	}

	// Late: the work goes on after the wait; Busy: no room.
	release := make(chan struct{})
	running, finished := make(chan struct{}), make(chan struct{})
	out, err := p.Await(context.Background(), workpool.Wait{Queue: waitLimit, Result: time.Millisecond, Job: waitLimit}, func(context.Context) error {
		close(running)
		<-release
		close(finished)
		return nil
	})
	if out != workpool.Late || err != nil {
		t.Fatalf("Await of blocked work = %v, %v; want late", out, err)
	}
	<-running                                   // the worker is taken
	if !p.Submit(0, func(<-chan struct{}) {}) { // the one queue slot
		t.Fatal("Submit into the free queue slot refused")
	}
	if out, _ := p.Await(context.Background(), workpool.Wait{Result: waitLimit, Job: waitLimit}, func(context.Context) error { return nil }); out != workpool.Busy {
		t.Fatalf("Await with worker and queue full = %v, want busy", out)
	}
	close(release)
	select {
	case <-finished:
	case <-time.After(waitLimit):
		t.Fatal("late work never finished")
	}

	// A panic is an error for the waiter, and the pool goes on.
	if out, err := p.Await(context.Background(), long, func(context.Context) error { panic("bad input") }); out != workpool.Done || err == nil {
		t.Fatalf("Await of panicking work = %v, %v; want done with an error", out, err)
	}
	if out, err := p.Await(context.Background(), long, func(context.Context) error { return nil }); out != workpool.Done || err != nil {
		t.Fatalf("Await after a panic = %v, %v; want done, nil", out, err)
	}
}

func TestClose(t *testing.T) {
	p := workpool.New("test", 2, 4, quiet())
	ran := make(chan struct{}, 1)
	if !p.Submit(0, func(<-chan struct{}) { ran <- struct{}{} }) {
		t.Fatal("Submit refused")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	select {
	case <-ran:
	default:
		t.Fatal("Close returned before the queued job ran")
	}
	if p.Submit(0, func(<-chan struct{}) {}) {
		t.Fatal("Submit after Close accepted")
	}
	if out, _ := p.Await(context.Background(), workpool.Wait{}, func(context.Context) error { return nil }); out != workpool.Busy {
		t.Fatalf("Await after Close = %v, want busy", out)
	}

	// When Close gives up waiting, running jobs see their context end.
	p = workpool.New("test", 1, 0, quiet())
	started := make(chan struct{})
	out, _ := p.Await(context.Background(), workpool.Wait{Queue: waitLimit, Result: time.Millisecond}, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	if out != workpool.Late {
		t.Fatalf("Await = %v, want late", out)
	}
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context = %v, want context.Canceled", err)
	}
}

func TestConfigWithDefaults(t *testing.T) {
	if got, want := (workpool.Config{}).WithDefaults(), (workpool.Config{CommitWait: 10 * time.Second, Workers: 64, QueueSize: 256}); got != want {
		t.Fatalf("zero Config with defaults = %+v, want %+v", got, want)
	}
	set := workpool.Config{CommitWait: 3 * time.Second, Workers: 2, QueueSize: 5}
	if got := set.WithDefaults(); got != set {
		t.Fatalf("set Config with defaults = %+v, want it unchanged", got)
	}
}
