package teams

import (
	"context"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Sent marks: every outbound the connector accepted is recorded in refs,
// so a retry on another replica or after a restart does not post it
// again.
const (
	// nsSent holds "<outbound id>#0" → the activity id Teams gave the
	// message. Teams messages are never split, so the part is always 0.
	nsSent = "teams-sent"
	// sentTTL is how long a sent mark lives: far longer than the
	// dispatcher keeps retrying one outbound.
	sentTTL = 24 * time.Hour
	// markTimeout bounds writing one mark; the write runs even when the
	// send's context ended right after the connector accepted the post.
	markTimeout = 5 * time.Second
)

// sentKey is the refs key of outbound id's sent mark.
func sentKey(id string) string { return refKey(id + "#0") }

// alreadySent reports whether outbound id was delivered before, by this
// process (the recent set) or by any replica (refs). Errors: Unavailable
// when refs cannot tell; the dispatcher retries.
func (a *Adapter) alreadySent(ctx context.Context, id string) (bool, error) {
	if a.recent.Has(id) {
		return true, nil
	}
	_, err := a.refs.GetRef(ctx, nsSent, sentKey(id))
	switch {
	case err == nil:
		a.recent.Add(id)
		return true, nil
	case conversation.ErrorCode(err) == conversation.NotFound:
		return false, nil
	}
	return false, conversation.Errorf(conversation.Unavailable, "teams: check whether outbound %s was sent: %w", id, err)
}

// markSent records that outbound id was delivered as activity activityID.
// A failure to write the mark is logged, not returned: the message was
// delivered, and only a retry on another replica (or after a restart)
// could post it again.
func (a *Adapter) markSent(ctx context.Context, id, activityID string) {
	a.recent.Add(id)
	v := activityID
	if v == "" || len(v) > maxRefKeyLen {
		v = "sent"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := a.refs.PutRef(ctx, nsSent, sentKey(id), v, sentTTL); err != nil {
		a.log.Warn("teams: could not record a sent message; a retry on another replica could post it again", "outbound", id, "err", err)
	}
}
