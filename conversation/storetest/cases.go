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

func testLoadUnknown(t *testing.T, s conversation.Store) {
	_, err := s.Load(ctxFor(t), keyFor(t, "nobody"))
	wantErr(t, "Load of an unknown key", err, conversation.ErrNotFound)
}

func testCommitRoundTrip(t *testing.T, s conversation.Store) {
	key := keyFor(t, "c")
	c := newConv(key)
	c.Phase = conversation.PhaseAwaitingAgent
	c.Ticket = "T-42"
	c.Unanswered, c.NotHelpful, c.Turns = 2, 1, 3
	c.UpdatedAt = ts(90)
	c.History = []conversation.Turn{
		{Role: conversation.RoleCustomer, Text: "VPN broken — ünïcödé ✓", At: ts(10), MessageID: "d-1", AuthorName: "Ada",
			Action: &conversation.Action{ID: conversation.ActionHuman, Value: "v"}},
		{Role: conversation.RoleBot, Text: "Try this", At: ts(11), MessageID: "o-1", Kind: conversation.KindAnswer,
			Citations: []conversation.Citation{{Title: "VPN", Source: "vpn.md", URL: "https://x.example/vpn", Section: "Reset"}}},
		{Role: conversation.RoleAgent, Text: "On it", At: ts(12).In(time.FixedZone("CET", 3600)), AuthorName: "Bob"},
	}
	want := *c
	want.Version = 1
	want.History = slices.Clone(c.History)

	commit(t, s, conversation.Commit{Conversation: c, DedupeKey: "d-1"})
	if c.Version != 1 {
		t.Fatalf("caller's Version after the first commit: got %d, want 1", c.Version)
	}
	got := load(t, s, key)
	if got.Version != 1 {
		t.Fatalf("loaded Version: got %d, want 1", got.Version)
	}
	if !got.History[2].At.Equal(want.History[2].At) {
		t.Fatalf("time in another zone: got %v, want %v", got.History[2].At, want.History[2].At)
	}
	got.History[2].At = want.History[2].At.UTC()
	want.History[2].At = want.History[2].At.UTC()
	sameJSON(t, "loaded conversation", got, &want)

	// A second commit builds on the loaded state.
	got.Phase = conversation.PhaseAgentActive
	commit(t, s, conversation.Commit{Conversation: got})
	if again := load(t, s, key); again.Version != 2 || again.Phase != conversation.PhaseAgentActive {
		t.Fatalf("after the second commit: got version %d phase %q, want 2 %q", again.Version, again.Phase, conversation.PhaseAgentActive)
	}
}

func testStaleVersion(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	c := newConv(key)
	c.Ticket = "first"
	commit(t, s, conversation.Commit{Conversation: c})

	for _, version := range []int64{0, 2, 7} {
		t.Run(fmt.Sprintf("version%d", version), func(t *testing.T) {
			l := acquire(t, s, key, longTTL)
			stale := newConv(key)
			stale.Version, stale.Ticket = version, "second"
			err := s.Commit(ctx, l, conversation.Commit{
				Conversation: stale, DedupeKey: "d-stale",
				Events:   []conversation.Event{event(key, conversation.EventAnswered, 1)},
				Outbound: []conversation.Outbound{outbound(key, "o-stale", "never")},
			})
			wantErr(t, "Commit of a stale version", err, conversation.ErrStaleVersion)
			if stale.Version != version {
				t.Fatalf("failed commit changed the caller's version: got %d, want %d", stale.Version, version)
			}
			if got := load(t, s, key); got.Version != 1 || got.Ticket != "first" {
				t.Fatalf("after a stale commit: got version %d ticket %q, want 1 %q", got.Version, got.Ticket, "first")
			}
			if seen(t, s, key, "d-stale") {
				t.Fatal("a stale commit marked its dedupe key as seen")
			}
			if out := pending(t, s, key, 10); len(out) != 0 {
				t.Fatalf("a stale commit wrote %d outbound messages", len(out))
			}
			if evs := events(t, s, key, 10); len(evs) != 0 {
				t.Fatalf("a stale commit wrote %d events", len(evs))
			}
			// The lease is still held after a failed commit.
			_, err = s.Acquire(ctx, key, longTTL)
			wantErr(t, "Acquire after a failed commit", err, conversation.ErrLeaseHeld)
			if err := s.Release(ctx, l); err != nil {
				t.Fatalf("Release: %v", err)
			}
		})
	}
}

