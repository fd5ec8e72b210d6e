package whatsappcloud

import (
	"context"
	"strconv"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Sent marks: with Config.Refs set, every message part Graph accepted is
// recorded there, so a retry on another replica or after a restart skips
// it. Without Config.Refs the marks live only in this process.
const (
	// refsSent holds "<outbound id>#<part index>" → the wamid.
	refsSent = "wacloud-sent"
	// sentTTL is how long a sent mark lives: far longer than the
	// dispatcher keeps retrying one outbound.
	sentTTL = 24 * time.Hour
	// markTimeout bounds writing one mark; the write runs even when the
	// send's context ended right after Graph accepted the message.
	markTimeout = 5 * time.Second
)

// partKey is the idempotency key of part i of outbound id.
func partKey(id string, i int) string { return id + "#" + strconv.Itoa(i) }

// unsentParts returns the indexes, in order, of the parts of outbound id
// (n parts) that were not delivered yet, by this process or, with
// Config.Refs, by any replica. Errors: Unavailable when Config.Refs cannot
// tell; the dispatcher retries.
func (a *Adapter) unsentParts(ctx context.Context, id string, n int) ([]int, error) {
	todo := make([]int, 0, n)
	for i := range n {
		pid := partKey(id, i)
		if a.recent.Has(pid) {
			continue
		}
		if a.cfg.Refs == nil {
			todo = append(todo, i)
			continue
		}
		_, err := a.cfg.Refs.GetRef(ctx, refsSent, pid)
		switch {
		case err == nil:
			a.recent.Add(pid)
		case conversation.ErrorCode(err) == conversation.NotFound:
			todo = append(todo, i)
		default:
			return nil, conversation.Errorf(conversation.Unavailable, "whatsapp: check whether outbound %s part %d was sent: %w", id, i+1, err)
		}
	}
	return todo, nil
}

// markSent records that Graph accepted part pid as message wamid. A
// failure to write the mark is logged, not returned: the message was
// delivered, and only a retry on another replica (or after a restart)
// could send it again.
func (a *Adapter) markSent(ctx context.Context, pid, wamid string) {
	a.recent.Add(pid)
	if a.cfg.Refs == nil {
		return
	}
	v := wamid
	if v == "" || len(v) > maxMessageID {
		v = "sent"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := a.cfg.Refs.PutRef(ctx, refsSent, pid, v, sentTTL); err != nil {
		a.log.Warn("whatsapp: could not record a sent message; a retry on another replica could send it again", "outbound_part", pid, "err", err)
	}
}
