package slack

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// pool runs acknowledged events on a fixed number of workers. Jobs wait
// in a bounded queue; a full queue refuses new ones, so the platform
// retries later instead of memory growing.
type pool struct {
	log   *slog.Logger
	jobs  chan func(abort <-chan struct{})
	abort chan struct{} // closed when Close gives up waiting: running jobs are cancelled
	wg    sync.WaitGroup

	mu     sync.RWMutex // held for reading while submitting, for writing to close jobs
	closed bool
	once   sync.Once
}

func newPool(workers, queue int, log *slog.Logger) *pool {
	p := &pool{log: log, jobs: make(chan func(<-chan struct{}), queue), abort: make(chan struct{})}
	for range workers {
		p.wg.Go(p.work)
	}
	return p
}

func (p *pool) work() {
	for job := range p.jobs {
		p.run(job)
	}
}

// run calls job, turning a panic into a log line: one bad event must not
// take the process down.
func (p *pool) run(job func(<-chan struct{})) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("slack event handler panicked", "panic", r)
		}
	}()
	job(p.abort)
}

// submit queues job, waiting up to wait for room. It returns false when
// the queue stayed full or the pool is closed.
func (p *pool) submit(wait time.Duration, job func(abort <-chan struct{})) bool {
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

// close stops accepting jobs and waits for the queued and running ones.
// When ctx ends first, running jobs are cancelled (their contexts end) and
// ctx's error is returned once they returned.
func (p *pool) close(ctx context.Context) error {
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
	select {
	case <-p.abort:
	default:
		close(p.abort)
	}
	<-done
	return ctx.Err()
}

// jobContext returns the context of one job: parent without its
// cancellation (the request is over once it was acknowledged), bounded by
// timeout, and cancelled when the pool aborts.
func jobContext(parent context.Context, abort <-chan struct{}, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), timeout)
	stop := make(chan struct{})
	go func() {
		select {
		case <-abort:
			cancel()
		case <-stop:
		}
	}()
	return ctx, func() {
		close(stop)
		cancel()
	}
}
