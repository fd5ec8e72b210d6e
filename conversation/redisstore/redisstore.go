// Package redisstore implements conversation.Store on Redis (standalone,
// Sentinel or Cluster through go-redis's UniversalClient), for running
// several tier0 replicas against one shared state.
//
// # Key layout
//
// Every key of one conversation carries the conversation key as a hash tag,
// so everything a commit touches lives in one cluster slot and one Lua
// script can change it atomically:
//
//	<prefix>:{<key>}:state        hash: v = version, d = conversation JSON
//	<prefix>:{<key>}:lease        fencing token of the current lease (PX ttl)
//	<prefix>:{<key>}:fence        fencing counter (INCR)
//	<prefix>:{<key>}:seen:<dedupe> dedupe mark (PX DedupeTTL)
//	<prefix>:{<key>}:outbox       list of pending outbound ids, oldest first
//	<prefix>:{<key>}:outmsg       hash: outbound id -> outbound JSON
//	<prefix>:{<key>}:eventlog     list of event JSON, the newest EventsMaxLen
//	<prefix>:{<key>}:events       stream of event JSON written before 2026-12 (read, never written)
//	<prefix>:{<key>}:dlease       the dispatcher's delivery lease (ClaimOutbox)
//	<prefix>:{<key>}:dfence       fencing counter of delivery leases
//	<prefix>:outbox:backlog       zset: conversation key -> last hint (unix µs)
//	<prefix>:tickets              zset: conversation key -> queue rank of its open ticket
//	<prefix>:tickets:version      counter (INCR): moves with every change of the queue (QueueVersion)
//	<prefix>:seq:{<name>}         counters for NextSequence
//	<prefix>:ref:{<ns>}:<key>     platform references (Refs), PX ttl
//
// In <key>, '%', '{' and '}' are percent-escaped so the hash tag always
// ends where it should and distinct keys never share a name. All
// per-conversation keys expire after Config.IdleTTL without a commit.
//
// The backlog hint of a commit is written before (in the same pipeline as)
// the commit script; its score is the commit time in microseconds, so a
// later hint always changes it and Settle can tell it was written.
//
// Arguments are checked against the store limits of package conversation
// (conversation.MaxStoreKeyLen, MaxReadLimit, MaxLeaseTTL, …), shared
// with every other store.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
)

// Store is a conversation.Store on Redis. It is safe for concurrent use by
// many goroutines and many processes sharing one Redis.
type Store struct {
	client    redis.UniversalClient
	cfg       Config
	backlog   string
	tickets   string // zset: conversation key → QueueRank of its open ticket
	queueVer  string // counter: the ticket queue's version
	batch     *batcher
	cluster   bool // the client is a Cluster client: no script across slots
	closeOnce sync.Once
	closeErr  error
}

var (
	_ conversation.Store          = (*Store)(nil)
	_ conversation.TurnStarter    = (*Store)(nil)
	_ conversation.OutboxClaimer  = (*Store)(nil)
	_ conversation.CommitClaimer  = (*Store)(nil)
	_ conversation.QueueVersioner = (*Store)(nil)
)

// New returns a store over client, which it takes over: Close closes it.
// It does not contact Redis (use Ping). Errors: Invalid for a bad Config.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		return nil, conversation.Errorf(conversation.Invalid, "redisstore: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	cfg = cfg.withDefaults()
	_, cluster := client.(*redis.ClusterClient)
	return &Store{client: client, cfg: cfg, backlog: cfg.Prefix + ":outbox:backlog", tickets: cfg.Prefix + ":tickets",
		queueVer: cfg.Prefix + ":tickets:version", batch: &batcher{client: client}, cluster: cluster}, nil
}

// Client returns the store's Redis client, for health checks and tooling.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Config returns the store's configuration with defaults applied.
func (s *Store) Config() Config { return s.cfg }

var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// tag returns "<prefix>:{<escaped key>}", the common start of every key of
// one conversation.
func (s *Store) tag(key string) string {
	return s.cfg.Prefix + ":{" + tagEscaper.Replace(key) + "}"
}

