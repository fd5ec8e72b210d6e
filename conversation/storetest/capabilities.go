package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// capability is an optional Store interface with the cases that test it.
type capability struct {
	name  string
	has   func(s conversation.Store) bool
	cases []storeCase
}

func implements[C any](s conversation.Store) bool {
	_, ok := s.(C)
	return ok
}

var capabilities = []capability{
	{"TurnStarter", implements[conversation.TurnStarter], []storeCase{
		{"BeginTurnNew", testBeginTurnNew},
		{"BeginTurnLoads", testBeginTurnLoads},
		{"BeginTurnDuplicate", testBeginTurnDuplicate},
		{"BeginTurnHeld", testBeginTurnHeld},
		{"BeginTurnRace", testBeginTurnRace},
		{"BeginTurnFencing", testBeginTurnFencing},
		{"BeginTurnInvalid", testBeginTurnInvalid},
	}},
	{"OutboxClaimer", implements[conversation.OutboxClaimer], []storeCase{
		{"ClaimOutboxOrder", testClaimOutboxOrder},
		{"ClaimOutboxHeld", testClaimOutboxHeld},
		{"ClaimOutboxExpired", testClaimOutboxExpired},
		{"FinishOutboxAcks", testFinishOutboxAcks},
		{"FinishOutboxBacklog", testFinishOutboxBacklog},
		{"ClaimOutboxInvalid", testClaimOutboxInvalid},
	}},
	{"CommitClaimer", implements[conversation.CommitClaimer], []storeCase{
		{"CommitClaim", testCommitClaim},
	}},
	{"Refs", implements[conversation.Refs], []storeCase{
		{"RefsRoundTrip", testRefsRoundTrip},
		{"RefsExpire", testRefsExpire},
		{"RefsInvalid", testRefsInvalid},
	}},
	{"OutboxClaimRenewer", implements[conversation.OutboxClaimRenewer], []storeCase{
		{"RenewOutboxClaim", testRenewOutboxClaim},
	}},
	{"LeaseRenewer", implements[conversation.LeaseRenewer], []storeCase{
		{"RenewLease", testRenewLease},
	}},
	{"QueueVersioner", implements[conversation.QueueVersioner], []storeCase{
		{"QueueVersion", testQueueVersion},
		{"QueueVersionClosed", testQueueVersionClosed},
	}},
}

// capabilityCases probes one store from newStore for the optional
// capabilities and returns the cases of those it implements, logging
// which ran and which do not apply.
func capabilityCases(t *testing.T, newStore func(t *testing.T) conversation.Store) []storeCase {
	t.Helper()
	probe := newStore(t)
	var cases []storeCase
	for _, c := range capabilities {
		if !c.has(probe) {
			t.Logf("%T does not implement conversation.%s: its %d cases do not apply", probe, c.name, len(c.cases))
			continue
		}
		names := make([]string, len(c.cases))
		for i, tc := range c.cases {
			names[i] = tc.name
		}
		t.Logf("%T implements conversation.%s: running %s", probe, c.name, strings.Join(names, ", "))
		cases = append(cases, c.cases...)
	}
	if err := probe.Close(); err != nil {
		t.Errorf("Close of the probed store: %v", err)
	}
	return cases
}

// as returns s as capability C, failing the test when it is not one.
func as[C any](tb testing.TB, s conversation.Store) C {
	tb.Helper()
	c, ok := s.(C)
	if !ok {
		tb.Fatalf("%T does not implement %T", s, (*C)(nil))
	}
	return c
}

// beginTurn calls BeginTurn and fails the test on error.
func beginTurn(tb testing.TB, starter conversation.TurnStarter, key, dedupe string, ttl time.Duration) (conversation.Lease, *conversation.Conversation) {
	tb.Helper()
	l, c, err := starter.BeginTurn(ctxFor(tb), key, dedupe, ttl)
	if err != nil {
		tb.Fatalf("BeginTurn(%q, %q): %v", key, dedupe, err)
	}
	return l, c
}

func release(tb testing.TB, s conversation.Store, l conversation.Lease) {
	tb.Helper()
	if err := s.Release(ctxFor(tb), l); err != nil {
		tb.Fatalf("Release(%q): %v", l.Key, err)
	}
}

