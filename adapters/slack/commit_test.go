package slack_test

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/doortest"
	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
)

// An Events API request is answered 200 only once its turn is committed:
// Slack sends an event again only when it got no 200, so a 200 before the
// commit would lose the message if the process died in between.
func TestEventAnsweredAfterCommit(t *testing.T) {
	tests := []struct {
		name string
		// turn is the engine's answer to the n-th delivery (1-based).
		turn     func(ctx context.Context, n int32) error
		config   func(c *slack.Config)
		want     []int // status of each delivery
		wantSeen int32 // deliveries the engine saw
	}{
		{
			name:     "committed turn",
			turn:     func(context.Context, int32) error { return nil },
			want:     []int{http.StatusOK},
			wantSeen: 1,
		},
		{
			name: "store down, then Slack's retry is committed",
			turn: func(_ context.Context, n int32) error {
				if n <= 3 { // the adapter's own three attempts
					return conversation.Errorf(conversation.Unavailable, "store down")
				}
				return nil
			},
			want:     []int{http.StatusServiceUnavailable, http.StatusOK},
			wantSeen: 4,
		},
		{
			name: "malformed for the engine: acknowledged, a retry would not help",
			turn: func(context.Context, int32) error {
				return conversation.Errorf(conversation.Invalid, "bad message")
			},
			want:     []int{http.StatusOK},
			wantSeen: 1,
		},
		{
			name: "turn slower than CommitWait",
			turn: func(ctx context.Context, n int32) error {
				if n == 1 {
					time.Sleep(300 * time.Millisecond)
				}
				return nil
			},
			config:   func(c *slack.Config) { c.CommitWait = 50 * time.Millisecond },
			want:     []int{http.StatusServiceUnavailable, http.StatusOK},
			wantSeen: 2, // the engine recognises the retry as a duplicate
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*slack.Config)
			if tt.config != nil {
				opts = append(opts, tt.config)
			}
			fx := newFixture(t, opts...)
			var seen atomic.Int32
			fx.eng.handle = func(ctx context.Context, m conversation.Message) (conversation.Result, error) {
				return conversation.Result{}, tt.turn(ctx, seen.Add(1))
			}
			body := fx.fake.EventCallback("EvC1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hello", TS: thread1})
			for i, want := range tt.want {
				res, err := fx.fake.RetryEvent(context.Background(), fx.srv.URL+"/slack/events", body, i)
				if err != nil {
					t.Fatalf("delivery %d: %v", i+1, err)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Fatalf("delivery %d: status %d, want %d", i+1, res.StatusCode, want)
				}
				if want != http.StatusOK && res.Header.Get("Retry-After") == "" {
					t.Errorf("delivery %d: 503 without Retry-After", i+1)
				}
			}
			fx.close(t)
			if got := seen.Load(); got != tt.wantSeen {
				t.Errorf("engine saw %d deliveries, want %d", got, tt.wantSeen)
			}
		})
	}
}

// A slow turn that fails while Slack will retry (answered 503) keeps its
// placeholder, and the answer of Slack's retry replaces it: the customer
// sees one message, not an apology and an answer.
func TestPlaceholderKeptForSlacksRetry(t *testing.T) {
	fx := newFixture(t, func(c *slack.Config) { c.PlaceholderAfter = time.Millisecond })
	var seen atomic.Int32
	var reply conversation.Outbound
	fx.eng.handle = func(ctx context.Context, m conversation.Message) (conversation.Result, error) {
		time.Sleep(30 * time.Millisecond) // slow enough for the placeholder
		if seen.Add(1) <= 3 {
			return conversation.Result{}, conversation.Errorf(conversation.Unavailable, "store restarting")
		}
		reply = conversation.Outbound{ID: "o1", ConversationKey: m.ConversationKey, Channel: conversation.ChannelSlack, ThreadKey: m.ThreadKey,
			Kind: conversation.KindAnswer, Text: "Here is how.", InReplyTo: m.DedupeKey}
		return conversation.Result{Outbound: []conversation.Outbound{reply}}, nil
	}
	body := fx.fake.EventCallback("EvP1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "slow question", TS: thread1})
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusOK} {
		res, err := fx.fake.RetryEvent(context.Background(), fx.srv.URL+"/slack/events", body, i)
		if err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("delivery %d: status %d, want %d", i+1, res.StatusCode, want)
		}
	}
	fx.close(t)
	if err := fx.adapter.Sender().Send(context.Background(), reply); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := fx.fake.Messages()
	if len(msgs) != 1 || msgs[0].Text != "Here is how." {
		t.Fatalf("messages = %+v, want one: the placeholder replaced by the answer", msgs)
	}
	if n := len(fx.fake.Calls("chat.postMessage")); n != 1 {
		t.Errorf("%d posts, want 1 (the placeholder, reused by the retry)", n)
	}
}

