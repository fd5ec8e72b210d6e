package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
	"github.com/tier0/tier0/conversation/storetest"
)

var prefixes atomic.Int64

// quietLogger drops go-redis's own log lines (dial failures while a test
// server is down are expected).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

// newStore returns a store with its own key prefix on srv.
func newStore(tb testing.TB, srv *redistest.Server, cfg redisstore.Config) *redisstore.Store {
	tb.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = fmt.Sprintf("t%d", prefixes.Add(1))
	}
	s, err := redisstore.New(srv.NewClient(), cfg)
	if err != nil {
		tb.Fatalf("redisstore.New: %v", err)
	}
	return s
}

// startStore starts a private Redis and returns a store on it, closed
// when the test ends.
func startStore(tb testing.TB, cfg redisstore.Config) *redisstore.Store {
	tb.Helper()
	s := newStore(tb, redistest.Start(tb), cfg)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// commitTurn commits one turn of key with a dedupe key, an event and an
// outbound message "o-1".
func commitTurn(tb testing.TB, s *redisstore.Store, key, dedupe string) {
	tb.Helper()
	ctx := context.Background()
	l, err := s.Acquire(ctx, key, 10*time.Second)
	if err != nil {
		tb.Fatalf("Acquire: %v", err)
	}
	c := &conversation.Conversation{Key: key, Phase: conversation.PhaseBot}
	err = s.Commit(ctx, l, conversation.Commit{Conversation: c, DedupeKey: dedupe,
		Events:   []conversation.Event{{Type: conversation.EventAnswered}},
		Outbound: []conversation.Outbound{{ID: "o-1", Text: "hi"}}})
	if err != nil {
		tb.Fatalf("Commit: %v", err)
	}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) conversation.Store {
		return newStore(t, srv, redisstore.Config{EventsMaxLen: storetest.EventsCap})
	})
}

// TestConformanceCluster runs the suite against a one-node Redis Cluster,
// which rejects any script whose keys span slots (CROSSSLOT).
func TestConformanceCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) conversation.Store {
		return newStore(t, srv, redisstore.Config{EventsMaxLen: storetest.EventsCap})
	})
}

func TestConfigValidate(t *testing.T) {
	storetest.CheckConfigs(t, []storetest.ConfigCase[redisstore.Config]{
		{Name: "Defaults", Config: redisstore.Config{}, OK: true},
		{Name: "Custom", Config: redisstore.Config{Prefix: "acme:prod", IdleTTL: time.Hour, DedupeTTL: time.Minute, EventsMaxLen: 10}, OK: true},
		{Name: "BracePrefix", Config: redisstore.Config{Prefix: "a{b}"}, OK: false},
		{Name: "SpacePrefix", Config: redisstore.Config{Prefix: "a b"}, OK: false},
		{Name: "LongPrefix", Config: redisstore.Config{Prefix: strings.Repeat("p", 65)}, OK: false},
		{Name: "NegativeIdle", Config: redisstore.Config{IdleTTL: -time.Second}, OK: false},
		{Name: "TinyDedupe", Config: redisstore.Config{DedupeTTL: time.Millisecond}, OK: false},
		{Name: "NegativeEvents", Config: redisstore.Config{EventsMaxLen: -1}, OK: false},
	})
	if _, err := redisstore.New(nil, redisstore.Config{}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("New(nil client): got %v, want an Invalid error", err)
	}
}

