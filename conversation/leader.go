package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// LeaderLocker is what RunAsLeader needs of a store: leases that can be
// renewed. Both built-in stores provide it.
type LeaderLocker interface {
	Locker
	LeaseRenewer
}

// LeaderConfig configures RunAsLeader.
type LeaderConfig struct {
	// Name is the lease key, e.g. "leader:telegram:123456". Every replica
	// that competes for the same job uses the same name.
	Name string
	// TTL is how long a lease lasts without renewal: how long the other
	// replicas wait when the leader dies (default 15 s, at least 1 s).
	TTL time.Duration
	// RenewEvery is how often the leader renews (default TTL/3) and how
	// often a follower tries to take over.
	RenewEvery time.Duration
	Logger     *slog.Logger
	// OnChange, when set, is told when this replica gains or loses the
	// lead (for metrics and /readyz details). It must not block.
	OnChange func(leader bool)
}

func (c LeaderConfig) withDefaults() LeaderConfig {
	if c.TTL == 0 {
		c.TTL = 15 * time.Second
	}
	if c.RenewEvery == 0 {
		c.RenewEvery = c.TTL / 3
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnChange == nil {
		c.OnChange = func(bool) {}
	}
	return c
}

// Validate reports an unusable configuration. Errors: Invalid.
func (c LeaderConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case CheckKey("leader name", c.Name) != nil:
		return Errorf(Invalid, "leader: name must be 1..%d bytes", MaxStoreKeyLen)
	case c.TTL < time.Second || c.TTL > MaxLeaseTTL:
		return Errorf(Invalid, "leader: ttl %s must be within 1s..%s", c.TTL, MaxLeaseTTL)
	case c.RenewEvery <= 0 || c.RenewEvery > c.TTL/2:
		return Errorf(Invalid, "leader: renew interval %s must be positive and at most half the ttl %s", c.RenewEvery, c.TTL)
	}
	return nil
}

// RunAsLeader runs job only while this replica holds the lease cfg.Name,
// for jobs that must run on exactly one replica at a time (Telegram long
// polling, the WhatsApp connection). It campaigns every RenewEvery; once
// it holds the lease it starts job and renews the lease every RenewEvery.
// job's context is cancelled as soon as the lease is lost, or cannot be
// renewed before it runs out locally (the store unreachable): another
// replica may take over after TTL, so job must stop promptly when its
// context ends. The lease is released when job returns.
//
// When job returns nil (or because its context ended) the replica
// campaigns again. When job returns an error while it still leads,
// RunAsLeader returns that error: the job cannot go on here (logged out,
// banned) and retrying on another replica would not help either.
// RunAsLeader returns nil when ctx ends.
func RunAsLeader(ctx context.Context, locker LeaderLocker, cfg LeaderConfig, job func(ctx context.Context) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("leader", cfg.Name)
	tick := time.NewTicker(cfg.RenewEvery)
	defer tick.Stop()
	failing := false // the store was unreachable at the last try
	for {
		lease, err := locker.Acquire(ctx, cfg.Name, cfg.TTL)
		switch {
		case err == nil || errors.Is(err, ErrLeaseHeld):
			if failing {
				log.Info("leader: the store answers again")
				failing = false
			}
			if err == nil {
				if err := lead(ctx, locker, cfg, log, lease, job); err != nil {
					return err
				}
			}
		case ctx.Err() != nil:
		case !failing:
			log.Warn("leader: cannot campaign; retrying quietly until the store answers", "err", err)
			failing = true
		default:
			log.Debug("leader: cannot campaign", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// lead runs job under lease until job ends or the lease is lost.
func lead(ctx context.Context, locker LeaderLocker, cfg LeaderConfig, log *slog.Logger, lease Lease, job func(context.Context) error) error {
	log.Info("leader: took the lead", "token", lease.Token)
	cfg.OnChange(true)
	defer cfg.OnChange(false)

	jobCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- job(jobCtx) }()

	renew := time.NewTicker(cfg.RenewEvery)
	defer renew.Stop()
	for {
		select {
		case err := <-done:
			releaseLead(locker, lease, log)
			if err != nil && ctx.Err() == nil && jobCtx.Err() == nil {
				return fmt.Errorf("leader %s: %w", cfg.Name, err)
			}
			return nil
		case <-renew.C:
			rctx, cancel := context.WithDeadline(ctx, lease.Expires.Add(-cfg.RenewEvery/2))
			next, err := locker.Renew(rctx, lease, cfg.TTL)
			cancel()
			switch {
			case err == nil:
				lease = next
				continue
			case errors.Is(err, ErrLeaseLost):
				log.Warn("leader: lease lost; stopping the job")
			case time.Now().Before(lease.Expires.Add(-cfg.RenewEvery)):
				log.Warn("leader: cannot renew the lease; retrying", "err", err)
				continue
			default:
				log.Warn("leader: lease runs out before it could be renewed; stopping the job", "err", err)
			}
			stop()
			<-done
			return nil
		}
	}
}

func releaseLead(locker Locker, l Lease, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := locker.Release(ctx, l); err != nil {
		log.Warn("leader: release the lease", "err", err)
		return
	}
	log.Info("leader: gave up the lead")
}