// socketRun runs the adapter's Socket Mode until stop is called; stop
// returns once RunSocketMode did, so every envelope's ack decision is
// made by then.
func socketRun(t *testing.T, a *slack.Adapter, f *slackfake.Server, connection int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.RunSocketMode(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), waitLimit)
	defer wcancel()
	if err := f.WaitHellos(wctx, connection); err != nil {
		cancel()
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("RunSocketMode = %v", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("RunSocketMode did not return after cancel")
		}
	}
}

// A Socket Mode envelope carrying a customer's message is acknowledged
// only once its turn is committed (real engine and Redis store): one
// whose commit fails, or is not done within CommitWait, stays
// unacknowledged, and Slack's redelivery is processed exactly once.
func TestSocketModeAckAfterCommit(t *testing.T) {
	env := doortest.Start(t)
	f := startFake(t)
	cfg := testConfig(f)
	cfg.CommitWait = 300 * time.Millisecond
	a, err := slack.New(cfg, env.Engine, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	connections := 0
	deliver := func(ts string) string {
		t.Helper()
		id, err := f.SendEnvelope(slackfake.EnvelopeEventsAPI, f.EventCallback("Ev"+ts, slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "my vpn token expired", TS: ts}))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	const key = "slack:" + team + ":D1"

	// A normal message: acknowledged, and committed by then.
	connections++
	stop := socketRun(t, a, f, connections)
	id := deliver("1700000001.000100")
	if err := f.WaitAck(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := env.Turns(t, key); n != 1 {
		t.Fatalf("turns when the envelope was acknowledged = %d, want 1 (ack after the commit)", n)
	}
	stop()

	tests := []struct {
		name  string
		ts    string
		setup func() (wait <-chan struct{}, after func())
	}{
		{"commit fails", "1700000002.000100", func() (<-chan struct{}, func()) {
			return env.Store.FailCommits(3), func() {} // the adapter's own three attempts
		}},
		{"commit slower than CommitWait", "1700000003.000100", func() (<-chan struct{}, func()) {
			held, release := env.Store.HoldCommits()
			return held, release
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.Turns(t, key)
			wait, after := tt.setup()
			connections++
			stop := socketRun(t, a, f, connections)
			id := deliver(tt.ts)
			select {
			case <-wait:
			case <-ctx.Done():
				t.Fatal("the turn did not reach its commit")
			}
			stop() // the ack decision is made
			if slices.Contains(f.Acks(), id) {
				t.Fatalf("envelope %s acknowledged, though its turn is not committed", id)
			}
			after()
			// Slack delivers the unacknowledged envelope again.
			connections++
			stop = socketRun(t, a, f, connections)
			defer stop()
			again := deliver(tt.ts)
			if err := f.WaitAck(ctx, again); err != nil {
				t.Fatal(err)
			}
			if got := env.Turns(t, key); got != before+1 {
				t.Fatalf("turns = %d, want %d: the message processed exactly once", got, before+1)
			}
		})
	}
	if got := env.Store.Commits(key); got != 3 {
		t.Errorf("commits of %s = %d, want 3 (one per message)", key, got)
	}
}