func testBeginTurnNew(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	before := time.Now()
	l, c := beginTurn(t, starter, key, "d-1", longTTL)
	if c != nil {
		t.Fatalf("BeginTurn of a new conversation: got conversation %+v, want nil", c)
	}
	if l.Key != key || l.Token == 0 || !l.Expires.After(before) {
		t.Fatalf("lease: got %+v, want key %q, a non-zero token, expiry after %v", l, key, before)
	}
	_, err := s.Acquire(ctx, key, longTTL)
	wantErr(t, "Acquire during a turn begun by BeginTurn", err, conversation.ErrLeaseHeld)
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key), DedupeKey: "d-1"}); err != nil {
		t.Fatalf("Commit under BeginTurn's lease: %v", err)
	}
	if !seen(t, s, key, "d-1") {
		t.Fatal("Seen after the turn's commit: got false")
	}
}

func testBeginTurnLoads(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	key := keyFor(t, "c")
	c := newConv(key)
	c.Ticket, c.Turns = "T-7", 1
	c.History = []conversation.Turn{{Role: conversation.RoleCustomer, Text: "VPN?", At: ts(1), MessageID: "d-1"}}
	commit(t, s, conversation.Commit{Conversation: c, DedupeKey: "d-1"})
	want := load(t, s, key)

	l, got := beginTurn(t, starter, key, "d-2", longTTL)
	if got == nil {
		t.Fatal("BeginTurn of a stored conversation: got nil, want the stored state")
	}
	sameJSON(t, "BeginTurn's conversation", got, want)
	got.Turns++
	if err := s.Commit(ctxFor(t), l, conversation.Commit{Conversation: got, DedupeKey: "d-2"}); err != nil {
		t.Fatalf("Commit of the loaded conversation: %v", err)
	}
	if again := load(t, s, key); again.Version != 2 || again.Turns != 2 {
		t.Fatalf("after the turn: got version %d turns %d, want 2 and 2", again.Version, again.Turns)
	}
}

func testBeginTurnDuplicate(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	ctx := ctxFor(t)
	key, other := keyFor(t, "c"), keyFor(t, "other")
	commit(t, s, conversation.Commit{Conversation: newConv(key), DedupeKey: "d-1"})

	l, c, err := starter.BeginTurn(ctx, key, "d-1", longTTL)
	wantErr(t, "BeginTurn with a seen dedupe key", err, conversation.ErrDuplicate)
	if c != nil || l != (conversation.Lease{}) {
		t.Fatalf("BeginTurn of a duplicate: got lease %+v conversation %+v, want neither", l, c)
	}
	// No lease was taken.
	release(t, s, acquire(t, s, key, longTTL))
	// Another dedupe key, or the same one in another conversation, is new.
	l, c = beginTurn(t, starter, key, "d-2", longTTL)
	if c == nil || c.Version != 1 {
		t.Fatalf("BeginTurn with a new dedupe key: got %+v, want the stored conversation at version 1", c)
	}
	release(t, s, l)
	if _, c = beginTurn(t, starter, other, "d-1", longTTL); c != nil {
		t.Fatalf("BeginTurn of another conversation: got %+v, want nil", c)
	}
}

func testBeginTurnHeld(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	held := acquire(t, s, key, longTTL)
	l, c, err := starter.BeginTurn(ctx, key, "d-1", longTTL)
	wantErr(t, "BeginTurn while the lease is held", err, conversation.ErrLeaseHeld)
	if c != nil || l != (conversation.Lease{}) {
		t.Fatalf("BeginTurn while held: got lease %+v conversation %+v, want neither", l, c)
	}
	// The holder keeps its lease.
	if err := s.Commit(ctx, held, conversation.Commit{Conversation: newConv(key)}); err != nil {
		t.Fatalf("Commit by the holder: %v", err)
	}
	// The refused BeginTurn marked nothing: d-1 begins a turn now.
	l, c = beginTurn(t, starter, key, "d-1", longTTL)
	if c == nil || c.Version != 1 {
		t.Fatalf("BeginTurn after the holder's commit: got %+v, want version 1", c)
	}
	_, _, err = starter.BeginTurn(ctx, key, "d-2", longTTL)
	wantErr(t, "BeginTurn during another BeginTurn's turn", err, conversation.ErrLeaseHeld)
	release(t, s, l)
}

