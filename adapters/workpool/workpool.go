// Package workpool runs the work of inbound platform messages (webhook
// requests, Socket Mode envelopes) on a fixed number of workers, and lets
// a door wait a bounded time for that work's outcome before it answers
// the platform: acknowledge once the message is durably accepted, ask for
// a retry otherwise. The Slack, Teams, Telegram and WhatsApp Cloud doors
// share it. It is not an adapter.
//
// A job's context is detached from the request that brought it (the
// platform may hang up once it has its answer), bounded by a per-job
// timeout, and cancelled when Close gives up waiting. A job that does not
// finish in time to be acknowledged goes on; the platform's retry finds
// its result (the engine's store-backed dedupe recognises a committed
// message).
package workpool

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults of Config fields left zero.
const (
	DefaultCommitWait = 10 * time.Second
	DefaultWorkers    = 64
	DefaultQueueSize  = 256
)

// Config is the worker pool part of a door's configuration.
type Config struct {
	// CommitWait is how long a request waits for its work to be
	// committed before the platform is answered (default 10s).
	CommitWait time.Duration
	// Workers is the number of jobs run at once (default 64); QueueSize
	// how many more may wait for a worker (default 256).
	Workers   int
	QueueSize int
}

// WithDefaults returns c with the defaults for the fields left zero.
func (c Config) WithDefaults() Config {
	if c.CommitWait == 0 {
		c.CommitWait = DefaultCommitWait
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// Pool runs jobs on a fixed number of workers. Jobs wait in a bounded
// queue; a full queue refuses new ones, so the platform retries later
// instead of memory growing. Safe for concurrent use.
type Pool struct {
	name  string
	log   *slog.Logger
	jobs  chan func(abort <-chan struct{})
	abort chan struct{} // closed when Close gives up waiting: running jobs are cancelled
	wg    sync.WaitGroup

	mu     sync.RWMutex // held for reading while submitting, for writing to close jobs
	closed bool
	once   sync.Once
}

// New starts a pool of workers goroutines (at least 1) with room for
// queue waiting jobs. name prefixes its log lines (e.g. "slack").
func New(name string, workers, queue int, log *slog.Logger) *Pool {
	if log == nil {
		log = slog.Default()
	}
	p := &Pool{name: name, log: log, jobs: make(chan func(<-chan struct{}), max(queue, 0)), abort: make(chan struct{})}
	for range max(workers, 1) {
		p.wg.Go(p.work)
	}
	return p
}

func (p *Pool) work() {
	for job := range p.jobs {
		p.run(job)
	}
}

// run calls job, turning a panic into a log line: one bad message must
// not take the process down.
func (p *Pool) run(job func(<-chan struct{})) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error(p.name+" inbound handler panicked", "panic", r)
		}
	}()
	job(p.abort)
}

// Submit queues job, waiting up to wait for room. It returns false when
// the queue stayed full or the pool is closed. job gets a channel that is
// closed when Close gives up waiting for it.
func (p *Pool) Submit(wait time.Duration, job func(abort <-chan struct{})) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false
	}
	select {
	case p.jobs <- job:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case p.jobs <- job:
		return true
	case <-t.C:
		return false
	}
}

// Outcome says what became of work handed to [Pool.Await].
type Outcome int

const (
	// Done: the work returned within the wait; its error is returned
	// beside the outcome.
	Done Outcome = iota
	// Busy: the queue had no room (or the pool is closed); the work
	// never ran.
	Busy
	// Late: the work is queued or running but did not return within the
	// wait; it goes on.
	Late
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Busy:
		return "busy"
	case Late:
		return "late"
	}
	return "unknown"
}

// Wait bounds one [Pool.Await].
type Wait struct {
	// Queue is how long to wait for room in the queue.
	Queue time.Duration
	// Result is how long to wait, once queued, for the work to return.
	Result time.Duration
	// Job bounds the work itself (its context's timeout); it goes on
	// after Result ran out, up to Job.
	Job time.Duration
}

// Await queues work with a context derived from ctx (see [JobContext])
// and waits for it to return, within w. It returns Done and work's error,
// or Busy or Late (with a nil error).
func (p *Pool) Await(ctx context.Context, w Wait, work func(ctx context.Context) error) (Outcome, error) {
	done := make(chan error, 1)
	ok := p.Submit(w.Queue, func(abort <-chan struct{}) {
		jctx, cancel := JobContext(ctx, abort, w.Job)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				done <- errPanic
				panic(r) // logged by run
			}
		}()
		done <- work(jctx)
	})
	if !ok {
		return Busy, nil
	}
	t := time.NewTimer(w.Result)
	defer t.Stop()
	select {
	case err := <-done:
		return Done, err
	case <-t.C:
		return Late, nil
	}
}

// errPanic is the error of work that panicked.
var errPanic = panicError{}

type panicError struct{}

func (panicError) Error() string { return "the inbound handler panicked" }

// Close stops accepting jobs and waits for the queued and running ones.
// When ctx ends first, running jobs are cancelled (their contexts end)
// and ctx's error is returned once they returned. Calling it again waits
// again.
func (p *Pool) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.jobs)
		p.mu.Unlock()
	})
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	select {
	case <-p.abort:
	default:
		close(p.abort)
	}
	p.mu.Unlock()
	<-done
	return ctx.Err()
}

// JobContext returns the context of one job: parent without its
// cancellation (the request is over once it was answered), bounded by
// timeout (none when timeout <= 0), and cancelled when abort is closed.
// cancel must be called when the job ends.
func JobContext(parent context.Context, abort <-chan struct{}, timeout time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	ctx, stopCtx := context.WithCancel(context.WithoutCancel(parent))
	if timeout > 0 {
		var stopTimeout context.CancelFunc
		ctx, stopTimeout = context.WithTimeout(ctx, timeout)
		inner := stopCtx
		stopCtx = func() { stopTimeout(); inner() }
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-abort:
			stopCtx()
		case <-stop:
		}
	}()
	return ctx, func() {
		close(stop)
		stopCtx()
	}
}
