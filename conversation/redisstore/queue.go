package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

// queueScanBatch and queueScanMax bound one Tickets call's reading of the
// queue index.
const (
	queueScanBatch = 200
	queueScanMax   = 20000
)

// Tickets lists the queue (see conversation.TicketQueue). The queue index
// is a hint written before each commit; every entry is checked against
// the conversation's stored state, and entries whose conversation expired
// or whose ticket is no longer queued are removed. Errors: Invalid,
// Unavailable, Internal.
func (s *Store) Tickets(ctx context.Context, q conversation.TicketQuery) ([]conversation.TicketSummary, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var out []conversation.TicketSummary
	var stale []redis.Z
	for start := int64(0); start < queueScanMax && len(out) < q.Limit; start += queueScanBatch {
		entries, err := s.client.ZRangeWithScores(ctx, s.tickets, start, start+queueScanBatch-1).Result()
		if err != nil {
			return nil, fail("read ticket queue", "", err)
		}
		if len(entries) == 0 {
			break
		}
		pipe := s.client.Pipeline()
		states := make([]*redis.StringCmd, len(entries))
		for i, e := range entries {
			states[i] = pipe.HGet(ctx, s.tag(e.Member.(string))+":state", "d")
		}
		_, _ = pipe.Exec(ctx)
		for i, e := range entries {
			k := e.Member.(string)
			raw, err := states[i].Result()
			if errors.Is(err, redis.Nil) {
				stale = append(stale, e)
				continue
			}
			if err != nil {
				return nil, fail("read ticket queue", k, err)
			}
			var c conversation.Conversation
			if err := conversation.UnmarshalRecord([]byte(raw), &c); err != nil {
				return nil, conversation.Errorf(conversation.Internal, "ticket queue: decode conversation %q: %w", k, err)
			}
			if !c.TicketState.Queued() {
				stale = append(stale, e)
				continue
			}
			if t := conversation.SummaryOf(&c); q.Matches(t) && len(out) < q.Limit {
				out = append(out, t)
			}
		}
	}
	// Remove stale entries only while their score is the one read: a
	// commit that re-queued the conversation meanwhile wrote a new score.
	// Best effort: the next read retries.
	for _, e := range stale {
		_ = settleScript.Run(ctx, s.client, []string{s.tickets}, e.Member, strconv.FormatFloat(e.Score, 'f', -1, 64)).Err()
	}
	// The index orders by rank already; equal ranks by key, like the
	// embedded store.
	conversation.SortQueue(out)
	return out, nil
}

// QueueVersion returns the ticket queue's version (see
// conversation.QueueVersioner): one GET of <prefix>:tickets:version,
// which Commit increments after every commit of a queued ticket and
// after a commit that took a ticket out of the queue. 0 when no ticket
// was ever queued. Errors: Unavailable, Internal (a stored value that is
// not a number).
func (s *Store) QueueVersion(ctx context.Context) (uint64, error) {
	raw, err := s.client.Get(ctx, s.queueVer).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("read ticket queue version", "", err)
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, conversation.Errorf(conversation.Internal, "redisstore: ticket queue version %q: %w", raw, err)
	}
	return v, nil
}

// bumpQueue moves the queue version after the commit script ran. It is
// best effort and never fails the commit, which is already written: it
// runs even when the caller's ctx has ended, and when Redis is down the
// watchers notice this change with the next one.
func (s *Store) bumpQueue(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.client.Incr(ctx, s.queueVer).Err()
}
