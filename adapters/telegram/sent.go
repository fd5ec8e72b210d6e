package telegram

import (
	"context"
	"strconv"
	"time"

	"github.com/tier0/tier0/adapters/recent"
	"github.com/tier0/tier0/conversation"
)

// Sent marks: every part of an outbound Telegram accepted is recorded in
// refs, so a retry on another replica or after a restart skips it.
const (
	// nsSent holds "<outbound id>#<part index>" → the Telegram message id.
	nsSent = "telegram-sent"
	// sentTTL is how long a sent mark lives: far longer than the
	// dispatcher keeps retrying one outbound.
	sentTTL = 24 * time.Hour
	// markTimeout bounds writing one mark; the write runs even when the
	// send's context ended right after Telegram accepted the message.
	markTimeout = 5 * time.Second
)

// partKey is the idempotency key of part i of outbound id.
func partKey(id string, i int) string { return id + "#" + strconv.Itoa(i) }

// unsentParts returns the indexes, in order, of the parts of outbound id
// (n parts) that were not delivered yet, by this process (done) or by
// any replica (refs). Errors: Unavailable when refs cannot tell; the
// dispatcher retries.
func (a *Adapter) unsentParts(ctx context.Context, done *recent.Set, id string, n int) ([]int, error) {
	todo := make([]int, 0, n)
	for i := range n {
		pid := partKey(id, i)
		if done.Has(pid) {
			continue
		}
		_, err := a.refs.GetRef(ctx, nsSent, pid)
		switch {
		case err == nil:
			done.Add(pid)
		case conversation.ErrorCode(err) == conversation.NotFound:
			todo = append(todo, i)
		default:
			return nil, conversation.Errorf(conversation.Unavailable, "telegram: check whether outbound %s part %d was sent: %w", id, i+1, err)
		}
	}
	return todo, nil
}

// markSent records that Telegram accepted part pid as message msgID. A
// failure to write the mark is logged, not returned: the message was
// delivered, and only a retry on another replica (or after a restart)
// could post it again.
func (a *Adapter) markSent(ctx context.Context, done *recent.Set, pid string, msgID int) {
	done.Add(pid)
	v := "sent"
	if msgID > 0 {
		v = strconv.Itoa(msgID)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := a.refs.PutRef(ctx, nsSent, pid, v, sentTTL); err != nil {
		a.log.Warn("telegram: could not record a sent message; a retry on another replica could post it again", "outbound_part", pid, "err", err)
	}
}
