package conversation

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// DispatcherConfig tunes the Dispatcher. Zero values take the defaults.
type DispatcherConfig struct {
	Workers int // concurrent conversations being delivered (default 32)
	// LeaseTTL is the delivery claim per conversation: 10s when the store
	// can renew claims (they are renewed every LeaseTTL/3 while a batch
	// sends), else 30s. It is how long another replica waits for the
	// conversations of a dispatcher that died while delivering.
	LeaseTTL     time.Duration
	MaxAttempts  int           // tries per message before it is dead-lettered (default 8)
	BaseBackoff  time.Duration // first retry delay, doubled per attempt (default 200ms)
	MaxBackoff   time.Duration // cap on the retry delay (default 30s)
	PollInterval time.Duration // how often the backlog is scanned for leftovers (default 2s)
	// Grace is how old a backlog entry must be before the poller picks it
	// up, so fresh commits are left to the replica that made them (default 3s).
	Grace  time.Duration
	Logger *slog.Logger
}

func (c DispatcherConfig) withDefaults(renews bool) DispatcherConfig {
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
		if renews {
			c.LeaseTTL = 10 * time.Second
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 3 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Dispatcher delivers committed outbound messages through the registered
// channel Senders: per conversation in order, under a delivery lease so
// only one replica delivers a conversation at a time, with retries and
// backoff for Unavailable errors. A message is acked only after its Sender
// returned nil; a crash in between means one more Send with the same ID,
// which Senders treat as an idempotency key.
type Dispatcher struct {
	store   Store
	cfg     DispatcherConfig
	mu      sync.Mutex
	senders map[Channel]Sender
	queued  map[string]bool // key is in queue
	active  map[string]bool // key is being delivered by a worker here
	dirty   map[string]bool // key was notified while active
	queue   []string
	wake    chan struct{}
	tries   map[string]int         // outbound id → failed attempts
	claims  map[string]OutboxClaim // batches claimed at commit, by key
}

var _ Delivery = (*Dispatcher)(nil)

// NewDispatcher returns a dispatcher over store. Register senders, then Run.
func NewDispatcher(store Store, cfg DispatcherConfig) *Dispatcher {
	return &Dispatcher{
		store:   store,
		cfg:     cfg.withDefaults(canRenewClaims(store)),
		senders: make(map[Channel]Sender),
		queued:  make(map[string]bool),
		active:  make(map[string]bool),
		dirty:   make(map[string]bool),
		wake:    make(chan struct{}, 1),
		tries:   make(map[string]int),
		claims:  make(map[string]OutboxClaim),
	}
}

// Register sets the Sender for a channel, replacing any earlier one.
func (d *Dispatcher) Register(ch Channel, s Sender) {
	d.mu.Lock()
	d.senders[ch] = s
	d.mu.Unlock()
}

// Notify schedules delivery of key's outbox. It never blocks.
func (d *Dispatcher) Notify(key string) {
	d.mu.Lock()
	switch {
	case d.active[key]:
		d.dirty[key] = true
	case !d.queued[key]:
		d.queued[key] = true
		d.queue = append(d.queue, key)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// DeliverClaimed schedules delivery of a batch claimed during a commit:
// the first delivery of its key uses it instead of claiming again.
func (d *Dispatcher) DeliverClaimed(c OutboxClaim) {
	d.mu.Lock()
	d.claims[c.Key] = c
	d.mu.Unlock()
	d.Notify(c.Key)
}

// Queued is the number of conversations waiting for a delivery worker
// here or being delivered: the delivery queue's depth, for gauges.
func (d *Dispatcher) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) + len(d.active)
}

// ClaimTTL is the delivery lease duration (DispatcherConfig.LeaseTTL).
func (d *Dispatcher) ClaimTTL() time.Duration { return d.cfg.LeaseTTL }

// Run delivers until ctx is done, then waits for in-flight deliveries.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < d.cfg.Workers; i++ {
		wg.Go(func() { d.work(ctx) })
	}
	wg.Go(func() { d.poll(ctx) })
	wg.Wait()
	return nil
}

func (d *Dispatcher) next(ctx context.Context) (string, bool) {
	for {
		d.mu.Lock()
		if len(d.queue) > 0 {
			key := d.queue[0]
			d.queue[0] = ""
			d.queue = d.queue[1:]
			delete(d.queued, key)
			d.active[key] = true
			more := len(d.queue) > 0
			d.mu.Unlock()
			if more { // let another worker pick the next key
				select {
				case d.wake <- struct{}{}:
				default:
				}
			}
			return key, true
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-d.wake:
		}
	}
}

func (d *Dispatcher) work(ctx context.Context) {
	for {
		key, ok := d.next(ctx)
		if !ok {
			return
		}
		retry := d.deliver(ctx, key)
		d.mu.Lock()
		delete(d.active, key)
		again := d.dirty[key]
		delete(d.dirty, key)
		d.mu.Unlock()
		switch {
		case again:
			d.Notify(key)
		case retry > 0:
			time.AfterFunc(retry, func() { d.Notify(key) })
		}
	}
}