func testInvalidInput(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	huge := strings.Repeat("k", 1<<20)
	l := acquire(t, s, key, longTTL)
	t.Cleanup(func() { _ = s.Release(ctx, l) })
	other := newConv(keyFor(t, "other"))
	mismatched := outbound("someone-else", "o-1", "hi")
	dupIDs := []conversation.Outbound{outbound(key, "o-1", "a"), outbound(key, "o-1", "b")}
	cases := []struct {
		name string
		call func() error
	}{
		{"LoadEmptyKey", func() error { _, err := s.Load(ctx, ""); return err }},
		{"LoadHugeKey", func() error { _, err := s.Load(ctx, huge); return err }},
		{"AcquireEmptyKey", func() error { _, err := s.Acquire(ctx, "", longTTL); return err }},
		{"AcquireZeroTTL", func() error { _, err := s.Acquire(ctx, keyFor(t, "z"), 0); return err }},
		{"AcquireNegativeTTL", func() error { _, err := s.Acquire(ctx, keyFor(t, "n"), -time.Second); return err }},
		{"SeenEmptyDedupe", func() error { _, err := s.Seen(ctx, key, ""); return err }},
		{"CommitNilConversation", func() error { return s.Commit(ctx, l, conversation.Commit{}) }},
		{"CommitOtherKey", func() error { return s.Commit(ctx, l, conversation.Commit{Conversation: other}) }},
		{"CommitForeignOutbound", func() error {
			return s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key), Outbound: []conversation.Outbound{mismatched}})
		}},
		{"CommitOutboundWithoutID", func() error {
			return s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key), Outbound: []conversation.Outbound{outbound(key, "", "x")}})
		}},
		{"CommitDuplicateOutboundIDs", func() error {
			return s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key), Outbound: dupIDs})
		}},
		{"PendingZeroLimit", func() error { _, err := s.Pending(ctx, key, 0); return err }},
		{"EventsNegativeLimit", func() error { _, err := s.Events(ctx, key, -1); return err }},
		{"BacklogZeroLimit", func() error { _, err := s.Backlog(ctx, time.Now(), 0); return err }},
		{"NextSequenceEmptyName", func() error { _, err := s.NextSequence(ctx, ""); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, tc.call(), conversation.Invalid)
		})
	}
	// Nothing of the rejected commits was written and the lease survived.
	if _, err := s.Load(ctx, key); !errors.Is(err, conversation.ErrNotFound) {
		t.Fatalf("Load after rejected commits: got %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key)}); err != nil {
		t.Fatalf("valid Commit after rejected ones: %v", err)
	}
}

func testAcquireHeld(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	before := time.Now()
	l := acquire(t, s, key, longTTL)
	if l.Key != key || l.Token == 0 || !l.Expires.After(before) {
		t.Fatalf("lease: got %+v, want key %q, a non-zero token, expiry after %v", l, key, before)
	}
	_, err := s.Acquire(ctx, key, longTTL)
	wantErr(t, "second Acquire", err, conversation.ErrLeaseHeld)
	// Another key is independent.
	acquire(t, s, keyFor(t, "other"), longTTL)
	if err := s.Release(ctx, l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	acquire(t, s, key, longTTL)
}

func testAcquireRace(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	const n = 8
	for round := range 5 {
		key := keyFor(t, fmt.Sprint(round))
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.Acquire(ctx, key, longTTL)
			})
		}
		close(start)
		wg.Wait()
		oneWinner(t, fmt.Sprintf("round %d of racing Acquire", round), errs, conversation.ErrLeaseHeld)
	}
}