// TestServerKilled checks that a dead Redis yields Unavailable errors (no
// panic, no hang) and that the store recovers once Redis is back.
func TestServerKilled(t *testing.T) {
	srv := redistest.Start(t)
	// Fewer retries than go-redis's defaults keep the test fast.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialerRetries: 1, DialTimeout: time.Second})
	s, err := redisstore.New(client, redisstore.Config{Prefix: "killed"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := "webchat:killed"
	l, err := s.Acquire(ctx, key, 10*time.Second)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	srv.Kill()

	c := &conversation.Conversation{Key: key, Phase: conversation.PhaseBot}
	ops := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{"Acquire", func(ctx context.Context) error { _, err := s.Acquire(ctx, key, time.Second); return err }},
		{"Release", func(ctx context.Context) error { return s.Release(ctx, l) }},
		{"Seen", func(ctx context.Context) error { _, err := s.Seen(ctx, key, "d"); return err }},
		{"Commit", func(ctx context.Context) error {
			return s.Commit(ctx, l, conversation.Commit{Conversation: c, Outbound: []conversation.Outbound{{ID: "o"}}})
		}},
		{"Pending", func(ctx context.Context) error { _, err := s.Pending(ctx, key, 1); return err }},
		{"Ack", func(ctx context.Context) error { return s.Ack(ctx, key, "o") }},
		{"Backlog", func(ctx context.Context) error { _, err := s.Backlog(ctx, time.Now(), 1); return err }},
		{"Settle", func(ctx context.Context) error { return s.Settle(ctx, key) }},
		{"Events", func(ctx context.Context) error { _, err := s.Events(ctx, key, 1); return err }},
		{"NextSequence", func(ctx context.Context) error { _, err := s.NextSequence(ctx, "n"); return err }},
		{"BeginTurn", func(ctx context.Context) error { _, _, err := s.BeginTurn(ctx, key, "d", time.Second); return err }},
		{"ClaimOutbox", func(ctx context.Context) error { _, err := s.ClaimOutbox(ctx, key, time.Second, 1); return err }},
		{"FinishOutbox", func(ctx context.Context) error {
			return s.FinishOutbox(ctx, conversation.OutboxClaim{Key: key, Lease: l, Mark: "1"}, []string{"o"})
		}},
	}
	for _, op := range ops {
		t.Run("Down/"+op.name, func(t *testing.T) {
			err := op.call(ctx)
			if got := conversation.ErrorCode(err); got != conversation.Unavailable {
				t.Fatalf("%s with Redis down: got code %q (error %v), want %q", op.name, got, err, conversation.Unavailable)
			}
		})
	}
	t.Run("Down/ContextDeadline", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := s.Ping(short)
		if conversation.ErrorCode(err) != conversation.Unavailable {
			t.Fatalf("Ping with a short deadline: got %v, want an Unavailable error", err)
		}
	})

	srv.Restart(t)
	// The data is gone (the test server keeps nothing on disk). After a
	// burst of failed dials go-redis probes the server once a second, so
	// the store may need a moment before it answers again.
	recovered := time.Now().Add(15 * time.Second)
	for err := s.Ping(ctx); err != nil; err = s.Ping(ctx) {
		if time.Now().After(recovered) {
			t.Fatalf("Ping 15s after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l, err = s.Acquire(ctx, key, 10*time.Second)
	if err != nil {
		t.Fatalf("Acquire after restart: %v", err)
	}
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: c, DedupeKey: "d"}); err != nil {
		t.Fatalf("Commit after restart: %v", err)
	}
	if got, err := s.Load(ctx, key); err != nil || got.Version != 1 {
		t.Fatalf("Load after restart: got %+v, %v; want version 1", got, err)
	}
}

func TestClosedStore(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, redisstore.Config{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Load(context.Background(), "k"); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("Load on a closed store: got %v, want an Unavailable error", err)
	}
}

// crc16 is the CRC-16/XMODEM checksum Redis Cluster uses for key slots.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot computes the cluster slot of key, honouring hash tags.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16([]byte(key)) % 16384
}

func TestKeySlot(t *testing.T) {
	// Reference values from the Redis Cluster specification and CLUSTER KEYSLOT.
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16(123456789): got %#x, want 0x31c3", got)
	}
	cases := []struct {
		key  string
		want uint16
	}{{"foo", 12182}, {"{user1000}.following", keySlot("user1000")}, {"foo{}{bar}", keySlot("foo{}{bar}")}}
	for _, tc := range cases {
		if got := keySlot(tc.key); got != tc.want {
			t.Fatalf("keySlot(%q): got %d, want %d", tc.key, got, tc.want)
		}
	}
}