func (d *Dispatcher) poll(ctx context.Context) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		keys, err := d.store.Backlog(ctx, time.Now().Add(-d.cfg.Grace), 512)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Warn("outbox backlog scan failed", "err", err)
			}
			continue
		}
		for _, k := range keys {
			d.Notify(k)
		}
	}
}

// deliver sends key's pending messages in order. It returns a delay after
// which the key must be tried again, or 0 when nothing is left to do.
func (d *Dispatcher) deliver(ctx context.Context, key string) time.Duration {
	for {
		c, err := d.claim(ctx, key)
		if errors.Is(err, ErrLeaseHeld) {
			return d.cfg.Grace // someone else is delivering; check back later
		}
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Warn("outbox claim failed", "conversation", key, "err", err)
			}
			return d.cfg.BaseBackoff
		}
		var delivered []string
		var retry time.Duration
		kept := d.keepClaim(ctx, c)
		for _, o := range c.Messages {
			if !kept.usable(d.cfg.LeaseTTL / 4) {
				retry = time.Millisecond // claim nearly over or lost: go on with a fresh one
				break
			}
			if ctx.Err() != nil { // stopping: what is not sent yet stays pending
				retry = d.cfg.BaseBackoff
				break
			}
			if retry = d.send(ctx, o); retry > 0 {
				break
			}
			delivered = append(delivered, o.ID)
		}
		kept.stop()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = d.finish(fctx, c, delivered)
		cancel()
		if err != nil {
			d.cfg.Logger.Warn("outbox finish failed", "conversation", key, "err", err)
			return d.cfg.BaseBackoff
		}
		if retry > 0 || !c.More {
			return retry
		}
	}
}

const claimBatch = 64

// canRenewClaims reports whether store can extend the delivery claims the
// dispatcher takes from it.
func canRenewClaims(store Store) bool {
	if _, ok := store.(OutboxClaimer); ok {
		_, ok := store.(OutboxClaimRenewer)
		return ok
	}
	_, ok := store.(LeaseRenewer)
	return ok
}

// keptClaim is a delivery claim being renewed in the background while
// its batch is sent.
type keptClaim struct {
	mu      sync.Mutex
	expires time.Time
	lost    bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// usable reports whether the claim is still held with more than margin
// left.
func (k *keptClaim) usable(margin time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.lost && time.Now().Before(k.expires.Add(-margin))
}

// stop ends the renewal and waits for it.
func (k *keptClaim) stop() {
	close(k.done)
	k.wg.Wait()
}

// keepClaim renews c every LeaseTTL/3 until stop, when the store can.
// A renewal that finds the claim lost stops it for good; one that fails
// otherwise (the store unreachable) is tried again, and the claim's
// expiry decides.
func (d *Dispatcher) keepClaim(ctx context.Context, c OutboxClaim) *keptClaim {
	k := &keptClaim{expires: c.Lease.Expires, done: make(chan struct{})}
	renew := d.claimRenewer()
	if renew == nil {
		return k
	}
	k.wg.Go(func() {
		t := time.NewTicker(d.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.LeaseTTL/3)
			expires, err := renew(rctx, c)
			cancel()
			k.mu.Lock()
			switch {
			case err == nil:
				k.expires = expires
			case errors.Is(err, ErrLeaseLost):
				k.lost = true
			}
			k.mu.Unlock()
			if errors.Is(err, ErrLeaseLost) {
				d.cfg.Logger.Warn("delivery claim lost while sending; another dispatcher goes on", "conversation", c.Key)
				return
			}
		}
	})
	return k
}

// claimRenewer returns how to renew a claim of this store, nil when it
// cannot.
func (d *Dispatcher) claimRenewer() func(context.Context, OutboxClaim) (time.Time, error) {
	if _, ok := d.store.(OutboxClaimer); ok {
		r, ok := d.store.(OutboxClaimRenewer)
		if !ok {
			return nil
		}
		return func(ctx context.Context, c OutboxClaim) (time.Time, error) {
			n, err := r.RenewOutboxClaim(ctx, c, d.cfg.LeaseTTL)
			return n.Lease.Expires, err
		}
	}
	r, ok := d.store.(LeaseRenewer)
	if !ok {
		return nil
	}
	return func(ctx context.Context, c OutboxClaim) (time.Time, error) {
		l, err := r.Renew(ctx, c.Lease, d.cfg.LeaseTTL)
		return l.Expires, err
	}
}