func testBeginTurnRace(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = starter.BeginTurn(ctx, key, fmt.Sprint("d-", i), longTTL)
		})
	}
	close(start)
	wg.Wait()
	oneWinner(t, "racing BeginTurn", errs, conversation.ErrLeaseHeld)
}

func testBeginTurnFencing(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	key := keyFor(t, "c")
	var last uint64
	next := func(how string, l conversation.Lease) conversation.Lease {
		t.Helper()
		if l.Token <= last {
			t.Fatalf("token of %s: got %d, want more than %d", how, l.Token, last)
		}
		last = l.Token
		return l
	}
	l, _ := beginTurn(t, starter, key, "d-1", longTTL)
	release(t, s, next("BeginTurn", l))
	release(t, s, next("Acquire after BeginTurn", acquire(t, s, key, longTTL)))
	l, _ = beginTurn(t, starter, key, "d-2", longTTL)
	release(t, s, next("BeginTurn after Acquire", l))

	stale, _ := beginTurn(t, starter, key, "d-3", shortTTL)
	next("BeginTurn with a short ttl", stale)
	time.Sleep(longWait)
	cur, _ := beginTurn(t, starter, key, "d-3", longTTL)
	next("BeginTurn after expiry", cur)
	err := s.Commit(ctxFor(t), stale, conversation.Commit{Conversation: newConv(key), DedupeKey: "d-3"})
	wantErr(t, "Commit under an expired BeginTurn lease", err, conversation.ErrLeaseLost)
	if err := s.Commit(ctxFor(t), cur, conversation.Commit{Conversation: newConv(key), DedupeKey: "d-3"}); err != nil {
		t.Fatalf("Commit by the current turn: %v", err)
	}
}

func testBeginTurnInvalid(t *testing.T, s conversation.Store) {
	starter := as[conversation.TurnStarter](t, s)
	key := keyFor(t, "c")
	cases := []struct {
		name, key, dedupe string
		ttl               time.Duration
	}{
		{"EmptyKey", "", "d-1", longTTL},
		{"HugeKey", strings.Repeat("k", conversation.MaxStoreKeyLen+1), "d-1", longTTL},
		{"EmptyDedupe", key, "", longTTL},
		{"BadUTF8Dedupe", key, "d-\xff", longTTL},
		{"ZeroTTL", key, "d-1", 0},
		{"HugeTTL", key, "d-1", conversation.MaxLeaseTTL + time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := starter.BeginTurn(ctxFor(t), tc.key, tc.dedupe, tc.ttl)
			wantCode(t, "BeginTurn", err, conversation.Invalid)
		})
	}
	release(t, s, acquire(t, s, key, longTTL)) // no lease was taken
}

// claimOutbox calls ClaimOutbox and fails the test on error.
func claimOutbox(tb testing.TB, oc conversation.OutboxClaimer, key string, ttl time.Duration, limit int) conversation.OutboxClaim {
	tb.Helper()
	c, err := oc.ClaimOutbox(ctxFor(tb), key, ttl, limit)
	if err != nil {
		tb.Fatalf("ClaimOutbox(%q, limit %d): %v", key, limit, err)
	}
	if c.Key != key || c.Lease.Token == 0 {
		tb.Fatalf("ClaimOutbox(%q): got key %q token %d, want the key and a non-zero token", key, c.Key, c.Lease.Token)
	}
	return c
}

// finishOutbox calls FinishOutbox and fails the test on error.
func finishOutbox(tb testing.TB, oc conversation.OutboxClaimer, c conversation.OutboxClaim, delivered ...string) {
	tb.Helper()
	if err := oc.FinishOutbox(ctxFor(tb), c, delivered); err != nil {
		tb.Fatalf("FinishOutbox(%q, %q): %v", c.Key, delivered, err)
	}
}