// convKeys lists the keys of one conversation in the order commitScript
// expects them.
func (s *Store) convKeys(key, dedupe string) []string {
	t := s.tag(key)
	return []string{t + ":state", t + ":lease", t + ":seen:" + dedupe, t + ":outbox", t + ":outmsg", t + ":eventlog", t + ":fence", t + ":dlease", t + ":dfence"}
}

// Load returns the stored conversation. Errors: NotFound, Invalid (bad
// key), Unavailable, Internal (undecodable state).
func (s *Store) Load(ctx context.Context, key string) (*conversation.Conversation, error) {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return nil, err
	}
	b, err := s.client.HGet(ctx, s.tag(key)+":state", "d").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load conversation %q: %w", key, conversation.ErrNotFound)
	}
	if err != nil {
		return nil, fail("load conversation", key, err)
	}
	var c conversation.Conversation
	if err := conversation.UnmarshalRecord(b, &c); err != nil {
		return nil, conversation.Errorf(conversation.Internal, "load conversation %q: decode stored state: %w", key, err)
	}
	return &c, nil
}

// Acquire takes the lease on key for ttl with a new fencing token.
// Errors: ErrLeaseHeld (Conflict), Invalid (bad key or ttl), Unavailable.
func (s *Store) Acquire(ctx context.Context, key string, ttl time.Duration) (conversation.Lease, error) {
	if err := conversation.CheckKey("lease key", key); err != nil {
		return conversation.Lease{}, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.Lease{}, err
	}
	// The lease may end sooner for us than for Redis, never later.
	expires := time.Now().Add(ttl)
	t := s.tag(key)
	token, err := acquireScript.Run(ctx, s.client, []string{t + ":lease", t + ":fence"},
		ttl.Milliseconds(), s.cfg.IdleTTL.Milliseconds()).Int64()
	if err != nil {
		return conversation.Lease{}, fail("acquire lease", key, err)
	}
	if token <= 0 {
		return conversation.Lease{}, fmt.Errorf("acquire lease %q: %w", key, conversation.ErrLeaseHeld)
	}
	return conversation.Lease{Key: key, Token: uint64(token), Expires: expires}, nil
}

// Release gives l up if it is still the current lease of its key; a lease
// that expired or was taken over is left alone. Errors: Invalid,
// Unavailable.
func (s *Store) Release(ctx context.Context, l conversation.Lease) error {
	if err := conversation.CheckKey("lease key", l.Key); err != nil {
		return err
	}
	err := releaseScript.Run(ctx, s.client, []string{s.tag(l.Key) + ":lease"}, strconv.FormatUint(l.Token, 10)).Err()
	if err != nil {
		return fail("release lease", l.Key, err)
	}
	return nil
}

// Seen reports whether dedupeKey was committed for conversation key within
// DedupeTTL. Errors: Invalid, Unavailable.
func (s *Store) Seen(ctx context.Context, key, dedupeKey string) (bool, error) {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return false, err
	}
	if err := conversation.CheckKey("dedupe key", dedupeKey); err != nil {
		return false, err
	}
	n, err := s.client.Exists(ctx, s.tag(key)+":seen:"+dedupeKey).Result()
	if err != nil {
		return false, fail("check dedupe key", key, err)
	}
	return n == 1, nil
}

// Commit applies c atomically under l and releases l; see
// conversation.Store. When c has outbound messages it first writes a
// backlog hint (a crash between hint and commit leaves only a hint, which
// Settle clears), so it takes two round trips, otherwise one. Errors:
// ErrLeaseLost, ErrDuplicate, ErrStaleVersion (Conflict), Invalid,
// Unavailable.
func (s *Store) Commit(ctx context.Context, l conversation.Lease, c conversation.Commit) error {
	_, _, err := s.commit(ctx, l, c, 0)
	return err
}

// CommitClaim is Commit that also claims the new messages for delivery
// when nothing older is pending and no dispatcher is delivering; see
// conversation.CommitClaimer. Same round trips and errors as Commit.
func (s *Store) CommitClaim(ctx context.Context, l conversation.Lease, c conversation.Commit, ttl time.Duration) (conversation.OutboxClaim, bool, error) {
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.OutboxClaim{}, false, err
	}
	return s.commit(ctx, l, c, ttl)
}

