// Package boltstore implements conversation.Store on an embedded bbolt
// file: the zero-setup, single-process default.
//
// bbolt locks its file, so one process owns a store; leases therefore
// live in memory, with one fencing counter for the process that only
// grows. Everything else is on disk, and each Commit is one bbolt write
// transaction. Buckets:
//
//	convs/<key>/            one bucket per conversation:
//	    state, version      conversation JSON and its version (8 bytes)
//	    touched             last commit, unix ms (8 bytes)
//	    outbox/             seq -> outbound JSON, oldest first
//	    outids/             outbound id -> seq
//	    events/             seq -> event JSON, capped at EventsMax
//	idle/                   touched ms + key: conversations by last commit
//	seen/                   len(key) + key + dedupe key -> expiry ms
//	seenexp/                expiry ms + the seen/ key: marks by expiry
//	backlog/                key -> hint ms
//	backlogidx/             hint ms + key: backlog by age
//	seqs/                   name -> counter
//	tickets/                key -> queue entry (TicketSummary JSON) of each
//	                        queued ticket; the bucket's sequence is the
//	                        queue version (QueueVersion)
//	refs/, refsexp/         platform references (Refs) and their expiry index
//
// Idle conversations read as absent once IdleTTL has passed and expired
// dedupe marks as unseen; Sweep (run by a janitor every SweepInterval)
// deletes them.
//
// Arguments are checked against the store limits of package conversation
// (conversation.MaxStoreKeyLen, MaxReadLimit, MaxLeaseTTL, …), shared
// with every other store.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/tier0/tier0/conversation"
)

var (
	bucketConvs      = []byte("convs")
	bucketIdle       = []byte("idle")
	bucketSeen       = []byte("seen")
	bucketSeenExp    = []byte("seenexp")
	bucketBacklog    = []byte("backlog")
	bucketBacklogIdx = []byte("backlogidx")
	bucketSeqs       = []byte("seqs")
	bucketTickets    = []byte("tickets") // conversation key → TicketSummary JSON, queued tickets only

	keyState   = []byte("state")
	keyVersion = []byte("version")
	keyTouched = []byte("touched")
	// keyEventCount counts the events kept in subEvents.
	keyEventCount = []byte("nevents")
	subOutbox     = []byte("outbox")
	subOutIDs     = []byte("outids")
	subEvents     = []byte("events")
)

// Store is a conversation.Store on a bbolt file. It is safe for concurrent
// use by many goroutines of one process.
type Store struct {
	db  *bolt.DB
	cfg Config

	mu     sync.Mutex
	leases map[string]lease
	fence  uint64

	closed    atomic.Bool
	stop      context.CancelFunc
	janitor   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type lease struct {
	token   uint64
	expires time.Time
}

var (
	_ conversation.Store          = (*Store)(nil)
	_ conversation.QueueVersioner = (*Store)(nil)
)

// Open opens (or creates, with its parent directories) the store file at
// path and starts the janitor. Errors: Invalid (bad Config),
// Unavailable (the file is locked by another process, or cannot be
// created or read).
func Open(path string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, unavailable("create the store directory for "+path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, &conversation.Error{
			Code:    conversation.Unavailable,
			Message: "store file is in use by another tier0 process",
			Err:     fmt.Errorf("file lock not obtained within %s: %w", cfg.LockTimeout, err),
		})
	}
	if err != nil {
		return nil, unavailable("open "+path, err)
	}
	db.NoSync = cfg.NoSync
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketConvs, bucketIdle, bucketSeen, bucketSeenExp, bucketBacklog, bucketBacklogIdx, bucketSeqs, bucketTickets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, unavailable("initialise "+path, err)
	}
	s := &Store{db: db, cfg: cfg, leases: make(map[string]lease)}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.janitor.Go(func() { s.runJanitor(ctx) })
	return s, nil
}

// Path returns the store file's path.
func (s *Store) Path() string { return s.db.Path() }

func (s *Store) runJanitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("bolt store sweep failed", "path", s.db.Path(), "err", err)
		}
	}
}

// Close stops the janitor and closes the file. Calling it again returns
// the first result; every other method then fails with Unavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stop()
		s.janitor.Wait()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("boltstore: %w", &conversation.Error{Code: conversation.Unavailable, Message: "the conversation store is closed"})
	}
	return nil
}

