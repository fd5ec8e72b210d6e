package redisstore

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// The hot commands of a turn (begin, commit, delivery claim and finish)
// go through a batcher: callers that arrive while a round trip is in
// flight share the next pipeline. A write on a loopback socket costs about
// as much CPU as a small script run inside Redis, on both sides, so under
// load one pipeline of many conversations' commands costs a fraction of
// as many separate round trips; with nothing in flight a caller sends its
// own commands at once, as without a batcher. Commands of one caller stay
// in their order and in one pipeline; commands of different callers touch
// different conversations (each script keeps to its conversation's keys),
// so running them in one pipeline changes nothing of what each does.
// A pipeline is sent only when the one before it has returned, so the
// wait for a round trip is when calls gather.

const (
	// maxBatch is the most callers whose commands share one pipeline.
	maxBatch = 64
	// maxFlushers is the most pipelines in flight at once. One serves a
	// single Redis best: measured with `tier0 bench -mode engine
	// -knowledge index` at 2,000 and 3,000 turns/s, one pipeline in flight
	// took the least CPU per turn and kept the lowest p99 (2 and 4 more
	// CPU, 16 a higher p99); Redis runs the commands one after the other
	// anyway.
	maxFlushers = 1
)

type batcher struct {
	client redis.UniversalClient

	mu       sync.Mutex
	pending  []*batchCall
	flushers int
}

type batchCall struct {
	queue func(redis.Pipeliner)
	done  chan struct{}
}

// do queues the caller's commands (queue adds them to the pipeline it is
// given, keeping the Cmds to read afterwards) and returns once they ran;
// read each Cmd's Err for its outcome. It returns ctx's error when ctx
// ends first: the commands may still run, as after a timeout on the wire.
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner)) error {
	call := &batchCall{queue: queue, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, call)
	flush := b.flushers < maxFlushers
	if flush {
		b.flushers++
	}
	b.mu.Unlock()
	if flush {
		b.flush(call)
	}
	select {
	case <-call.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush sends pending calls in pipelines until own has run; if calls are
// still waiting then, a goroutine goes on sending them, so the caller is
// not held up by the others' round trips.
func (b *batcher) flush(own *batchCall) {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.flushers--
			b.mu.Unlock()
			return
		}
		if own != nil && isDone(own.done) {
			b.mu.Unlock()
			go b.flush(nil)
			return
		}
		n := min(len(b.pending), maxBatch)
		batch := make([]*batchCall, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		b.mu.Unlock()
		pipe := b.client.Pipeline()
		for _, c := range batch {
			c.queue(pipe)
		}
		// The pipeline outlives any one caller's context; the client's
		// read and write timeouts bound it.
		_, _ = pipe.Exec(context.Background())
		for _, c := range batch {
			close(c.done)
		}
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// run runs script through the batcher and returns its Cmd, sending the
// source when Redis does not know it (after a restart or SCRIPT FLUSH).
func (b *batcher) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	var cmd *redis.Cmd
	if err := b.do(ctx, func(p redis.Pipeliner) { cmd = script.EvalSha(ctx, p, keys, args...) }); err != nil {
		c := redis.NewCmd(ctx)
		c.SetErr(err)
		return c
	}
	if isNoScript(cmd.Err()) {
		return script.Run(ctx, b.client, keys, args...)
	}
	return cmd
}
