package conversation_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// recordingSender records deliveries; fail decides the error per attempt.
type recordingSender struct {
	mu       sync.Mutex
	got      []conversation.Outbound
	attempts map[string]int
	fail     func(o conversation.Outbound, attempt int) error
}

func (r *recordingSender) Send(_ context.Context, o conversation.Outbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attempts == nil {
		r.attempts = map[string]int{}
	}
	r.attempts[o.ID]++
	if r.fail != nil {
		if err := r.fail(o, r.attempts[o.ID]); err != nil {
			return err
		}
	}
	r.got = append(r.got, o)
	return nil
}

func (r *recordingSender) delivered() []conversation.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]conversation.Outbound(nil), r.got...)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

func runDispatcher(tb testing.TB, s conversation.Store, cfg conversation.DispatcherConfig, snd conversation.Sender) *conversation.Dispatcher {
	tb.Helper()
	d := conversation.NewDispatcher(s, cfg)
	d.Register(conversation.ChannelWebChat, snd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	return d
}

func TestDispatcherDeliversInOrderWithRetries(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			snd := &recordingSender{fail: func(o conversation.Outbound, attempt int) error {
				if attempt < 3 { // the platform is flaky for every message
					return conversation.Errorf(conversation.Unavailable, "HTTP 503")
				}
				return nil
			}}
			d := runDispatcher(t, s, conversation.DispatcherConfig{BaseBackoff: 5 * time.Millisecond}, snd)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			e.DeliverWith(d)
			for i := range 5 {
				if _, err := e.Handle(context.Background(), msg("webchat:d", fmt.Sprint("m", i), fmt.Sprint("password ", i))); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "5 deliveries", func() bool { return len(snd.delivered()) == 5 })
			for i, o := range snd.delivered() {
				if want := fmt.Sprint("password ", i); !contains(o.Text, want) {
					t.Errorf("delivery %d = %q, want the answer to %q", i, o.Text, want)
				}
			}
			waitFor(t, "empty outbox", func() bool { return len(pendingTexts(t, s, "webchat:d")) == 0 })
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestDispatcherDropsPermanentFailures(t *testing.T) {
	s := stores()["bolt"](t)
	snd := &recordingSender{fail: func(o conversation.Outbound, _ int) error {
		if contains(o.Text, "poison") {
			return conversation.Errorf(conversation.Invalid, "channel_not_found")
		}
		return nil
	}}
	d := runDispatcher(t, s, conversation.DispatcherConfig{BaseBackoff: time.Millisecond}, snd)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	e.DeliverWith(d)
	for i, text := range []string{"password poison", "password fine"} {
		if _, err := e.Handle(context.Background(), msg("webchat:p", fmt.Sprint("m", i), text)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the good message", func() bool { return len(snd.delivered()) == 1 })
	waitFor(t, "empty outbox", func() bool { return len(pendingTexts(t, s, "webchat:p")) == 0 })
	if got := snd.delivered()[0].Text; !contains(got, "fine") {
		t.Errorf("delivered %q, want the fine message", got)
	}
}

func TestDispatcherRecoversBacklogWithoutNotify(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			// A replica commits and dies before delivering (no DeliverWith).
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			for i := range 3 {
				if _, err := e.Handle(context.Background(), msg(fmt.Sprint("webchat:b", i), "m", "password")); err != nil {
					t.Fatal(err)
				}
			}
			// Two replicas' dispatchers find the backlog; each message is posted once.
			snd := &recordingSender{}
			cfg := conversation.DispatcherConfig{PollInterval: 20 * time.Millisecond, Grace: time.Millisecond}
			runDispatcher(t, s, cfg, snd)
			runDispatcher(t, s, cfg, snd)
			waitFor(t, "3 deliveries", func() bool { return len(snd.delivered()) >= 3 })
			time.Sleep(200 * time.Millisecond) // give a double post the chance to show
			seen := map[string]int{}
			for _, o := range snd.delivered() {
				seen[o.ID]++
			}
			if len(seen) != 3 || len(snd.delivered()) != 3 {
				t.Errorf("deliveries per id = %v, want 3 ids once each", seen)
			}
			keys, err := s.Backlog(context.Background(), time.Now().Add(time.Hour), 10)
			if err != nil || len(keys) != 0 {
				t.Errorf("backlog after delivery = %v (err %v), want empty", keys, err)
			}
		})
	}
}

func TestDispatcherLeavesElsewhereMessagesPending(t *testing.T) {
	s := stores()["bolt"](t)
	// The channel's connection is on another replica (or reconnecting)
	// for more attempts than MaxAttempts allows; the message must wait,
	// not be dropped.
	snd := &recordingSender{fail: func(o conversation.Outbound, attempt int) error {
		if attempt <= 6 {
			return &conversation.RetryAfterError{After: 5 * time.Millisecond, Err: fmt.Errorf("not connected here: %w", conversation.ErrElsewhere)}
		}
		return nil
	}}
	d := runDispatcher(t, s, conversation.DispatcherConfig{BaseBackoff: time.Millisecond, MaxAttempts: 2}, snd)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	e.DeliverWith(d)
	if _, err := e.Handle(context.Background(), msg("webchat:w", "m1", "password")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery once connected", func() bool { return len(snd.delivered()) == 1 })
	waitFor(t, "empty outbox", func() bool { return len(pendingTexts(t, s, "webchat:w")) == 0 })
}

// A platform send that has started is not cut off when delivery stops (a
// message the platform accepted would otherwise be sent again by another
// replica); it is acked, and what was not sent yet stays pending.
func TestDispatcherFinishesSendInFlightOnStop(t *testing.T) {
	s := stores()["bolt"](t)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var sendCtxErr error
	snd := conversation.SenderFunc(func(ctx context.Context, o conversation.Outbound) error {
		once.Do(func() { close(started) })
		<-release
		sendCtxErr = ctx.Err()
		return ctx.Err()
	})
	d := conversation.NewDispatcher(s, conversation.DispatcherConfig{BaseBackoff: time.Millisecond})
	d.Register(conversation.ChannelWebChat, snd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	e.DeliverWith(d)
	if _, err := e.Handle(context.Background(), msg("webchat:stop", "m1", "password")); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel() // delivery stops while the request is in flight
	close(release)
	<-done
	if sendCtxErr != nil {
		t.Fatalf("the send in flight saw its context end (%v), want it to finish", sendCtxErr)
	}
	if p := pendingTexts(t, s, "webchat:stop"); len(p) != 0 {
		t.Fatalf("after the send finished, %d messages are still pending, want 0 (acked)", len(p))
	}
}

// A send slower than the delivery claim: the claim is renewed while it
// runs, so a second dispatcher does not take the conversation over and
// post the message again.
func TestDispatcherRenewsClaimDuringSlowSend(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			snd := &recordingSender{fail: func(o conversation.Outbound, attempt int) error {
				time.Sleep(900 * time.Millisecond) // three claim lengths
				return nil
			}}
			cfg := conversation.DispatcherConfig{LeaseTTL: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond, Grace: time.Millisecond}
			d := runDispatcher(t, s, cfg, snd)
			runDispatcher(t, s, cfg, snd) // another replica, polling the backlog
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			e.DeliverWith(d)
			if _, err := e.Handle(context.Background(), msg("webchat:slow", "m1", "password")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the delivery", func() bool { return len(snd.delivered()) >= 1 })
			waitFor(t, "empty outbox", func() bool { return len(pendingTexts(t, s, "webchat:slow")) == 0 })
			time.Sleep(300 * time.Millisecond) // a second post would show now
			if n := len(snd.delivered()); n != 1 {
				t.Fatalf("the message was posted %d times, want once", n)
			}
		})
	}
}