// view and update run fn in a read or write transaction, mapping bbolt
// failures to Unavailable; errors fn returns pass through unchanged.
func (s *Store) view(op string, fn func(tx *bolt.Tx) error) error {
	return s.run(op, false, fn)
}

func (s *Store) update(op string, fn func(tx *bolt.Tx) error) error {
	return s.run(op, true, fn)
}

func (s *Store) run(op string, write bool, fn func(tx *bolt.Tx) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var fnErr error
	wrapped := func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	}
	var err error
	if write {
		err = s.db.Update(wrapped)
	} else {
		err = s.db.View(wrapped)
	}
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return err
	default:
		return unavailable(op, err)
	}
}

func unavailable(op string, err error) error {
	return fmt.Errorf("boltstore: %s: %w", op, &conversation.Error{Code: conversation.Unavailable, Message: "the conversation store is unavailable", Err: err})
}

func corrupt(what, key string, err error) error {
	return conversation.Errorf(conversation.Internal, "boltstore: %s of %q is corrupt: %w", what, key, err)
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// timeKey is an 8-byte big-endian unix ms followed by rest, so a cursor
// walks it oldest first.
func timeKey(ms int64, rest []byte) []byte {
	return append(u64(uint64(max(ms, 0))), rest...)
}

// seenKey is len(key) + key + dedupe key, unambiguous for any bytes.
func seenKey(key, dedupe string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(key)))
	return append(append(b, key...), dedupe...)
}

// live returns the bucket of key's conversation, or nil when there is
// none or it has been idle longer than IdleTTL.
func (s *Store) live(tx *bolt.Tx, key string, now time.Time) *bolt.Bucket {
	cb := tx.Bucket(bucketConvs).Bucket([]byte(key))
	if cb == nil || s.idle(cb, now) {
		return nil
	}
	return cb
}

func (s *Store) idle(cb *bolt.Bucket, now time.Time) bool {
	touched := int64(getU64(cb.Get(keyTouched)))
	return now.UnixMilli()-touched >= s.cfg.IdleTTL.Milliseconds()
}