func testConcurrentAppend(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			for {
				l, err := retryHeld(ctx, s, key, longTTL)
				if err != nil {
					errs <- err
					return
				}
				c, err := s.Load(ctx, key)
				if errors.Is(err, conversation.ErrNotFound) {
					c, err = newConv(key), nil
				}
				if err != nil {
					errs <- err
					return
				}
				c.Append(conversation.Turn{Role: conversation.RoleCustomer, Text: fmt.Sprint("turn ", i), At: ts(i)}, 0)
				c.Turns++
				err = s.Commit(ctx, l, conversation.Commit{Conversation: c, DedupeKey: fmt.Sprint("d-", i)})
				if err == nil {
					return
				}
				_ = s.Release(ctx, l)
				if !errors.Is(err, conversation.ErrStaleVersion) && !errors.Is(err, conversation.ErrLeaseLost) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("appending goroutine: %v", err)
	}
	got := load(t, s, key)
	if got.Version != n || len(got.History) != n || got.Turns != n {
		t.Fatalf("after %d concurrent appends: got version %d, %d turns in history, Turns %d; want %d each",
			n, got.Version, len(got.History), got.Turns, n)
	}
	texts := map[string]bool{}
	for _, turn := range got.History {
		texts[turn.Text] = true
	}
	if len(texts) != n {
		t.Fatalf("history has %d distinct turns, want %d: %+v", len(texts), n, got.History)
	}
}

func testFencingTokens(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key, other := keyFor(t, "a"), keyFor(t, "b")
	var last uint64
	next := func(how string, l conversation.Lease) {
		t.Helper()
		if l.Token <= last {
			t.Fatalf("token after %s: got %d, want more than %d", how, l.Token, last)
		}
		last = l.Token
	}
	for i := range 5 {
		l := acquire(t, s, key, longTTL)
		next("release", l)
		if err := s.Release(ctx, l); err != nil {
			t.Fatalf("Release: %v", err)
		}
		// Activity on another key does not disturb this key's order.
		for range i {
			ol := acquire(t, s, other, longTTL)
			_ = s.Release(ctx, ol)
		}
	}
	l := acquire(t, s, key, longTTL)
	next("release", l)
	c := newConv(key)
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: c}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	next("commit", acquire(t, s, key, shortTTL))
	time.Sleep(longWait)
	next("expiry", acquire(t, s, key, longTTL))
}

func testExpiredLease(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	l := acquire(t, s, key, shortTTL)
	time.Sleep(longWait)
	c := newConv(key)
	err := s.Commit(ctx, l, conversation.Commit{Conversation: c, DedupeKey: "d-1",
		Outbound: []conversation.Outbound{outbound(key, "o-1", "late")}})
	wantErr(t, "Commit under an expired lease", err, conversation.ErrLeaseLost)
	if _, err := s.Load(ctx, key); !errors.Is(err, conversation.ErrNotFound) {
		t.Fatalf("Load after a fenced commit: got %v, want ErrNotFound", err)
	}
	if seen(t, s, key, "d-1") || len(pending(t, s, key, 10)) != 0 {
		t.Fatal("a fenced commit left a dedupe mark or outbound message")
	}
}

func testTakenOverLease(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	old := acquire(t, s, key, shortTTL)
	time.Sleep(longWait)
	cur := acquire(t, s, key, longTTL)
	c := newConv(key)
	c.Ticket = "old"
	err := s.Commit(ctx, old, conversation.Commit{Conversation: c})
	wantErr(t, "Commit under a taken-over lease", err, conversation.ErrLeaseLost)
	c2 := newConv(key)
	c2.Ticket = "new"
	if err := s.Commit(ctx, cur, conversation.Commit{Conversation: c2}); err != nil {
		t.Fatalf("Commit by the new holder: %v", err)
	}
	if got := load(t, s, key); got.Ticket != "new" || got.Version != 1 {
		t.Fatalf("state: got ticket %q version %d, want %q 1", got.Ticket, got.Version, "new")
	}
}

func testReleaseLostLease(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	expired := acquire(t, s, key, shortTTL)
	time.Sleep(longWait)
	if err := s.Release(ctx, expired); err != nil {
		t.Fatalf("Release of an expired lease: %v", err)
	}
	old := acquire(t, s, key, shortTTL)
	time.Sleep(longWait)
	cur := acquire(t, s, key, longTTL)
	if err := s.Release(ctx, old); err != nil {
		t.Fatalf("Release of a taken-over lease: %v", err)
	}
	_, err := s.Acquire(ctx, key, longTTL)
	wantErr(t, "Acquire after releasing somebody else's lease", err, conversation.ErrLeaseHeld)
	if err := s.Commit(ctx, cur, conversation.Commit{Conversation: newConv(key)}); err != nil {
		t.Fatalf("Commit by the current holder: %v", err)
	}
	if err := s.Release(ctx, cur); err != nil {
		t.Fatalf("Release after Commit: %v", err)
	}
}

