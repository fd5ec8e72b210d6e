package redisstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// pipelineGate is a go-redis hook that counts the batcher's pipelines and
// holds the first one until released.
type pipelineGate struct {
	mu        sync.Mutex
	pipelines int
	hold      chan struct{}
}

func (g *pipelineGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *pipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (g *pipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if connSetup(cmds) {
			return next(ctx, cmds)
		}
		g.mu.Lock()
		g.pipelines++
		first := g.pipelines == 1
		g.mu.Unlock()
		if first {
			<-g.hold
		}
		return next(ctx, cmds)
	}
}

// connSetup reports whether cmds are go-redis's set-up of a new
// connection (HELLO, CLIENT SETINFO, …), not the batcher's.
func connSetup(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		switch c.Name() {
		case "hello", "client", "auth", "select":
		default:
			return false
		}
	}
	return true
}

// TestBatcherSharesPipelines: calls that arrive while a pipeline is in
// flight go out together in the next one, each gets its own replies, in
// order, and a caller alone is sent at once.
func TestBatcherSharesPipelines(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = client.Close() })
	gate := gatedClient(t, client)
	b := &batcher{client: client}
	ctx := context.Background()

	first := make(chan error, 1)
	go func() {
		var c *redis.IntCmd
		err := b.do(ctx, func(p redis.Pipeliner) { c = p.Incr(ctx, "first") })
		if err == nil {
			err = c.Err()
		}
		first <- err
	}()
	// Wait for the first pipeline to be held, then queue ten more calls.
	waitFor(t, func() bool { gate.mu.Lock(); defer gate.mu.Unlock(); return gate.pipelines == 1 })
	const n = 10
	var wg sync.WaitGroup
	got := make([][2]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var a, c *redis.IntCmd
			key := "k" + strconv.Itoa(i)
			errs[i] = b.do(ctx, func(p redis.Pipeliner) {
				a = p.IncrBy(ctx, key, int64(i))
				c = p.IncrBy(ctx, key, 100)
			})
			if errs[i] == nil {
				got[i] = [2]int64{a.Val(), c.Val()}
			}
		})
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == n })
	close(gate.hold)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if want := [2]int64{int64(i), int64(i) + 100}; got[i] != want {
			t.Fatalf("call %d got replies %v, want %v (its own, in order)", i, got[i], want)
		}
	}
	if gate.pipelines != 2 {
		t.Fatalf("%d pipelines for 1 + %d calls, want 2 (the held one and one for the ten that waited)", gate.pipelines, n)
	}
	// Alone, a call goes out at once in a pipeline of its own.
	if err := b.do(ctx, func(p redis.Pipeliner) { p.Ping(ctx) }); err != nil || gate.pipelines != 3 {
		t.Fatalf("a lone call: err %v, %d pipelines, want nil and 3", err, gate.pipelines)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.flushers != 0 || len(b.pending) != 0 {
		t.Fatalf("after the calls: %d flushers, %d pending; want none", b.flushers, len(b.pending))
	}
}

// TestBatcherCallerContext: a caller whose context ends while its call
// waits gets the context's error at once; the others are not held up.
func TestBatcherCallerContext(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = client.Close() })
	gate := gatedClient(t, client)
	b := &batcher{client: client}
	bg := context.Background()
	done := make(chan error, 1)
	go func() { done <- b.do(bg, func(p redis.Pipeliner) { p.Ping(bg) }) }()
	waitFor(t, func() bool { gate.mu.Lock(); defer gate.mu.Unlock(); return gate.pipelines == 1 })
	ctx, cancel := context.WithCancel(bg)
	waiting := make(chan error, 1)
	go func() { waiting <- b.do(ctx, func(p redis.Pipeliner) { p.Ping(bg) }) }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pending) == 1 })
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want context.Canceled", err)
	}
	close(gate.hold)
	if err := <-done; err != nil {
		t.Fatalf("held caller: %v", err)
	}
	// The cancelled call still ran (as a sent command would after a
	// timeout) and the batcher is idle again.
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.flushers == 0 && len(b.pending) == 0 })
}

// TestBatcherRunAfterScriptFlush: run sends the script's source when Redis
// forgot it.
func TestBatcherRunAfterScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = client.Close() })
	b := &batcher{client: client}
	ctx := context.Background()
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	for want := int64(5); want <= 10; want += 5 {
		if got, err := b.run(ctx, script, []string{"n"}, 5).Int64(); err != nil || got != want {
			t.Fatalf("run = %d, %v; want %d", got, err, want)
		}
	}
}

// gatedClient warms client's connection (its set-up runs a pipeline of
// its own) and then adds a pipelineGate.
func gatedClient(t *testing.T, client *redis.Client) *pipelineGate {
	t.Helper()
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	gate := &pipelineGate{hold: make(chan struct{})}
	client.AddHook(gate)
	return gate
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