// TestKeyLayout checks that every key one conversation's commit writes
// carries the same hash tag and so lives in one cluster slot, also for
// conversation keys with braces.
func TestKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	for _, key := range []string{"slack:T1:C2:17.1", "a{b}c", "}{", "{x}"} {
		t.Run(key, func(t *testing.T) {
			s := newStore(t, srv, redisstore.Config{})
			t.Cleanup(func() { _ = s.Close() })
			prefix := s.Config().Prefix
			// Keep a lease key around too.
			if _, err := s.Acquire(ctx, key+"/other", 10*time.Second); err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			commitTurn(t, s, key, "d{1}")
			if _, err := s.ClaimOutbox(ctx, key, 10*time.Second, 10); err != nil { // a live delivery lease
				t.Fatalf("ClaimOutbox: %v", err)
			}
			if _, err := s.Acquire(ctx, key, 10*time.Second); err != nil { // a live lease key
				t.Fatalf("Acquire: %v", err)
			}
			keys, err := s.Client().Keys(ctx, prefix+":*").Result()
			if err != nil {
				t.Fatalf("KEYS: %v", err)
			}
			slots := map[uint16][]string{}
			var kinds []string
			for _, k := range keys {
				if k == prefix+":outbox:backlog" || strings.HasSuffix(k, "/other}:lease") || strings.HasSuffix(k, "/other}:fence") {
					continue
				}
				if !strings.HasPrefix(k, prefix+":{") {
					t.Fatalf("key %q has no hash tag right after the prefix", k)
				}
				slots[keySlot(k)] = append(slots[keySlot(k)], k)
				kinds = append(kinds, k[strings.IndexByte(k, '}')+1:])
			}
			if len(slots) != 1 {
				t.Fatalf("keys of one conversation span %d slots: %v", len(slots), slots)
			}
			want := []string{":state", ":lease", ":fence", ":seen:d{1}", ":outbox", ":outmsg", ":eventlog", ":dlease", ":dfence"}
			for _, w := range want {
				found := false
				for _, k := range kinds {
					found = found || k == w
				}
				if !found {
					t.Fatalf("no key ending in %q among %q", w, keys)
				}
			}
		})
	}
}

// TestIdleTTL checks that a commit puts the configured expiry on every
// per-conversation key and the dedupe TTL on the dedupe mark.
func TestIdleTTL(t *testing.T) {
	ctx := context.Background()
	s := startStore(t, redisstore.Config{IdleTTL: time.Hour, DedupeTTL: 10 * time.Minute})
	key := "webchat:ttl"
	commitTurn(t, s, key, "d-1")
	tag := s.Config().Prefix + ":{" + key + "}"
	cases := []struct {
		suffix   string
		min, max time.Duration
	}{
		{":state", 59 * time.Minute, time.Hour},
		{":fence", 59 * time.Minute, time.Hour},
		{":outbox", 59 * time.Minute, time.Hour},
		{":outmsg", 59 * time.Minute, time.Hour},
		{":eventlog", 59 * time.Minute, time.Hour},
		{":seen:d-1", 9 * time.Minute, 10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.suffix, func(t *testing.T) {
			got, err := s.Client().PTTL(ctx, tag+tc.suffix).Result()
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			if got < tc.min || got > tc.max {
				t.Fatalf("PTTL(%s): got %s, want within %s..%s", tc.suffix, got, tc.min, tc.max)
			}
		})
	}
	// The global sequence counters never expire.
	if _, err := s.NextSequence(ctx, "ticket"); err != nil {
		t.Fatalf("NextSequence: %v", err)
	}
	if got, err := s.Client().PTTL(ctx, s.Config().Prefix+":seq:{ticket}").Result(); err != nil || got != -1 {
		t.Fatalf("PTTL of a sequence: got %v, %v; want -1ns (no expiry)", got, err)
	}
}

// TestSettleWhileTurnInFlight covers the window between a turn's backlog
// hint and its commit: Settle must keep the entry while the lease is held.
func TestSettleWhileTurnInFlight(t *testing.T) {
	ctx := context.Background()
	s := startStore(t, redisstore.Config{})
	key := "webchat:inflight"
	backlogKey := s.Config().Prefix + ":outbox:backlog"
	l, err := s.Acquire(ctx, key, 10*time.Second)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	// The hint a committing turn writes first, as it would.
	if err := s.Client().ZAdd(ctx, backlogKey, redis.Z{Score: float64(time.Now().UnixMilli()), Member: key}).Err(); err != nil {
		t.Fatalf("ZADD: %v", err)
	}
	if err := s.Settle(ctx, key); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if _, err := s.Client().ZScore(ctx, backlogKey, key).Result(); errors.Is(err, redis.Nil) {
		t.Fatal("Settle removed a backlog entry while the conversation's turn holds the lease")
	}
	if err := s.Release(ctx, l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Settle(ctx, key); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if _, err := s.Client().ZScore(ctx, backlogKey, key).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("after Release, Settle kept the entry (ZSCORE error %v)", err)
	}
}