// commit runs commitScript; claimTTL > 0 asks it to claim the new
// outbound messages for delivery.
func (s *Store) commit(ctx context.Context, l conversation.Lease, c conversation.Commit, claimTTL time.Duration) (conversation.OutboxClaim, bool, error) {
	var none conversation.OutboxClaim
	// Event ids are the new version and the event's place in the commit:
	// unique in the conversation's log, known before the script runs.
	events := slices.Clone(c.Events)
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = strconv.FormatInt(c.Conversation.Version+1, 10) + "-" + strconv.Itoa(i+1)
		}
	}
	withIDs := c
	withIDs.Events = events
	p, err := withIDs.Encode(l)
	if err != nil {
		return none, false, err
	}
	key := c.Conversation.Key
	args := make([]any, 0, 11+len(p.Events)+2*len(p.Outbound))
	dedupe := "0"
	if c.DedupeKey != "" {
		dedupe = "1"
	}
	args = append(args, strconv.FormatUint(l.Token, 10), strconv.FormatInt(c.Conversation.Version, 10),
		strconv.FormatInt(c.Conversation.Version+1, 10), p.State, dedupe,
		s.cfg.IdleTTL.Milliseconds(), s.cfg.DedupeTTL.Milliseconds(), s.cfg.EventsMaxLen,
		len(p.Events), len(p.Outbound), claimTTL.Milliseconds())
	for _, e := range p.Events {
		args = append(args, e)
	}
	for i, o := range p.Outbound {
		args = append(args, c.Outbound[i].ID, o)
	}
	keys := s.convKeys(key, c.DedupeKey)
	var cmd *redis.Cmd
	hintScore := float64(time.Now().UnixMicro())
	claimStart := time.Now()
	if len(c.Outbound) > 0 || c.Conversation.TicketState != nil {
		// Hints first, in the same round trip: a crash after them leaves
		// only hints. An outbox hint is cleared by Settle; a ticket queue
		// entry is checked against the stored state when the queue is read.
		var hint redis.Cmder
		var queued redis.Cmder
		var removed, bumped *redis.IntCmd
		ts := c.Conversation.TicketState
		if err := s.batch.do(ctx, func(pipe redis.Pipeliner) {
			if len(c.Outbound) > 0 {
				hint = pipe.ZAdd(ctx, s.backlog, redis.Z{Score: hintScore, Member: key})
			}
			if ts.Queued() {
				queued = pipe.ZAdd(ctx, s.tickets, redis.Z{Score: conversation.QueueRank(*ts), Member: key})
			} else if ts != nil {
				removed = pipe.ZRem(ctx, s.tickets, key)
				queued = removed
			}
			cmd = commitScript.EvalSha(ctx, pipe, keys, args...)
			if ts.Queued() {
				// A queued ticket's entry changes with every commit (its
				// UpdatedAt at least). The version moves after the script, so
				// whoever reads the new version finds the commit — except on
				// Cluster, where the pipeline's commands go to their nodes in
				// parallel (see conversation.QueueVersioner).
				bumped = pipe.Incr(ctx, s.queueVer)
			}
		}); err != nil {
			return none, false, fail("commit conversation", key, err)
		}
		// The version moves (once more) after the script ran when the
		// commit took an entry out of the queue, whatever the script
		// answered (ZREM found one: Redis is up; most commits of a ticket
		// that left the queue find none and leave the version alone), and
		// when the pipelined INCR failed or ran before the script
		// (NOSCRIPT). This costs a round trip, about once per ticket.
		bump := removed != nil && removed.Val() == 1
		for _, h := range []redis.Cmder{hint, queued} {
			if h != nil && h.Err() != nil {
				if bump {
					s.bumpQueue(ctx)
				}
				return none, false, fail("commit conversation", key, h.Err())
			}
		}
		reran := isNoScript(cmd.Err())
		if reran {
			cmd = commitScript.Run(ctx, s.client, keys, args...)
		}
		if bumped != nil && (reran || bumped.Err() != nil) && cmd.Err() == nil {
			bump = true
		}
		if bump {
			s.bumpQueue(ctx)
		}
	} else {
		cmd = s.batch.run(ctx, commitScript, keys, args...)
	}
	res, err := cmd.StringSlice()
	if err != nil {
		return none, false, fail("commit conversation", key, err)
	}
	if len(res) == 0 {
		return none, false, conversation.Errorf(conversation.Internal, "commit conversation %q: empty script reply", key)
	}
	switch res[0] {
	case "OK":
	case "LEASE":
		return none, false, fmt.Errorf("commit conversation %q with lease token %d: %w", key, l.Token, conversation.ErrLeaseLost)
	case "DUP":
		return none, false, fmt.Errorf("commit conversation %q: dedupe key %q: %w", key, c.DedupeKey, conversation.ErrDuplicate)
	case "STALE":
		return none, false, fmt.Errorf("commit conversation %q at version %d: %w", key, c.Conversation.Version, conversation.ErrStaleVersion)
	default:
		return none, false, conversation.Errorf(conversation.Internal, "commit conversation %q: unexpected script reply %q", key, res[0])
	}
	c.Conversation.Version++
	for i := range c.Events {
		c.Events[i].ID = events[i].ID
	}
	if len(res) < 2 {
		return none, false, nil
	}
	token, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return none, false, conversation.Errorf(conversation.Internal, "commit conversation %q: bad delivery token %q", key, res[1])
	}
	return conversation.OutboxClaim{
		Key:      key,
		Lease:    conversation.Lease{Key: key, Token: token, Expires: claimStart.Add(claimTTL)},
		Messages: slices.Clone(c.Outbound),
		Mark:     strconv.FormatFloat(hintScore, 'f', -1, 64),
	}, true, nil
}