func testCommitReleasesLease(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	l := acquire(t, s, key, longTTL)
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: newConv(key)}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	acquire(t, s, key, longTTL)
	// The released lease cannot commit again.
	c := load(t, s, key)
	err := s.Commit(ctx, l, conversation.Commit{Conversation: c})
	wantErr(t, "second Commit with a spent lease", err, conversation.ErrLeaseLost)
}

func testDedupe(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key, other := keyFor(t, "c"), keyFor(t, "other")
	if seen(t, s, key, "d-1") {
		t.Fatal("Seen before any commit: got true")
	}
	c := newConv(key)
	commit(t, s, conversation.Commit{Conversation: c, DedupeKey: "d-1"})
	if !seen(t, s, key, "d-1") {
		t.Fatal("Seen after commit: got false")
	}
	if seen(t, s, key, "d-2") || seen(t, s, other, "d-1") {
		t.Fatal("Seen is true for another dedupe key or another conversation")
	}
	l := acquire(t, s, key, longTTL)
	again := load(t, s, key)
	again.Ticket = "dup"
	err := s.Commit(ctx, l, conversation.Commit{Conversation: again, DedupeKey: "d-1",
		Events:   []conversation.Event{event(key, conversation.EventAnswered, 2)},
		Outbound: []conversation.Outbound{outbound(key, "o-dup", "twice")}})
	wantErr(t, "Commit of a seen dedupe key", err, conversation.ErrDuplicate)
	if got := load(t, s, key); got.Version != 1 || got.Ticket != "" {
		t.Fatalf("after a duplicate: got version %d ticket %q, want 1 and none", got.Version, got.Ticket)
	}
	if len(pending(t, s, key, 10)) != 0 || len(events(t, s, key, 10)) != 0 {
		t.Fatal("a duplicate commit wrote events or outbound messages")
	}
	// Commits without a dedupe key are never duplicates.
	if err := s.Commit(ctx, l, conversation.Commit{Conversation: again}); err != nil {
		t.Fatalf("Commit without a dedupe key: %v", err)
	}
	commit(t, s, conversation.Commit{Conversation: again})
}

func testDedupeConcurrent(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	const n = 8
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() {
			l, err := retryHeld(ctx, s, key, longTTL)
			if err != nil {
				results[i] = err
				return
			}
			c, err := s.Load(ctx, key)
			if errors.Is(err, conversation.ErrNotFound) {
				c, err = newConv(key), nil
			}
			if err != nil {
				results[i] = err
				_ = s.Release(ctx, l)
				return
			}
			c.Turns = i + 1
			results[i] = s.Commit(ctx, l, conversation.Commit{Conversation: c, DedupeKey: "same",
				Outbound: []conversation.Outbound{outbound(key, fmt.Sprint("o-", i), "reply")}})
			if results[i] != nil {
				_ = s.Release(ctx, l)
			}
		})
	}
	wg.Wait()
	oneWinner(t, "concurrent commits with one dedupe key", results, conversation.ErrDuplicate)
	if got := load(t, s, key); got.Version != 1 {
		t.Fatalf("version: got %d, want 1", got.Version)
	}
	if out := pending(t, s, key, 100); len(out) != 1 {
		t.Fatalf("outbound messages: got %d, want 1", len(out))
	}
}