// commitOutbound commits c with one outbound message per id.
func commitOutbound(tb testing.TB, s conversation.Store, c *conversation.Conversation, ids ...string) {
	tb.Helper()
	outs := make([]conversation.Outbound, len(ids))
	for i, id := range ids {
		outs[i] = outbound(c.Key, id, "text of "+id)
	}
	commit(tb, s, conversation.Commit{Conversation: c, Outbound: outs})
}

func wantIDs(tb testing.TB, what string, got []conversation.Outbound, want []string) {
	tb.Helper()
	if g := outIDs(got); !slices.Equal(g, want) {
		tb.Fatalf("%s: got ids %q, want %q", what, g, want)
	}
}

func testClaimOutboxOrder(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	key := keyFor(t, "c")
	c := newConv(key)
	commitOutbound(t, s, c, "o-1", "o-2")
	commitOutbound(t, s, c, "o-3", "o-4", "o-5")
	all := []string{"o-1", "o-2", "o-3", "o-4", "o-5"}
	cases := []struct {
		limit int
		want  []string
		more  bool
	}{
		{1, all[:1], true},
		{3, all[:3], true},
		{4, all[:4], true},
		{5, all, false},
		{conversation.MaxReadLimit, all, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint("limit", tc.limit), func(t *testing.T) {
			cl := claimOutbox(t, oc, key, longTTL, tc.limit)
			wantIDs(t, "claimed", cl.Messages, tc.want)
			if cl.More != tc.more {
				t.Fatalf("More with %d of %d pending: got %v, want %v", tc.limit, len(all), cl.More, tc.more)
			}
			sameJSON(t, "claimed message", cl.Messages[0], outbound(key, "o-1", "text of o-1"))
			finishOutbox(t, oc, cl)
		})
	}
	wantIDs(t, "Pending after claims that delivered nothing", pending(t, s, key, 10), all)

	empty := claimOutbox(t, oc, keyFor(t, "empty"), longTTL, 10)
	if len(empty.Messages) != 0 || empty.More {
		t.Fatalf("claim of a conversation without messages: got %d messages, More %v; want none", len(empty.Messages), empty.More)
	}
	finishOutbox(t, oc, empty)
}

func testClaimOutboxHeld(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	ctx := ctxFor(t)
	key, other := keyFor(t, "c"), keyFor(t, "other")
	c := newConv(key)
	commitOutbound(t, s, c, "o-1")
	first := claimOutbox(t, oc, key, longTTL, 10)
	_, err := oc.ClaimOutbox(ctx, key, longTTL, 10)
	wantErr(t, "second ClaimOutbox", err, conversation.ErrLeaseHeld)
	// Another conversation is independent, and turns go on while a
	// delivery is claimed.
	finishOutbox(t, oc, claimOutbox(t, oc, other, longTTL, 10))
	commitOutbound(t, s, c, "o-2")

	finishOutbox(t, oc, first)
	second := claimOutbox(t, oc, key, longTTL, 10)
	if second.Lease.Token <= first.Lease.Token {
		t.Fatalf("token of the next claim: got %d, want more than %d", second.Lease.Token, first.Lease.Token)
	}
	wantIDs(t, "next claim", second.Messages, []string{"o-1", "o-2"})
	finishOutbox(t, oc, second, "o-1", "o-2")
}

func testClaimOutboxExpired(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	commitOutbound(t, s, newConv(key), "o-1")
	stale := claimOutbox(t, oc, key, shortTTL, 10)
	time.Sleep(longWait)
	cur := claimOutbox(t, oc, key, longTTL, 10)
	if cur.Lease.Token <= stale.Lease.Token {
		t.Fatalf("token after expiry: got %d, want more than %d", cur.Lease.Token, stale.Lease.Token)
	}
	wantIDs(t, "claim after expiry", cur.Messages, []string{"o-1"})
	// Finishing the expired claim does not release the current one.
	finishOutbox(t, oc, stale)
	_, err := oc.ClaimOutbox(ctx, key, longTTL, 10)
	wantErr(t, "ClaimOutbox after the expired claim finished", err, conversation.ErrLeaseHeld)
	finishOutbox(t, oc, cur, "o-1")
}