// TestClaimBusy checks the store's own fields of a claim: Busy is true
// while a turn holds the conversation's lease (its commit may be about to
// add messages), and Mark is the backlog entry the claim saw.
func TestClaimBusy(t *testing.T) {
	ctx := context.Background()
	s := startStore(t, redisstore.Config{})
	key := "webchat:busy"
	commitTurn(t, s, key, "d-1")
	cases := []struct {
		name string
		hold func() (conversation.Lease, error) // takes the turn lease, if set
		want bool
	}{
		{"Idle", nil, false},
		{"Acquired", func() (conversation.Lease, error) { return s.Acquire(ctx, key, 10*time.Second) }, true},
		{"BeginTurn", func() (conversation.Lease, error) {
			l, _, err := s.BeginTurn(ctx, key, "d-2", 10*time.Second)
			return l, err
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hold != nil {
				l, err := tc.hold()
				if err != nil {
					t.Fatalf("take the turn lease: %v", err)
				}
				t.Cleanup(func() { _ = s.Release(ctx, l) })
			}
			c, err := s.ClaimOutbox(ctx, key, 10*time.Second, 10)
			if err != nil {
				t.Fatalf("ClaimOutbox: %v", err)
			}
			defer func() {
				if err := s.FinishOutbox(ctx, c, nil); err != nil {
					t.Fatalf("FinishOutbox: %v", err)
				}
			}()
			if c.Busy != tc.want {
				t.Fatalf("Busy: got %v, want %v", c.Busy, tc.want)
			}
			if c.Mark == "" {
				t.Fatal("Mark: got none for a conversation in the backlog")
			}
		})
	}
}

// The queue index is a hint: an entry whose conversation expired is
// dropped (and removed) when the queue is read.
func TestTicketQueueDropsStaleEntries(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, redisstore.Config{Prefix: "q"})
	ctx := context.Background()
	for _, key := range []string{"webchat:live", "webchat:gone"} {
		c := &conversation.Conversation{Key: key, Channel: conversation.ChannelWebChat, Ticket: "IT-1",
			TicketState: &conversation.TicketState{Ticket: conversation.Ticket{ID: "IT-1", Priority: "P2", Status: conversation.TicketOpen}}}
		l, err := s.Acquire(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, l, conversation.Commit{Conversation: c}); err != nil {
			t.Fatal(err)
		}
	}
	raw := srv.Client(t)
	if err := raw.Del(ctx, "q:{webchat:gone}:state").Err(); err != nil { // as if it expired idle
		t.Fatal(err)
	}
	got, err := s.Tickets(ctx, conversation.TicketQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ConversationKey != "webchat:live" {
		t.Fatalf("queue %+v, want only webchat:live", got)
	}
	if n, err := raw.ZCard(ctx, "q:tickets").Result(); err != nil || n != 1 {
		t.Errorf("queue index holds %d entries (%v), want the stale one removed", n, err)
	}
}

// TestEventsFromEarlierStream checks a conversation stored before the
// event log replaced the event stream: Events still returns the stream's
// events, older than those committed since, and the stream is never
// written again.
func TestEventsFromEarlierStream(t *testing.T) {
	ctx := context.Background()
	s := startStore(t, redisstore.Config{})
	key := "webchat:upgraded"
	stream := s.Config().Prefix + ":{" + key + "}:events"
	for i, typ := range []conversation.EventType{conversation.EventMessageReceived, conversation.EventNotSure} {
		raw := fmt.Sprintf(`{"type":%q,"at":"2026-11-30T10:0%d:00Z","data":{"n":"%d"}}`, typ, i, i)
		if err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"e", raw}}).Err(); err != nil {
			t.Fatalf("XADD: %v", err)
		}
	}
	commitTurn(t, s, key, "d-1")
	evs, err := s.Events(ctx, key, 10)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Type)+"/"+e.Data["n"])
		if e.ID == "" || e.ConversationKey != key {
			t.Fatalf("event %+v: want an id and the conversation key", e)
		}
	}
	want := []string{"message_received/0", "not_sure/1", "answered/"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q (stream first, then the log)", got, want)
	}
	if evs, err = s.Events(ctx, key, 1); err != nil || len(evs) != 1 || evs[0].Type != conversation.EventAnswered {
		t.Fatalf("Events(limit 1) = %+v, %v; want the newest, answered", evs, err)
	}
	if n, err := s.Client().XLen(ctx, stream).Result(); err != nil || n != 2 {
		t.Fatalf("XLEN of the old stream = %d, %v; want 2 (never written)", n, err)
	}
}