func testAtomicWrites(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	evs := []conversation.Event{
		event(key, conversation.EventMessageReceived, 1),
		{Type: conversation.EventAnswered, At: ts(2)}, // no key: the store fills it in
		event(key, conversation.EventPhaseChanged, 3),
	}
	outs := []conversation.Outbound{outbound(key, "o-1", "first"), outbound(key, "o-2", "second"), outbound(key, "o-3", "third")}
	outs[1].ConversationKey = ""

	// A commit that fails (fenced off) writes nothing.
	lost := acquire(t, s, key, shortTTL)
	time.Sleep(longWait)
	err := s.Commit(ctx, lost, conversation.Commit{Conversation: newConv(key), Events: evs, Outbound: outs})
	wantErr(t, "fenced Commit", err, conversation.ErrLeaseLost)
	if len(events(t, s, key, 10)) != 0 || len(pending(t, s, key, 10)) != 0 {
		t.Fatal("a failed commit wrote events or outbound messages")
	}

	commit(t, s, conversation.Commit{Conversation: newConv(key), Events: evs, Outbound: outs})
	gotEv := events(t, s, key, 10)
	if len(gotEv) != len(evs) {
		t.Fatalf("events: got %d, want %d", len(gotEv), len(evs))
	}
	ids := map[string]bool{}
	for i, e := range gotEv {
		if e.ID == "" || ids[e.ID] {
			t.Fatalf("event %d has an empty or repeated id %q", i, e.ID)
		}
		ids[e.ID] = true
		if evs[i].ID != "" && evs[i].ID != e.ID {
			t.Fatalf("event %d: the store reported id %q to the caller but stored %q", i, evs[i].ID, e.ID)
		}
		want := evs[i]
		want.ID, want.ConversationKey = e.ID, key
		sameJSON(t, fmt.Sprint("event ", i), e, want)
	}
	gotOut := pending(t, s, key, 10)
	if len(gotOut) != len(outs) {
		t.Fatalf("outbound: got %d, want %d", len(gotOut), len(outs))
	}
	for i, o := range gotOut {
		want := outs[i]
		want.ConversationKey = key
		sameJSON(t, fmt.Sprint("outbound ", i), o, want)
	}
}