// claim takes a batch: the one claimed at commit if there is one, else
// through the store's OutboxClaimer, or through the basic Outbox methods.
func (d *Dispatcher) claim(ctx context.Context, key string) (OutboxClaim, error) {
	d.mu.Lock()
	c, ok := d.claims[key]
	delete(d.claims, key)
	d.mu.Unlock()
	if ok {
		return c, nil
	}
	if oc, ok := d.store.(OutboxClaimer); ok {
		return oc.ClaimOutbox(ctx, key, d.cfg.LeaseTTL, claimBatch)
	}
	l, err := d.store.Acquire(ctx, "deliver/"+key, d.cfg.LeaseTTL)
	if err != nil {
		return OutboxClaim{}, err
	}
	msgs, err := d.store.Pending(ctx, key, claimBatch+1)
	if err != nil {
		_ = d.store.Release(ctx, l)
		return OutboxClaim{}, err
	}
	c = OutboxClaim{Key: key, Lease: l, Messages: msgs}
	if len(msgs) > claimBatch {
		c.Messages, c.More = msgs[:claimBatch], true
	}
	return c, nil
}

// finish acks what was delivered, releases the claim and settles the
// backlog entry when the batch emptied the outbox.
func (d *Dispatcher) finish(ctx context.Context, c OutboxClaim, delivered []string) error {
	if oc, ok := d.store.(OutboxClaimer); ok {
		return oc.FinishOutbox(ctx, c, delivered)
	}
	defer d.store.Release(ctx, c.Lease)
	for _, id := range delivered {
		if err := d.store.Ack(ctx, c.Key, id); err != nil {
			return err
		}
	}
	if len(delivered) == len(c.Messages) && !c.More {
		return d.store.Settle(ctx, c.Key)
	}
	return nil
}

// send makes one attempt. It returns 0 when the message is done with
// (delivered or dead-lettered) and a backoff delay otherwise.
func (d *Dispatcher) send(ctx context.Context, o Outbound) time.Duration {
	d.mu.Lock()
	s := d.senders[o.Channel]
	d.mu.Unlock()
	var err error
	if s == nil {
		err = Errorf(Invalid, "no sender registered for channel %q", o.Channel)
	} else {
		err = sendFinishing(ctx, s, o)
	}
	if err == nil {
		d.forget(o.ID)
		return 0
	}
	if ctx.Err() != nil {
		return d.cfg.BaseBackoff
	}
	if errors.Is(err, ErrElsewhere) {
		// Not a failed attempt: the replica holding the connection finds
		// the message in the backlog; this one looks again later.
		d.cfg.Logger.Debug("delivery left to the replica holding the connection", "conversation", o.ConversationKey, "channel", o.Channel)
		if wait := RetryAfter(err); wait > 0 {
			return min(wait, d.cfg.MaxBackoff)
		}
		return d.cfg.MaxBackoff
	}
	d.mu.Lock()
	d.tries[o.ID]++
	n := d.tries[o.ID]
	d.mu.Unlock()
	code := ErrorCode(err)
	if code == Unavailable && n < d.cfg.MaxAttempts {
		wait := d.cfg.BaseBackoff << (n - 1)
		if ra := RetryAfter(err); ra > wait {
			wait = ra
		}
		if wait > d.cfg.MaxBackoff || wait <= 0 {
			wait = d.cfg.MaxBackoff
		}
		d.cfg.Logger.Info("delivery failed, will retry", "conversation", o.ConversationKey, "channel", o.Channel, "attempt", n, "retry_in", wait, "err", err)
		return wait
	}
	d.cfg.Logger.Error("delivery failed permanently, dropping message", "conversation", o.ConversationKey, "channel", o.Channel, "outbound", o.ID, "attempts", n, "code", code, "err", err)
	d.forget(o.ID)
	return 0
}

// Send timeouts: a send gets sendTimeout; one that started when delivery
// stops (ctx ends, e.g. on shutdown) goes on for at most sendDrain.
const (
	sendTimeout = 30 * time.Second
	sendDrain   = 10 * time.Second
)

// sendFinishing calls s.Send with a context that outlives a cancelled ctx
// by at most sendDrain. Cancelled mid-request, a message the platform had
// already accepted would count as undelivered and another replica would
// send it again (the adapters' idempotency cannot always tell).
func sendFinishing(ctx context.Context, s Sender, o Outbound) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(sendDrain)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-sctx.Done():
		}
	})
	defer stop()
	return s.Send(sctx, o)
}

func (d *Dispatcher) forget(id string) {
	d.mu.Lock()
	delete(d.tries, id)
	d.mu.Unlock()
}

// RetryAfterError is an Unavailable error that carries the platform's
// requested delay (HTTP 429 Retry-After, Telegram retry_after).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return "retry after " + e.After.String() + ": " + e.Err.Error()
}

// Unwrap returns the cause; its code should be Unavailable.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the delay requested by a RetryAfterError in err's
// chain, or 0.
func RetryAfter(err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After
	}
	return 0
}
