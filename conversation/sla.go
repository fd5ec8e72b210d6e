package conversation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// slaDedupePrefix starts the dedupe keys of SLA sweeps: one breach of one
// ticket is recorded once, whichever replica sweeps first.
const slaDedupePrefix = "s:"

// SweepSLA records an sla_breached event for every queued ticket whose
// clock ran out without an agent action, at most maxTickets tickets per
// call. It returns how many breaches it recorded. Safe to run on every
// replica at once. Errors: those of Store.Tickets; a ticket that cannot
// be recorded now is retried by the next sweep.
func (e *Engine) SweepSLA(ctx context.Context, maxTickets int) (int, error) {
	now := e.cfg.Now()
	queue, err := e.store.Tickets(ctx, TicketQuery{Limit: maxTickets})
	if err != nil {
		return 0, fmt.Errorf("sweep SLA clocks: %w", err)
	}
	recorded := 0
	for _, t := range queue {
		ts := t.Ticket
		for _, clock := range ts.Breaches(now) {
			if slices.Contains(ts.Breached, clock) {
				continue
			}
			dedupe := slaDedupePrefix + clock + ":" + ts.ID
			m := &Message{ConversationKey: t.ConversationKey, DedupeKey: dedupe}
			res, err := e.run(ctx, t.ConversationKey, dedupe, m, now, nil, func(tn *turn, _ context.Context) error {
				if tn.conv.TicketState == nil || tn.conv.Ticket != ts.ID {
					return nil // the ticket changed since the queue was read
				}
				tn.recordBreaches()
				return nil
			})
			switch {
			case ctx.Err() != nil:
				return recorded, ctx.Err()
			case errors.Is(err, ErrNotFound): // expired since the queue was read
			case err != nil:
				e.cfg.Logger.Warn("SLA sweep: ticket not updated", "ticket", ts.ID, "err", err)
			case !res.Duplicate:
				recorded++
			}
			break // recordBreaches records every clock of the ticket at once
		}
	}
	return recorded, nil
}

// RunSLASweeper sweeps every interval until ctx is done.
func (e *Engine) RunSLASweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := e.SweepSLA(ctx, MaxReadLimit); err != nil {
			if ctx.Err() == nil {
				e.cfg.Logger.Warn("SLA sweep failed", "err", err)
			}
		} else if n > 0 {
			e.cfg.Logger.Info("SLA breaches recorded", "tickets", n)
		}
	}
}