func testPendingAndAck(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	key := keyFor(t, "c")
	if out := pending(t, s, key, 10); len(out) != 0 {
		t.Fatalf("Pending of an unknown conversation: got %d messages, want 0", len(out))
	}
	c := newConv(key)
	var want []string
	for i := range 3 {
		o1, o2 := fmt.Sprintf("o-%d-a", i), fmt.Sprintf("o-%d-b", i)
		want = append(want, o1, o2)
		commit(t, s, conversation.Commit{Conversation: c, Outbound: []conversation.Outbound{outbound(key, o1, "x"), outbound(key, o2, "y")}})
	}
	cases := []struct {
		name  string
		ack   []string
		limit int
		want  []string
	}{
		{"AllOldestFirst", nil, 10, want},
		{"Limit", nil, 4, want[:4]},
		{"AckHead", []string{"o-0-a"}, 10, want[1:]},
		{"AckMiddle", []string{"o-1-b"}, 10, []string{"o-0-b", "o-1-a", "o-2-a", "o-2-b"}},
		{"AckUnknownAndTwice", []string{"no-such-id", "o-1-b"}, 10, []string{"o-0-b", "o-1-a", "o-2-a", "o-2-b"}},
		{"AckRest", []string{"o-0-b", "o-1-a", "o-2-a", "o-2-b"}, 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range tc.ack {
				if err := s.Ack(ctx, key, id); err != nil {
					t.Fatalf("Ack(%q): %v", id, err)
				}
			}
			if got := outIDs(pending(t, s, key, tc.limit)); !slices.Equal(got, tc.want) {
				t.Fatalf("Pending(limit %d): got %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
	if err := s.Ack(ctx, keyFor(t, "unknown"), "o-1"); err != nil {
		t.Fatalf("Ack on an unknown conversation: %v", err)
	}
}

func testBacklog(t *testing.T, s conversation.Store) {
	old, fresh, quiet := keyFor(t, "old"), keyFor(t, "fresh"), keyFor(t, "quiet")
	commit(t, s, conversation.Commit{Conversation: newConv(quiet)}) // nothing to deliver
	commit(t, s, conversation.Commit{Conversation: newConv(old), Outbound: []conversation.Outbound{outbound(old, "o-1", "a")}})
	time.Sleep(30 * time.Millisecond)
	cut := time.Now()
	time.Sleep(30 * time.Millisecond)
	commit(t, s, conversation.Commit{Conversation: newConv(fresh), Outbound: []conversation.Outbound{outbound(fresh, "o-1", "b")}})

	got := backlog(t, s, cut)
	if !contains(got, old) || contains(got, fresh) {
		t.Fatalf("Backlog(before the fresh commit): got %q, want %q without %q", got, old, fresh)
	}
	all := backlog(t, s, time.Now().Add(time.Hour))
	if !contains(all, old) || !contains(all, fresh) || contains(all, quiet) {
		t.Fatalf("Backlog(an hour ahead): got %q, want %q and %q without %q", all, old, fresh, quiet)
	}
	if slices.Index(all, old) > slices.Index(all, fresh) {
		t.Fatalf("Backlog order: got %q, want the older key first", all)
	}
	one, err := s.Backlog(ctxFor(t), time.Now().Add(time.Hour), 1)
	if err != nil || len(one) != 1 {
		t.Fatalf("Backlog(limit 1): got %q, %v; want one key", one, err)
	}
}

func testSettle(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	settle := func(key string) {
		t.Helper()
		if err := s.Settle(ctx, key); err != nil {
			t.Fatalf("Settle(%q): %v", key, err)
		}
	}
	t.Run("Drained", func(t *testing.T) {
		key := keyFor(t, "c")
		commit(t, s, conversation.Commit{Conversation: newConv(key), Outbound: []conversation.Outbound{outbound(key, "o-1", "a")}})
		if err := s.Ack(ctx, key, "o-1"); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		settle(key)
		if contains(backlog(t, s, later()), key) {
			t.Fatal("a drained conversation is still in the backlog after Settle")
		}
		settle(key) // settling twice is harmless
	})
	t.Run("StillPending", func(t *testing.T) {
		key := keyFor(t, "c")
		commit(t, s, conversation.Commit{Conversation: newConv(key), Outbound: []conversation.Outbound{outbound(key, "o-1", "a"), outbound(key, "o-2", "b")}})
		if err := s.Ack(ctx, key, "o-1"); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		settle(key)
		if !contains(backlog(t, s, later()), key) {
			t.Fatal("Settle removed a conversation that still has a pending message")
		}
	})
	t.Run("CommitAfterBacklogRead", func(t *testing.T) {
		key := keyFor(t, "c")
		c := newConv(key)
		commit(t, s, conversation.Commit{Conversation: c, Outbound: []conversation.Outbound{outbound(key, "o-1", "a")}})
		if err := s.Ack(ctx, key, "o-1"); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if !contains(backlog(t, s, later()), key) {
			t.Fatal("committed conversation missing from the backlog")
		}
		commit(t, s, conversation.Commit{Conversation: c, Outbound: []conversation.Outbound{outbound(key, "o-2", "b")}})
		settle(key)
		if !contains(backlog(t, s, later()), key) {
			t.Fatal("Settle removed a conversation committed to after the backlog was read")
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		settle(keyFor(t, "never-committed"))
	})
}

func testNextSequence(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	next := func(name string) uint64 {
		t.Helper()
		n, err := s.NextSequence(ctx, name)
		if err != nil {
			t.Fatalf("NextSequence(%q): %v", name, err)
		}
		return n
	}
	steps := []struct {
		name string
		want uint64
	}{{"ticket", 1}, {"ticket", 2}, {"case", 1}, {"ticket", 3}, {"case", 2}, {"{x}:y/ü", 1}}
	for _, st := range steps {
		if got := next(st.name); got != st.want {
			t.Fatalf("NextSequence(%q): got %d, want %d", st.name, got, st.want)
		}
	}
}

func testNextSequenceConcurrent(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	const workers, each = 8, 50
	got := make([][]uint64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				n, err := s.NextSequence(ctx, "concurrent")
				if err != nil {
					errs[w] = err
					return
				}
				got[w] = append(got[w], n)
			}
		})
	}
	wg.Wait()
	seenN := map[uint64]bool{}
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("NextSequence: %v", errs[w])
		}
		for _, n := range got[w] {
			if seenN[n] {
				t.Fatalf("NextSequence returned %d twice", n)
			}
			seenN[n] = true
		}
	}
	for n := uint64(1); n <= workers*each; n++ {
		if !seenN[n] {
			t.Fatalf("NextSequence skipped %d", n)
		}
	}
}