// Load returns the stored conversation. Errors: NotFound, Invalid,
// Unavailable, Internal (undecodable state).
func (s *Store) Load(ctx context.Context, key string) (*conversation.Conversation, error) {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return nil, err
	}
	var c *conversation.Conversation
	err := s.view("load conversation", func(tx *bolt.Tx) error {
		cb := s.live(tx, key, time.Now())
		if cb == nil || cb.Get(keyState) == nil {
			return fmt.Errorf("load conversation %q: %w", key, conversation.ErrNotFound)
		}
		c = new(conversation.Conversation)
		if err := json.Unmarshal(cb.Get(keyState), c); err != nil {
			return corrupt("state", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Acquire takes the in-memory lease on key for ttl with a new fencing
// token. Errors: ErrLeaseHeld (Conflict), Invalid, Unavailable (closed).
func (s *Store) Acquire(ctx context.Context, key string, ttl time.Duration) (conversation.Lease, error) {
	if err := conversation.CheckKey("lease key", key); err != nil {
		return conversation.Lease{}, err
	}
	if err := conversation.CheckTTL(ttl); err != nil {
		return conversation.Lease{}, err
	}
	if err := s.checkOpen(); err != nil {
		return conversation.Lease{}, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leases[key]; ok && now.Before(l.expires) {
		return conversation.Lease{}, fmt.Errorf("acquire lease %q: %w", key, conversation.ErrLeaseHeld)
	}
	s.fence++
	l := lease{token: s.fence, expires: now.Add(ttl)}
	s.leases[key] = l
	return conversation.Lease{Key: key, Token: l.token, Expires: l.expires}, nil
}

// Release gives l up if it is still the current lease of its key.
// Errors: Invalid.
func (s *Store) Release(ctx context.Context, l conversation.Lease) error {
	if err := conversation.CheckKey("lease key", l.Key); err != nil {
		return err
	}
	s.dropLease(l)
	return nil
}

func (s *Store) dropLease(l conversation.Lease) {
	s.mu.Lock()
	if cur, ok := s.leases[l.Key]; ok && cur.token == l.Token {
		delete(s.leases, l.Key)
	}
	s.mu.Unlock()
}

func (s *Store) holds(l conversation.Lease, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.leases[l.Key]
	return ok && cur.token == l.Token && now.Before(cur.expires)
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
	var ok bool
	err := s.view("check dedupe key", func(tx *bolt.Tx) error {
		ok = s.marked(tx, key, dedupeKey, time.Now())
		return nil
	})
	return ok, err
}

func (s *Store) marked(tx *bolt.Tx, key, dedupe string, now time.Time) bool {
	v := tx.Bucket(bucketSeen).Get(seenKey(key, dedupe))
	return v != nil && int64(getU64(v)) > now.UnixMilli()
}

// Commit applies c atomically under l in one write transaction and
// releases l; see conversation.Store. Errors: ErrLeaseLost, ErrDuplicate,
// ErrStaleVersion (Conflict), Invalid, Unavailable.
func (s *Store) Commit(ctx context.Context, l conversation.Lease, c conversation.Commit) error {
	p, err := c.Encode(l)
	if err != nil {
		return err
	}
	conv := c.Conversation
	key := conv.Key
	var eventIDs []string
	err = s.update("commit conversation", func(tx *bolt.Tx) error {
		now := time.Now()
		if !s.holds(l, now) {
			return fmt.Errorf("commit conversation %q with lease token %d: %w", key, l.Token, conversation.ErrLeaseLost)
		}
		if c.DedupeKey != "" && s.marked(tx, key, c.DedupeKey, now) {
			return fmt.Errorf("commit conversation %q: dedupe key %q: %w", key, c.DedupeKey, conversation.ErrDuplicate)
		}
		convs := tx.Bucket(bucketConvs)
		cb := convs.Bucket([]byte(key))
		if cb != nil && s.idle(cb, now) {
			if err := s.purge(tx, key); err != nil {
				return err
			}
			cb = nil
		}
		var stored int64
		if cb != nil {
			stored = int64(getU64(cb.Get(keyVersion)))
		}
		if stored != conv.Version {
			return fmt.Errorf("commit conversation %q at version %d: %w", key, conv.Version, conversation.ErrStaleVersion)
		}
		var err error
		if cb == nil {
			if cb, err = convs.CreateBucket([]byte(key)); err != nil {
				return err
			}
		}
		if err := s.touch(tx, cb, key, now); err != nil {
			return err
		}
		if err := cb.Put(keyState, []byte(p.State)); err != nil {
			return err
		}
		if err := cb.Put(keyVersion, u64(uint64(conv.Version+1))); err != nil {
			return err
		}
		if c.DedupeKey != "" {
			if err := s.mark(tx, key, c.DedupeKey, now); err != nil {
				return err
			}
		}
		if eventIDs, err = s.appendEvents(convs, cb, p.Events); err != nil {
			return err
		}
		if err := queue(tx, conv); err != nil {
			return err
		}
		if len(c.Outbound) > 0 {
			if err := appendOutbound(cb, c.Outbound, p.Outbound); err != nil {
				return err
			}
			return hint(tx, key, now)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.dropLease(l)
	conv.Version++
	for i, id := range eventIDs {
		if c.Events[i].ID == "" {
			c.Events[i].ID = id
		}
	}
	return nil
}

// touch records now as key's last commit in the conversation and the idle
// index.
func (s *Store) touch(tx *bolt.Tx, cb *bolt.Bucket, key string, now time.Time) error {
	idx := tx.Bucket(bucketIdle)
	if old := cb.Get(keyTouched); old != nil {
		if err := idx.Delete(timeKey(int64(getU64(old)), []byte(key))); err != nil {
			return err
		}
	}
	if err := cb.Put(keyTouched, u64(uint64(now.UnixMilli()))); err != nil {
		return err
	}
	return idx.Put(timeKey(now.UnixMilli(), []byte(key)), nil)
}

func (s *Store) mark(tx *bolt.Tx, key, dedupe string, now time.Time) error {
	sk := seenKey(key, dedupe)
	exp := now.Add(s.cfg.DedupeTTL).UnixMilli()
	if err := tx.Bucket(bucketSeen).Put(sk, u64(uint64(exp))); err != nil {
		return err
	}
	return tx.Bucket(bucketSeenExp).Put(timeKey(exp, sk), nil)
}

// appendEvents stores encoded events under ids from one sequence shared by
// all conversations, so an event id is never reused, and drops the oldest
// beyond EventsMax. It returns the ids.
func (s *Store) appendEvents(convs, cb *bolt.Bucket, raw []string) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	eb, err := cb.CreateBucketIfNotExists(subEvents)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(raw))
	for _, r := range raw {
		seq, err := convs.NextSequence()
		if err != nil {
			return nil, err
		}
		if err := eb.Put(u64(seq), []byte(r)); err != nil {
			return nil, err
		}
		ids = append(ids, strconv.FormatUint(seq, 10))
	}
	n := getU64(cb.Get(keyEventCount)) + uint64(len(raw))
	cur := eb.Cursor()
	for k, _ := cur.First(); k != nil && n > uint64(s.cfg.EventsMax); k, _ = cur.First() {
		if err := cur.Delete(); err != nil {
			return nil, err
		}
		n--
	}
	return ids, cb.Put(keyEventCount, u64(n))
}

// appendOutbound queues encoded outbound messages; a message whose id is
// still pending is replaced in place.
func appendOutbound(cb *bolt.Bucket, outs []conversation.Outbound, raw []string) error {
	ob, err := cb.CreateBucketIfNotExists(subOutbox)
	if err != nil {
		return err
	}
	ib, err := cb.CreateBucketIfNotExists(subOutIDs)
	if err != nil {
		return err
	}
	for i, o := range outs {
		seq := ib.Get([]byte(o.ID))
		if seq == nil {
			n, err := ob.NextSequence()
			if err != nil {
				return err
			}
			seq = u64(n)
			if err := ib.Put([]byte(o.ID), seq); err != nil {
				return err
			}
		}
		if err := ob.Put(seq, []byte(raw[i])); err != nil {
			return err
		}
	}
	return nil
}

// hint puts key in the backlog with a score that always grows, as the
// Redis store does.
func hint(tx *bolt.Tx, key string, now time.Time) error {
	bl, idx := tx.Bucket(bucketBacklog), tx.Bucket(bucketBacklogIdx)
	score := now.UnixMilli()
	if old := bl.Get([]byte(key)); old != nil {
		prev := int64(getU64(old))
		if err := idx.Delete(timeKey(prev, []byte(key))); err != nil {
			return err
		}
		score = max(score, prev+1)
	}
	if err := bl.Put([]byte(key), u64(uint64(score))); err != nil {
		return err
	}
	return idx.Put(timeKey(score, []byte(key)), nil)
}

func unhint(tx *bolt.Tx, key string) error {
	bl := tx.Bucket(bucketBacklog)
	old := bl.Get([]byte(key))
	if old == nil {
		return nil
	}
	if err := tx.Bucket(bucketBacklogIdx).Delete(timeKey(int64(getU64(old)), []byte(key))); err != nil {
		return err
	}
	return bl.Delete([]byte(key))
}

// purge deletes an idle conversation with its index entries. Its dedupe
// marks expire on their own.
func (s *Store) purge(tx *bolt.Tx, key string) error {
	convs := tx.Bucket(bucketConvs)
	cb := convs.Bucket([]byte(key))
	if cb == nil {
		return nil
	}
	if t := cb.Get(keyTouched); t != nil {
		if err := tx.Bucket(bucketIdle).Delete(timeKey(int64(getU64(t)), []byte(key))); err != nil {
			return err
		}
	}
	if err := unhint(tx, key); err != nil {
		return err
	}
	if err := unqueue(tx.Bucket(bucketTickets), key); err != nil {
		return err
	}
	return convs.DeleteBucket([]byte(key))
}

// queue keeps the ticket queue in step with the conversation's ticket,
// moving the queue version when the entry changes.
func queue(tx *bolt.Tx, c *conversation.Conversation) error {
	b := tx.Bucket(bucketTickets)
	if !c.TicketState.Queued() {
		return unqueue(b, c.Key)
	}
	raw, err := json.Marshal(conversation.SummaryOf(c))
	if err != nil {
		return err
	}
	if bytes.Equal(b.Get([]byte(c.Key)), raw) {
		return nil
	}
	if err := b.Put([]byte(c.Key), raw); err != nil {
		return err
	}
	return bumpQueue(b)
}

// unqueue removes key's queue entry, moving the queue version when there
// was one.
func unqueue(b *bolt.Bucket, key string) error {
	if b.Get([]byte(key)) == nil {
		return nil
	}
	if err := b.Delete([]byte(key)); err != nil {
		return err
	}
	return bumpQueue(b)
}

// bumpQueue moves the queue version: the tickets bucket's own sequence,
// which lives in the bucket's header, not among its entries.
func bumpQueue(b *bolt.Bucket) error {
	_, err := b.NextSequence()
	return err
}

// QueueVersion returns the ticket queue's version (see
// conversation.QueueVersioner): it moves in the write transaction of
// every commit or sweep that adds, changes or removes a queue entry, and
// only then. Errors: Unavailable (closed store).
func (s *Store) QueueVersion(_ context.Context) (uint64, error) {
	var v uint64
	err := s.view("read ticket queue version", func(tx *bolt.Tx) error {
		v = tx.Bucket(bucketTickets).Sequence()
		return nil
	})
	return v, err
}

// Tickets lists the queue (see conversation.TicketQueue). Conversations
// that expired idle are left out. Errors: Invalid, Unavailable, Internal.
func (s *Store) Tickets(ctx context.Context, q conversation.TicketQuery) ([]conversation.TicketSummary, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var out []conversation.TicketSummary
	err := s.view("read ticket queue", func(tx *bolt.Tx) error {
		now := time.Now()
		return tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var t conversation.TicketSummary
			if err := json.Unmarshal(v, &t); err != nil {
				return conversation.Errorf(conversation.Internal, "ticket queue entry %q: %w", k, err)
			}
			if q.Matches(t) && s.live(tx, string(k), now) != nil {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	conversation.SortQueue(out)
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Pending returns up to limit undelivered messages of key, oldest first.
// Errors: Invalid, Unavailable, Internal (undecodable message).
func (s *Store) Pending(ctx context.Context, key string, limit int) ([]conversation.Outbound, error) {
	if err := conversation.CheckRead(key, limit); err != nil {
		return nil, err
	}
	var out []conversation.Outbound
	err := s.view("read outbox", func(tx *bolt.Tx) error {
		cb := s.live(tx, key, time.Now())
		if cb == nil || cb.Bucket(subOutbox) == nil {
			return nil
		}
		cur := cb.Bucket(subOutbox).Cursor()
		for k, v := cur.First(); k != nil && len(out) < limit; k, v = cur.Next() {
			var o conversation.Outbound
			if err := json.Unmarshal(v, &o); err != nil {
				return corrupt("outbox", key, err)
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
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
	return s.update("ack outbound", func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketConvs).Bucket([]byte(key))
		if cb == nil || cb.Bucket(subOutIDs) == nil {
			return nil
		}
		ib := cb.Bucket(subOutIDs)
		seq := ib.Get([]byte(id))
		if seq == nil {
			return nil
		}
		if err := cb.Bucket(subOutbox).Delete(seq); err != nil {
			return err
		}
		return ib.Delete([]byte(id))
	})
}

// Backlog returns up to limit conversation keys whose last commit with
// outbound messages is older than olderThan, oldest first. Errors:
// Invalid, Unavailable.
func (s *Store) Backlog(ctx context.Context, olderThan time.Time, limit int) ([]string, error) {
	if err := conversation.CheckLimit(limit); err != nil {
		return nil, err
	}
	var keys []string
	cutoff := olderThan.UnixMilli()
	err := s.view("read outbox backlog", func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketBacklogIdx).Cursor()
		for k, _ := cur.First(); k != nil && len(keys) < limit && int64(getU64(k[:8])) < cutoff; k, _ = cur.Next() {
			keys = append(keys, string(k[8:]))
		}
		return nil
	})
	return keys, err
}

// Settle removes key from the backlog when its outbox is empty. It runs
// in one transaction, so no commit can slip in between. Errors: Invalid,
// Unavailable.
func (s *Store) Settle(ctx context.Context, key string) error {
	if err := conversation.CheckKey("conversation key", key); err != nil {
		return err
	}
	return s.update("settle outbox", func(tx *bolt.Tx) error {
		if cb := s.live(tx, key, time.Now()); cb != nil {
			if ob := cb.Bucket(subOutbox); ob != nil {
				if k, _ := ob.Cursor().First(); k != nil {
					return nil
				}
			}
		}
		return unhint(tx, key)
	})
}

// Events returns up to limit of the newest events of key, oldest first.
// Errors: Invalid, Unavailable, Internal (undecodable event).
func (s *Store) Events(ctx context.Context, key string, limit int) ([]conversation.Event, error) {
	if err := conversation.CheckRead(key, limit); err != nil {
		return nil, err
	}
	var evs []conversation.Event
	err := s.view("read events", func(tx *bolt.Tx) error {
		cb := s.live(tx, key, time.Now())
		if cb == nil || cb.Bucket(subEvents) == nil {
			return nil
		}
		cur := cb.Bucket(subEvents).Cursor()
		for k, v := cur.Last(); k != nil && len(evs) < limit; k, v = cur.Prev() {
			var e conversation.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return corrupt("events", key, err)
			}
			if e.ID == "" {
				e.ID = strconv.FormatUint(getU64(k), 10)
			}
			e.ConversationKey = key // stored without it (see Commit.Encode)
			evs = append(evs, e)
		}
		return nil
	})
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs, err
}

// NextSequence returns the next value (1, 2, …) of the named counter.
// Errors: Invalid, Unavailable.
func (s *Store) NextSequence(ctx context.Context, name string) (uint64, error) {
	if err := conversation.CheckKey("sequence name", name); err != nil {
		return 0, err
	}
	var n uint64
	err := s.update("next sequence", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSeqs)
		n = getU64(b.Get([]byte(name))) + 1
		return b.Put([]byte(name), u64(n))
	})
	return n, err
}

// Ping reports whether the store file is open and readable. Errors:
// Unavailable.
func (s *Store) Ping(ctx context.Context) error {
	return s.view("ping", func(tx *bolt.Tx) error { return nil })
}

// sweepBatch bounds the deletions of one write transaction, so a large
// sweep does not block commits for long.
const sweepBatch = 256

// Sweep deletes conversations idle for longer than IdleTTL, dedupe marks
// past DedupeTTL and expired in-memory leases. The janitor calls it every
// SweepInterval; it stops early when ctx ends. Errors: Unavailable, or
// ctx's error.
func (s *Store) Sweep(ctx context.Context) error {
	s.mu.Lock()
	now := time.Now()
	for k, l := range s.leases {
		if !now.Before(l.expires) {
			delete(s.leases, k)
		}
	}
	s.mu.Unlock()
	for _, step := range []func(*bolt.Tx, time.Time) (bool, error){s.sweepIdle, s.sweepSeen, s.sweepRefs} {
		for more := true; more; {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := s.update("sweep", func(tx *bolt.Tx) error {
				var err error
				more, err = step(tx, time.Now())
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepIdle deletes up to sweepBatch idle conversations and reports
// whether more may be left.
func (s *Store) sweepIdle(tx *bolt.Tx, now time.Time) (bool, error) {
	cutoff := now.Add(-s.cfg.IdleTTL).UnixMilli()
	idx := tx.Bucket(bucketIdle)
	var entries [][]byte
	cur := idx.Cursor()
	for k, _ := cur.First(); k != nil && len(entries) < sweepBatch && int64(getU64(k[:8])) <= cutoff; k, _ = cur.Next() {
		entries = append(entries, bytes.Clone(k))
	}
	for _, k := range entries {
		// Purge only if this entry is the conversation's current one.
		if cb := tx.Bucket(bucketConvs).Bucket(k[8:]); cb != nil && bytes.Equal(cb.Get(keyTouched), k[:8]) {
			if err := s.purge(tx, string(k[8:])); err != nil {
				return false, err
			}
		}
		if err := idx.Delete(k); err != nil {
			return false, err
		}
	}
	return len(entries) == sweepBatch, nil
}

// sweepSeen deletes up to sweepBatch expired dedupe marks and reports
// whether more may be left.
func (s *Store) sweepSeen(tx *bolt.Tx, now time.Time) (bool, error) {
	seen, idx := tx.Bucket(bucketSeen), tx.Bucket(bucketSeenExp)
	var done [][]byte
	cur := idx.Cursor()
	for k, _ := cur.First(); k != nil && len(done) < sweepBatch && int64(getU64(k[:8])) <= now.UnixMilli(); k, _ = cur.Next() {
		done = append(done, bytes.Clone(k))
	}
	for _, k := range done {
		// A mark renewed after it expired has a newer index entry; keep it.
		if bytes.Equal(seen.Get(k[8:]), k[:8]) {
			if err := seen.Delete(k[8:]); err != nil {
				return false, err
			}
		}
		if err := idx.Delete(k); err != nil {
			return false, err
		}
	}
	return len(done) == sweepBatch, nil
}
