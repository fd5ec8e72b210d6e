// Package storetest is the conformance suite that every
// conversation.Store implementation must pass:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) conversation.Store {
//			return open(t) // a fresh, empty store configured as below
//		})
//	}
//
// The suite needs a store that keeps EventsCap events per conversation;
// the store may keep up to EventsCapSlack more (Redis trims approximately).
// Run closes every store it creates; newStore must not close it itself.
// The cases run in parallel, so newStore may be called concurrently.
// Stores must keep times to at least millisecond precision.
//
// A store that implements an optional capability (conversation.TurnStarter,
// conversation.OutboxClaimer) also runs that capability's cases; Run logs
// which capabilities it found. Store Config tables can use CheckConfigs.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// EventsCap is the per-conversation event cap a store under test must be
// configured with.
const EventsCap = 50

// EventsCapSlack is how many events beyond EventsCap a store may keep.
const EventsCapSlack = 100

// shortTTL is the lease ttl used where expiry matters; the suite sleeps
// longWait (a generous multiple) to let such a lease run out.
const (
	shortTTL = 200 * time.Millisecond
	longWait = 700 * time.Millisecond
	// longTTL is long enough never to run out during a test.
	longTTL = 30 * time.Second
)

// storeCase is one case of the suite.
type storeCase struct {
	name string
	test func(t *testing.T, s conversation.Store)
}

// Run runs the conformance suite: each case gets a fresh store from
// newStore, closed when the case ends. The cases of an optional
// capability (conversation.TurnStarter, conversation.OutboxClaimer) run
// when the store implements it; Run logs which capabilities it tested.
func Run(t *testing.T, newStore func(t *testing.T) conversation.Store) {
	cases := []storeCase{
		{"LoadUnknown", testLoadUnknown},
		{"CommitRoundTrip", testCommitRoundTrip},
		{"StaleVersion", testStaleVersion},
		{"InvalidInput", testInvalidInput},
		{"AcquireHeld", testAcquireHeld},
		{"AcquireRace", testAcquireRace},
		{"ConcurrentAppend", testConcurrentAppend},
		{"FencingTokens", testFencingTokens},
		{"ExpiredLeaseCannotWrite", testExpiredLease},
		{"TakenOverLeaseCannotWrite", testTakenOverLease},
		{"ReleaseLostLease", testReleaseLostLease},
		{"CommitReleasesLease", testCommitReleasesLease},
		{"Dedupe", testDedupe},
		{"DedupeConcurrent", testDedupeConcurrent},
		{"EventsAndOutboxAtomic", testAtomicWrites},
		{"PendingAndAck", testPendingAndAck},
		{"Backlog", testBacklog},
		{"Settle", testSettle},
		{"NextSequence", testNextSequence},
		{"TicketQueue", testTicketQueue},
		{"NextSequenceConcurrent", testNextSequenceConcurrent},
		{"Events", testEvents},
		{"EventsCapped", testEventsCapped},
		{"Ping", testPing},
		{"AwkwardKeys", testAwkwardKeys},
	}
	cases = append(cases, capabilityCases(t, newStore)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.test(t, s)
		})
	}
}

// CheckConfigs runs a store Config's Validate table: each case is a
// subtest; a config with OK must validate, any other must fail with an
// Invalid error.
func CheckConfigs[C interface{ Validate() error }](t *testing.T, cases []ConfigCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			err := tc.Config.Validate()
			if (err == nil) != tc.OK {
				t.Fatalf("Validate: got %v, want ok=%v", err, tc.OK)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("Validate: got code %q, want %q", conversation.ErrorCode(err), conversation.Invalid)
			}
		})
	}
}

// ConfigCase is one row of CheckConfigs: a named config and whether it is
// valid.
type ConfigCase[C any] struct {
	Name   string
	Config C
	OK     bool
}

// ctxFor returns a context that ends with the test.
func ctxFor(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// ts returns a fixed UTC time with millisecond precision.
func ts(sec int) time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC).Add(time.Duration(sec) * time.Second)
}

func newConv(key string) *conversation.Conversation {
	return &conversation.Conversation{
		Key:       key,
		Channel:   conversation.ChannelWebChat,
		ThreadKey: "thread-1",
		User:      conversation.Identity{ID: "u-1", DisplayName: "Ada Lovelace", Email: "ada@example.org", Locale: "en-GB", TenantID: "t-1"},
		Phase:     conversation.PhaseBot,
		CreatedAt: ts(0),
		UpdatedAt: ts(0),
	}
}