// Pending returns up to limit undelivered messages of key, oldest first.
// Errors: Invalid, Unavailable, Internal (undecodable message).
func (s *Store) Pending(ctx context.Context, key string, limit int) ([]conversation.Outbound, error) {
	if err := conversation.CheckRead(key, limit); err != nil {
		return nil, err
	}
	t := s.tag(key)
	vals, err := pendingScript.Run(ctx, s.client, []string{t + ":outbox", t + ":outmsg"}, limit).Slice()
	if err != nil {
		return nil, fail("read outbox", key, err)
	}
	out := make([]conversation.Outbound, 0, len(vals))
	for _, v := range vals {
		raw, ok := v.(string)
		if !ok { // an id without its message: nothing to deliver
			continue
		}
		var o conversation.Outbound
		if err := conversation.UnmarshalRecord([]byte(raw), &o); err != nil {
			return nil, conversation.Errorf(conversation.Internal, "read outbox of %q: decode message: %w", key, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// Ack removes outbound message id of key; an unknown id is not an error.
// Errors: Invalid, Unavailable.
func (s *Store) Ack(ctx context.Context, key, id string) error {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return err
	}
	if err := conversation.CheckKey("outbound id", id); err != nil {
		return err
	}
	t := s.tag(key)
	if err := ackScript.Run(ctx, s.client, []string{t + ":outbox", t + ":outmsg"}, id).Err(); err != nil {
		return fail("ack outbound", key, err)
	}
	return nil
}

// Backlog returns up to limit conversation keys whose last backlog hint is
// older than olderThan, oldest first. Errors: Invalid, Unavailable.
func (s *Store) Backlog(ctx context.Context, olderThan time.Time, limit int) ([]string, error) {
	if err := conversation.CheckLimit(limit); err != nil {
		return nil, err
	}
	keys, err := s.client.ZRangeByScore(ctx, s.backlog, &redis.ZRangeBy{
		Min: "-inf", Max: "(" + strconv.FormatInt(olderThan.UnixMicro(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fail("read outbox backlog", "", err)
	}
	return keys, nil
}

// Settle removes key from the backlog when its outbox is empty, no turn
// holds its lease and no hint was written since Settle read the entry.
// Errors: Invalid, Unavailable.
func (s *Store) Settle(ctx context.Context, key string) error {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return err
	}
	score, err := s.client.ZScore(ctx, s.backlog, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fail("settle outbox", key, err)
	}
	t := s.tag(key)
	drained, err := drainedScript.Run(ctx, s.client, []string{t + ":outbox", t + ":lease"}).Int64()
	if err != nil {
		return fail("settle outbox", key, err)
	}
	if drained != 1 {
		return nil
	}
	err = settleScript.Run(ctx, s.client, []string{s.backlog}, key, strconv.FormatFloat(score, 'f', -1, 64)).Err()
	if err != nil {
		return fail("settle outbox", key, err)
	}
	return nil
}

// Events returns up to limit of the newest events of key, oldest first.
// Events stored without an ID get their stream entry id. Errors: Invalid,
// Unavailable, Internal (undecodable event).
func (s *Store) Events(ctx context.Context, key string, limit int) ([]conversation.Event, error) {
	if err := conversation.CheckRead(key, limit); err != nil {
		return nil, err
	}
	t := s.tag(key)
	raws, err := s.client.LRange(ctx, t+":eventlog", -int64(limit), -1).Result()
	if err != nil {
		return nil, fail("read events", key, err)
	}
	var evs []conversation.Event
	if len(raws) < limit {
		// A conversation last changed before the event log replaced the
		// event stream keeps its older events there until it expires.
		if evs, err = s.streamEvents(ctx, key, limit-len(raws)); err != nil {
			return nil, err
		}
	}
	for i, raw := range raws {
		var e conversation.Event
		if err := conversation.UnmarshalRecord([]byte(raw), &e); err != nil {
			return nil, conversation.Errorf(conversation.Internal, "read events of %q: decode event %d of the log: %w", key, i, err)
		}
		e.ConversationKey = key // stored without it (see Commit.Encode)
		evs = append(evs, e)
	}
	return evs, nil
}

// streamEvents returns up to limit of the newest events of key's event
// stream, the format before the event log, oldest first.
func (s *Store) streamEvents(ctx context.Context, key string, limit int) ([]conversation.Event, error) {
	msgs, err := s.client.XRevRangeN(ctx, s.tag(key)+":events", "+", "-", int64(limit)).Result()
	if err != nil {
		return nil, fail("read events", key, err)
	}
	evs := make([]conversation.Event, len(msgs))
	for i, m := range msgs {
		raw, _ := m.Values["e"].(string)
		e := &evs[len(msgs)-1-i]
		if err := conversation.UnmarshalRecord([]byte(raw), e); err != nil {
			return nil, conversation.Errorf(conversation.Internal, "read events of %q: decode event %s: %w", key, m.ID, err)
		}
		if e.ID == "" {
			e.ID = m.ID
		}
		e.ConversationKey = key
	}
	return evs, nil
}

// NextSequence returns the next value (1, 2, …) of the named counter.
// Counters never expire. Errors: Invalid, Unavailable.
func (s *Store) NextSequence(ctx context.Context, name string) (uint64, error) {
	if err := conversation.CheckKey("sequence name", name); err != nil {
		return 0, err
	}
	n, err := s.client.Incr(ctx, s.cfg.Prefix+":seq:{"+tagEscaper.Replace(name)+"}").Result()
	if err != nil {
		return 0, fail("next sequence", name, err)
	}
	return uint64(n), nil
}

// Ping reports whether Redis answers. Errors: Unavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fail("ping", "", err)
	}
	return nil
}

// Close closes the Redis client. Calling it again returns the first
// result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.client.Close() })
	return s.closeErr
}

// unavailablePrefixes are Redis error replies that mean "try again later".
var unavailablePrefixes = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS", "OOM", "MOVED", "ASK"}

// fail maps a Redis or network error to a conversation error code:
// server replies that mean "later" and all connection-level failures
// (refused, reset, timeouts, a closed client, ctx ending) are Unavailable,
// other server errors are Internal.
func fail(op, key string, err error) error {
	what := "redisstore: " + op
	if key != "" {
		what += " " + strconv.Quote(key)
	}
	var ce *conversation.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var re redis.Error
	if errors.As(err, &re) {
		for _, p := range unavailablePrefixes {
			if redis.HasErrorPrefix(err, p) {
				return fmt.Errorf("%s: %w", what, &conversation.Error{Code: conversation.Unavailable, Message: "the conversation store is busy", Err: err})
			}
		}
		return fmt.Errorf("%s: %w", what, &conversation.Error{Code: conversation.Internal, Message: "the conversation store failed", Err: err})
	}
	return fmt.Errorf("%s: %w", what, &conversation.Error{Code: conversation.Unavailable, Message: "the conversation store is unavailable", Err: err})
}
