package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// maxUpdateAttempts is how often polling retries one update that keeps
// failing before it gives up on it (logged as an error), so one poison
// update cannot stop the bot.
const maxUpdateAttempts = 5

// offsetMaxAge: Telegram may restart update ids at a random number after
// a week without updates; an offset older than this is not trusted.
const offsetMaxAge = 6 * 24 * time.Hour

func (a *Adapter) offsetKey() string { return "offset:" + itoa(a.botID) }

// loadOffset returns the stored offset, 0 when there is none (or it is
// too old to trust): Telegram then sends every pending update and the
// engine's dedupe drops those handled before.
func (a *Adapter) loadOffset(ctx context.Context) int64 {
	v, err := a.refs.GetRef(ctx, refsNamespace, a.offsetKey())
	if err != nil {
		if !errors.Is(err, conversation.ErrNotFound) {
			a.log.Warn("telegram poll offset not loaded; starting from the oldest pending update", "err", err)
		}
		return 0
	}
	off, at, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(off, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	if ts, err := strconv.ParseInt(at, 10, 64); err == nil && time.Since(time.Unix(ts, 0)) > offsetMaxAge {
		return 0
	}
	return n
}

// saveOffset persists the offset (best effort: the next getUpdates
// confirms to Telegram anyway; a stale stored offset only means a few
// repeats after a restart, which the engine's dedupe drops).
func (a *Adapter) saveOffset(ctx context.Context, offset int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	v := strconv.FormatInt(offset, 10) + " " + strconv.FormatInt(time.Now().Unix(), 10)
	if err := a.refs.PutRef(ctx, refsNamespace, a.offsetKey(), v, 0); err != nil {
		a.log.Warn("telegram poll offset not saved", "offset", offset, "err", err)
	}
}

// RunPolling receives updates by long polling until ctx ends (or Close),
// then returns nil. Run it on one replica only (a leader lease): Telegram
// allows one poller per bot and ends the older one with 409 Conflict.
// Each update is handed to the engine; the offset that confirms it to
// Telegram is sent, and persisted in refs, only after the engine accepted
// it, so a crash or restart repeats (deduplicated) rather than loses
// updates. 409 is logged and retried with backoff (after deleteWebhook
// when Config.DeleteWebhookOnConflict is set and a webhook is the cause),
// 429 waits retry_after, network and server errors back off with jitter.
// Errors: Unauthorized when Telegram rejects the token (polling cannot
// recover from that).
func (a *Adapter) RunPolling(ctx context.Context) error {
	// Close ends a long poll in flight, not only the next one.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	offset := a.loadOffset(ctx)
	a.log.Info("telegram polling started", "offset", offset)
	defer a.log.Info("telegram polling stopped")
	var (
		failures int               // consecutive failed polls
		attempts = map[int64]int{} // update id → failed attempts
	)
	for {
		if ctx.Err() != nil || a.closed() {
			return nil
		}
		raws, err := a.api.GetUpdates(ctx, offset, a.cfg.PollTimeout, allowedUpdates)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait, fatal := a.pollFailed(ctx, classify(err), failures)
			if fatal != nil {
				return fatal
			}
			if !a.sleep(ctx, wait) {
				return nil
			}
			continue
		}
		failures = 0
		next, stalled := a.handleBatch(ctx, offset, raws, attempts)
		if next != offset {
			offset = next
			a.saveOffset(ctx, offset)
		}
		if stalled {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if !a.sleep(ctx, a.backoff(failures)) {
				return nil
			}
		}
	}
}

// handleBatch hands a batch to the engine in order and returns the offset
// after the last update done with. stalled is true when an update must be
// retried: the rest of the batch waits for it, to keep order.
func (a *Adapter) handleBatch(ctx context.Context, offset int64, raws []json.RawMessage, attempts map[int64]int) (int64, bool) {
	for _, raw := range raws {
		var head struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.UpdateID <= 0 {
			a.log.Warn("telegram update without an update_id skipped")
			continue
		}
		if head.UpdateID < offset {
			continue // confirmed before
		}
		hctx, cancel := context.WithTimeout(ctx, a.cfg.HandleTimeout)
		err := a.process(hctx, raw)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return offset, true
			}
			attempts[head.UpdateID]++
			if n := attempts[head.UpdateID]; n < maxUpdateAttempts {
				a.log.Warn("telegram update not accepted; will retry", "update_id", head.UpdateID, "attempt", n, "err", err)
				return offset, true
			}
			a.log.Error("telegram update dropped after repeated failures", "update_id", head.UpdateID, "attempts", maxUpdateAttempts, "err", err)
		}
		delete(attempts, head.UpdateID)
		offset = head.UpdateID + 1
	}
	return offset, false
}

// pollFailed decides what to do after a failed getUpdates: how long to
// wait, or a fatal error.
func (a *Adapter) pollFailed(ctx context.Context, err error, failures int) (time.Duration, error) {
	if ra := conversation.RetryAfter(err); ra > 0 {
		a.log.Info("telegram flood control on getUpdates", "retry_after", ra)
		return ra, nil
	}
	switch conversation.ErrorCode(err) {
	case conversation.Unauthorized:
		a.log.Error("telegram rejected the bot token; polling stops", "err", err)
		return 0, fmt.Errorf("telegram polling: %w", err)
	case conversation.Conflict:
		webhook := strings.Contains(strings.ToLower(err.Error()), "webhook")
		a.log.Warn("telegram getUpdates conflict: another poller or a webhook is active", "webhook", webhook, "err", err)
		if webhook && a.cfg.DeleteWebhookOnConflict {
			if derr := a.DeleteWebhook(ctx); derr != nil {
				a.log.Warn("telegram deleteWebhook failed", "err", derr)
			} else {
				a.log.Info("telegram webhook deleted so polling can run")
				return 0, nil
			}
		}
	default:
		a.log.Warn("telegram getUpdates failed", "failures", failures, "err", err)
	}
	return a.backoff(failures), nil
}

// backoff is PollBackoff doubled per failure, capped, with ±25% jitter.
func (a *Adapter) backoff(failures int) time.Duration {
	d := a.cfg.PollBackoff
	for i := 1; i < failures && d < a.cfg.MaxPollBackoff; i++ {
		d *= 2
	}
	d = min(d, a.cfg.MaxPollBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return max(d+jitter, time.Millisecond)
}

// sleep waits d; false when ctx ended or the adapter closed first.
func (a *Adapter) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-a.closing:
		return false
	case <-t.C:
		return true
	}
}