func outbound(key, id, text string) conversation.Outbound {
	return conversation.Outbound{
		ID: id, ConversationKey: key, Channel: conversation.ChannelWebChat, ThreadKey: "thread-1",
		ReplyTo: "pm-1", Recipient: "u-1", Kind: conversation.KindAnswer, Text: text,
		Citations: []conversation.Citation{{Title: "VPN", Source: "vpn.md", URL: "https://docs.example.org/vpn", Section: "Setup"}},
		Buttons:   []conversation.Button{{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"}},
		InReplyTo: "d-1", CreatedAt: ts(1),
	}
}

func event(key string, typ conversation.EventType, n int) conversation.Event {
	return conversation.Event{Type: typ, ConversationKey: key, At: ts(n), Data: map[string]string{"n": fmt.Sprint(n)}}
}

func acquire(tb testing.TB, s conversation.Store, key string, ttl time.Duration) conversation.Lease {
	tb.Helper()
	l, err := s.Acquire(ctxFor(tb), key, ttl)
	if err != nil {
		tb.Fatalf("Acquire(%q): %v", key, err)
	}
	return l
}

// commit takes the lease on c's key, commits and fails the test on error.
func commit(tb testing.TB, s conversation.Store, c conversation.Commit) {
	tb.Helper()
	l := acquire(tb, s, c.Conversation.Key, longTTL)
	if err := s.Commit(ctxFor(tb), l, c); err != nil {
		tb.Fatalf("Commit(%q, version %d): %v", c.Conversation.Key, c.Conversation.Version, err)
	}
}

func load(tb testing.TB, s conversation.Store, key string) *conversation.Conversation {
	tb.Helper()
	c, err := s.Load(ctxFor(tb), key)
	if err != nil {
		tb.Fatalf("Load(%q): %v", key, err)
	}
	return c
}

func pending(tb testing.TB, s conversation.Store, key string, limit int) []conversation.Outbound {
	tb.Helper()
	out, err := s.Pending(ctxFor(tb), key, limit)
	if err != nil {
		tb.Fatalf("Pending(%q, %d): %v", key, limit, err)
	}
	return out
}

func events(tb testing.TB, s conversation.Store, key string, limit int) []conversation.Event {
	tb.Helper()
	evs, err := s.Events(ctxFor(tb), key, limit)
	if err != nil {
		tb.Fatalf("Events(%q, %d): %v", key, limit, err)
	}
	return evs
}

func backlog(tb testing.TB, s conversation.Store, olderThan time.Time) []string {
	tb.Helper()
	keys, err := s.Backlog(ctxFor(tb), olderThan, 1000)
	if err != nil {
		tb.Fatalf("Backlog: %v", err)
	}
	return keys
}

func seen(tb testing.TB, s conversation.Store, key, dedupe string) bool {
	tb.Helper()
	ok, err := s.Seen(ctxFor(tb), key, dedupe)
	if err != nil {
		tb.Fatalf("Seen(%q, %q): %v", key, dedupe, err)
	}
	return ok
}

// wantErr fails unless err matches want with errors.Is and carries want's code.
func wantErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got error %v, want %v", what, err, want)
	}
	if got, wantCode := conversation.ErrorCode(err), conversation.ErrorCode(want); got != wantCode {
		tb.Fatalf("%s: got code %q, want %q", what, got, wantCode)
	}
}

func wantCode(tb testing.TB, what string, err error, want conversation.Code) {
	tb.Helper()
	if got := conversation.ErrorCode(err); got != want {
		tb.Fatalf("%s: got code %q (error %v), want %q", what, got, err, want)
	}
}

// sameJSON fails unless got and want encode to the same JSON.
func sameJSON(tb testing.TB, what string, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		tb.Fatalf("%s: encode got: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		tb.Fatalf("%s: encode want: %v", what, err)
	}
	if string(g) != string(w) {
		tb.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func contains(keys []string, key string) bool {
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	return false
}

// retryHeld acquires key, retrying while another holder has it.
func retryHeld(ctx context.Context, s conversation.Store, key string, ttl time.Duration) (conversation.Lease, error) {
	for {
		l, err := s.Acquire(ctx, key, ttl)
		if !errors.Is(err, conversation.ErrLeaseHeld) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// outIDs returns the ids of out, in order.
func outIDs(out []conversation.Outbound) []string {
	var r []string
	for _, o := range out {
		r = append(r, o.ID)
	}
	return r
}

// oneWinner fails unless exactly one of errs is nil and every other one
// is want.
func oneWinner(tb testing.TB, what string, errs []error, want error) {
	tb.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, want):
			tb.Fatalf("%s: got %v, want nil or %v", what, err, want)
		}
	}
	if won != 1 {
		tb.Fatalf("%s: %d of %d succeeded, want exactly 1", what, won, len(errs))
	}
}

func keyFor(t *testing.T, suffix string) string {
	return "test:" + strings.ReplaceAll(t.Name(), "/", ".") + ":" + suffix
}