func testFinishOutboxAcks(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	key := keyFor(t, "c")
	commitOutbound(t, s, newConv(key), "o-1", "o-2", "o-3")
	cl := claimOutbox(t, oc, key, longTTL, 10)
	finishOutbox(t, oc, cl, "o-1", "o-3")
	wantIDs(t, "Pending after delivering o-1 and o-3", pending(t, s, key, 10), []string{"o-2"})
	// The claim was released: the next one gets what is left.
	cl = claimOutbox(t, oc, key, longTTL, 10)
	wantIDs(t, "next claim", cl.Messages, []string{"o-2"})
	finishOutbox(t, oc, cl, "o-2")
	wantIDs(t, "Pending after delivering everything", pending(t, s, key, 10), nil)
}

// testFinishOutboxBacklog checks when FinishOutbox takes a conversation
// off the backlog: only when the claim delivered everything, the limit
// did not cut it, no turn was in flight and nothing was committed since.
// A kept entry leaves with the next claim that delivers everything.
func testFinishOutboxBacklog(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	ctx := ctxFor(t)
	cases := []struct {
		name        string
		commits     [][]string // outbound ids per commit before the claim
		acked       []string   // acked with Outbox.Ack before the claim
		turnHeld    bool       // a turn holds the conversation's lease during the claim
		limit       int
		after       []string // committed after the claim
		deliver     []string
		wantPending []string
		wantSettled bool
	}{
		{name: "AllDelivered", commits: [][]string{{"o-1"}, {"o-2"}}, limit: 10,
			deliver: []string{"o-1", "o-2"}, wantSettled: true},
		{name: "LeftoverEntry", commits: [][]string{{"o-1"}}, acked: []string{"o-1"}, limit: 10, wantSettled: true},
		{name: "NotAllDelivered", commits: [][]string{{"o-1", "o-2"}}, limit: 10,
			deliver: []string{"o-1"}, wantPending: []string{"o-2"}},
		{name: "CommitAfterClaim", commits: [][]string{{"o-1"}}, limit: 10, after: []string{"o-2"},
			deliver: []string{"o-1"}, wantPending: []string{"o-2"}},
		{name: "More", commits: [][]string{{"o-1", "o-2", "o-3"}}, limit: 2,
			deliver: []string{"o-1", "o-2"}, wantPending: []string{"o-3"}},
		{name: "TurnInFlight", commits: [][]string{{"o-1"}}, turnHeld: true, limit: 10,
			deliver: []string{"o-1"}},
	}
	inBacklog := func(key string) bool { return contains(backlog(t, s, time.Now().Add(time.Hour)), key) }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := keyFor(t, "c")
			c := newConv(key)
			for _, ids := range tc.commits {
				commitOutbound(t, s, c, ids...)
			}
			for _, id := range tc.acked {
				if err := s.Ack(ctx, key, id); err != nil {
					t.Fatalf("Ack(%q): %v", id, err)
				}
			}
			var turn conversation.Lease
			if tc.turnHeld {
				turn = acquire(t, s, key, longTTL)
			}
			cl := claimOutbox(t, oc, key, longTTL, tc.limit)
			if len(tc.after) > 0 {
				commitOutbound(t, s, c, tc.after...)
			}
			finishOutbox(t, oc, cl, tc.deliver...)
			if tc.turnHeld {
				release(t, s, turn)
			}
			wantIDs(t, "Pending after FinishOutbox", pending(t, s, key, 10), tc.wantPending)
			if got := !inBacklog(key); got != tc.wantSettled {
				t.Fatalf("conversation left the backlog: got %v, want %v", got, tc.wantSettled)
			}
			if tc.wantSettled {
				return
			}
			cl = claimOutbox(t, oc, key, longTTL, 10)
			wantIDs(t, "claim of what was kept", cl.Messages, tc.wantPending)
			finishOutbox(t, oc, cl, tc.wantPending...)
			if inBacklog(key) {
				t.Fatal("a claim that delivered everything left the conversation in the backlog")
			}
		})
	}
}