func testEvents(t *testing.T, s conversation.Store) {
	key := keyFor(t, "c")
	c := newConv(key)
	for i := range 4 {
		commit(t, s, conversation.Commit{Conversation: c, Events: []conversation.Event{
			event(key, conversation.EventMessageReceived, 2*i), event(key, conversation.EventAnswered, 2*i+1)}})
	}
	if got := events(t, s, keyFor(t, "unknown"), 10); len(got) != 0 {
		t.Fatalf("Events of an unknown conversation: got %d, want 0", len(got))
	}
	cases := []struct {
		limit int
		want  []string // Data["n"], oldest first
	}{
		{1, []string{"7"}},
		{3, []string{"5", "6", "7"}},
		{8, []string{"0", "1", "2", "3", "4", "5", "6", "7"}},
		{100, []string{"0", "1", "2", "3", "4", "5", "6", "7"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint("limit", tc.limit), func(t *testing.T) {
			var got []string
			for _, e := range events(t, s, key, tc.limit) {
				got = append(got, e.Data["n"])
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Events(limit %d): got %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
}

func testEventsCapped(t *testing.T, s conversation.Store) {
	key := keyFor(t, "c")
	c := newConv(key)
	const perCommit, commits = 30, 10 // 300 events, well beyond EventsCap+EventsCapSlack
	total := perCommit * commits
	for i := range commits {
		var evs []conversation.Event
		for j := range perCommit {
			evs = append(evs, event(key, conversation.EventMessageReceived, i*perCommit+j))
		}
		commit(t, s, conversation.Commit{Conversation: c, Events: evs})
	}
	got := events(t, s, key, 1000)
	if len(got) < EventsCap || len(got) > EventsCap+EventsCapSlack {
		t.Fatalf("after %d events the store keeps %d, want %d..%d", total, len(got), EventsCap, EventsCap+EventsCapSlack)
	}
	for i, e := range got { // the newest ones, in order
		if want := fmt.Sprint(total - len(got) + i); e.Data["n"] != want {
			t.Fatalf("kept event %d: got n=%s, want n=%s", i, e.Data["n"], want)
		}
	}
}

func testPing(t *testing.T, s conversation.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testAwkwardKeys(t *testing.T, s conversation.Store) {
	ctx := ctxFor(t)
	keys := []string{
		"slack:T1:C2:1700000000.000100", "{tag}", "}{", "{", "}", "a{b}c", "{}", "%7B", "%", "a/b/../c",
		"deliver/{x}", "ünïcödé:日本語:😀", "sp ace", strings.Repeat("k", conversation.MaxKeyLen+len("deliver/")),
	}
	for i, key := range keys {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := newConv(key)
			c.Ticket = key
			commit(t, s, conversation.Commit{Conversation: c, DedupeKey: "d:{" + key + "}",
				Events:   []conversation.Event{event(key, conversation.EventAnswered, 1)},
				Outbound: []conversation.Outbound{outbound(key, "o:{1}", "hi")}})
			if got := load(t, s, key); got.Ticket != key || got.Key != key {
				t.Fatalf("Load(%q): got key %q ticket %q", key, got.Key, got.Ticket)
			}
			if !seen(t, s, key, "d:{"+key+"}") {
				t.Fatalf("Seen(%q): got false after commit", key)
			}
			if evs := events(t, s, key, 10); len(evs) != 1 || evs[0].ConversationKey != key {
				t.Fatalf("Events(%q): got %+v", key, evs)
			}
			if out := pending(t, s, key, 10); len(out) != 1 || out[0].ID != "o:{1}" {
				t.Fatalf("Pending(%q): got %+v", key, out)
			}
			if !contains(backlog(t, s, time.Now().Add(time.Hour)), key) {
				t.Fatalf("Backlog misses %q", key)
			}
			if err := s.Ack(ctx, key, "o:{1}"); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			if err := s.Settle(ctx, key); err != nil {
				t.Fatalf("Settle: %v", err)
			}
			if contains(backlog(t, s, time.Now().Add(time.Hour)), key) {
				t.Fatalf("Backlog still has %q after Settle", key)
			}
			l := acquire(t, s, key, longTTL)
			if err := s.Release(ctx, l); err != nil {
				t.Fatalf("Release: %v", err)
			}
		})
	}
	// Each key is its own conversation: every one was committed once.
	for _, key := range keys {
		if got := load(t, s, key); got.Version != 1 {
			t.Fatalf("Load(%q): got version %d, want 1 (keys collide)", key, got.Version)
		}
	}
}