func testClaimOutboxInvalid(t *testing.T, s conversation.Store) {
	oc := as[conversation.OutboxClaimer](t, s)
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	cases := []struct {
		name string
		call func() error
	}{
		{"ClaimEmptyKey", func() error { _, err := oc.ClaimOutbox(ctx, "", longTTL, 10); return err }},
		{"ClaimHugeKey", func() error {
			_, err := oc.ClaimOutbox(ctx, strings.Repeat("k", conversation.MaxStoreKeyLen+1), longTTL, 10)
			return err
		}},
		{"ClaimZeroLimit", func() error { _, err := oc.ClaimOutbox(ctx, key, longTTL, 0); return err }},
		{"ClaimHugeLimit", func() error { _, err := oc.ClaimOutbox(ctx, key, longTTL, conversation.MaxReadLimit+1); return err }},
		{"ClaimZeroTTL", func() error { _, err := oc.ClaimOutbox(ctx, key, 0, 10); return err }},
		{"FinishEmptyKey", func() error { return oc.FinishOutbox(ctx, conversation.OutboxClaim{}, nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, tc.call(), conversation.Invalid)
		})
	}
	finishOutbox(t, oc, claimOutbox(t, oc, key, longTTL, 10)) // no claim was taken
}

func testCommitClaim(t *testing.T, s conversation.Store) {
	cc := as[conversation.CommitClaimer](t, s)
	cases := []struct {
		name      string
		earlier   []string // committed (and left pending) before
		claimHeld bool     // a dispatcher holds the delivery lease during the commit
		ids       []string // outbound of the claiming commit
		wantClaim bool
	}{
		{name: "EmptyOutbox", ids: []string{"o-1", "o-2"}, wantClaim: true},
		{name: "OlderPending", earlier: []string{"o-0"}, ids: []string{"o-1"}},
		{name: "DispatcherDelivering", earlier: []string{"o-0"}, claimHeld: true, ids: []string{"o-1"}},
		{name: "NothingOutbound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := keyFor(t, "c")
			c := newConv(key)
			if len(tc.earlier) > 0 {
				commitOutbound(t, s, c, tc.earlier...)
			}
			var held conversation.OutboxClaim
			if tc.claimHeld {
				held = claimOutbox(t, as[conversation.OutboxClaimer](t, s), key, longTTL, 10)
			}
			outs := make([]conversation.Outbound, len(tc.ids))
			for i, id := range tc.ids {
				outs[i] = outbound(key, id, "text of "+id)
			}
			l := acquire(t, s, key, longTTL)
			version := c.Version
			cl, ok, err := cc.CommitClaim(ctxFor(t), l, conversation.Commit{Conversation: c, Outbound: outs}, longTTL)
			if err != nil {
				t.Fatalf("CommitClaim: %v", err)
			}
			if c.Version != version+1 {
				t.Fatalf("version after CommitClaim: got %d, want %d", c.Version, version+1)
			}
			if ok != tc.wantClaim {
				t.Fatalf("claimed: got %v, want %v", ok, tc.wantClaim)
			}
			want := append(append([]string(nil), tc.earlier...), tc.ids...)
			if len(want) == 0 {
				want = nil
			}
			wantIDs(t, "Pending after CommitClaim", pending(t, s, key, 10), want)
			if tc.claimHeld {
				finishOutbox(t, as[conversation.OutboxClaimer](t, s), held)
			}
			if !ok {
				return
			}
			wantIDs(t, "claimed messages", cl.Messages, tc.ids)
			if cl.Key != key || cl.Lease.Token == 0 {
				t.Fatalf("claim: key %q token %d, want %q and a token", cl.Key, cl.Lease.Token, key)
			}
			// The claim is a real delivery lease: no second dispatcher gets in.
			if _, err := as[conversation.OutboxClaimer](t, s).ClaimOutbox(ctxFor(t), key, longTTL, 10); !errors.Is(err, conversation.ErrLeaseHeld) {
				t.Fatalf("ClaimOutbox while the commit's claim is held: err = %v, want ErrLeaseHeld", err)
			}
			finishOutbox(t, as[conversation.OutboxClaimer](t, s), cl, tc.ids...)
			wantIDs(t, "Pending after FinishOutbox", pending(t, s, key, 10), nil)
			if contains(backlog(t, s, time.Now().Add(time.Hour)), key) {
				t.Fatal("a claim that delivered everything left the conversation in the backlog")
			}
		})
	}
}
