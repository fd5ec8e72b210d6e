package whatsappcloud_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

func openStore(tb testing.TB, dir string) *boltstore.Store {
	tb.Helper()
	st, err := boltstore.Open(filepath.Join(dir, "tier0.db"), boltstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// flakyRefs is a refs store whose reads or writes can be made to fail
// with Unavailable, as a store that lost its connection does.
type flakyRefs struct {
	conversation.Refs
	failGet, failPut atomic.Bool
}

func (f *flakyRefs) GetRef(ctx context.Context, namespace, key string) (string, error) {
	if f.failGet.Load() {
		return "", conversation.Errorf(conversation.Unavailable, "refs: connection refused")
	}
	return f.Refs.GetRef(ctx, namespace, key)
}

func (f *flakyRefs) PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error {
	if f.failPut.Load() {
		return conversation.Errorf(conversation.Unavailable, "refs: connection refused")
	}
	return f.Refs.PutRef(ctx, namespace, key, value, ttl)
}

// graphFake is the fake Graph API on a loopback port; failAfter, when
// set, makes the send after the next accepted one fail with a 500.
type graphFake struct {
	*whatsappgraph.Server
	URL string

	mu        sync.Mutex
	failAfter bool
}

func startGraph(tb testing.TB) *graphFake {
	tb.Helper()
	g := &graphFake{Server: whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID})}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := len(g.Sent())
		g.Server.ServeHTTP(w, r)
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.failAfter && len(g.Sent()) > before {
			g.failAfter = false
			g.FailNext(1, whatsappgraph.FaultServerError)
		}
	}))
	tb.Cleanup(ts.Close)
	g.URL = ts.URL
	return g
}

// failSecondSend makes the send after the next accepted one fail.
func (g *graphFake) failSecondSend() {
	g.mu.Lock()
	g.failAfter = true
	g.mu.Unlock()
}

func newAdapterOn(tb testing.TB, g *graphFake, rf conversation.Refs, logs *syncBuffer) *whatsappcloud.Adapter {
	tb.Helper()
	cfg := testConfig(g.URL)
	cfg.Refs = rf
	if logs == nil {
		logs = &syncBuffer{}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	a, err := whatsappcloud.New(cfg, newRecEngine())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return a
}

func sendOn(tb testing.TB, a *whatsappcloud.Adapter, o conversation.Outbound) error {
	tb.Helper()
	o.Channel = a.Channel()
	o.ConversationKey = whatsappcloud.ConversationKey(shopper)
	return a.Sender().Send(waitCtx(tb), o)
}

// twoParts is an answer that goes out as two text messages.
var twoParts = conversation.Outbound{ID: "o_two", Kind: conversation.KindAnswer,
	Text: strings.Repeat("a", 4000) + "\n\n" + strings.Repeat("b", 4000)}

// TestSentMarksSurviveReplicasAndRestarts: an outbound one adapter
// delivered is not sent again by a second adapter on the same store
// (another replica) or by a new adapter on the reopened store (a
// restarted process).
func TestSentMarksSurviveReplicasAndRestarts(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "second replica"
		if restart {
			name = "restarted process"
		}
		t.Run(name, func(t *testing.T) {
			g := startGraph(t)
			dir := t.TempDir()
			st := openStore(t, dir)
			first := newAdapterOn(t, g, st, nil)
			o := conversation.Outbound{ID: "o_once", Kind: conversation.KindConsulting, Text: "Which size?",
				Buttons: []conversation.Button{
					{Action: conversation.Action{ID: conversation.ActionConsult, Value: "S"}, Label: "S"},
					{Action: conversation.Action{ID: conversation.ActionConsult, Value: "M"}, Label: "M"},
				}}
			for _, out := range []conversation.Outbound{o, twoParts} {
				if err := sendOn(t, first, out); err != nil {
					t.Fatalf("first send of %s: %v", out.ID, err)
				}
			}
			sent := g.Sent()
			if len(sent) != 3 {
				t.Fatalf("%d messages after the first sends, want 3", len(sent))
			}
			if v, err := st.GetRef(context.Background(), "wacloud-sent", "o_once#0"); err != nil || v != sent[0].ID {
				t.Fatalf("sent mark = %q, %v; want the wamid %q", v, err, sent[0].ID)
			}
			second := st
			if restart {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				second = openStore(t, dir)
			}
			other := newAdapterOn(t, g, second, nil)
			for range 2 {
				for _, out := range []conversation.Outbound{o, twoParts} {
					if err := sendOn(t, other, out); err != nil {
						t.Fatalf("retry of %s: %v", out.ID, err)
					}
				}
			}
			if n := len(g.Sent()); n != 3 {
				t.Fatalf("%d messages after the retries, want 3 (nothing sent twice)", n)
			}
		})
	}
}

// TestRetriedSplitMessageSendsOnlyMissingParts: part 1 of 2 went out,
// part 2 failed; another replica's retry sends part 2 only, and later
// retries send nothing.
func TestRetriedSplitMessageSendsOnlyMissingParts(t *testing.T) {
	g := startGraph(t)
	st := openStore(t, t.TempDir())
	first := newAdapterOn(t, g, st, nil)
	g.failSecondSend()
	if err := sendOn(t, first, twoParts); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send with a 500 on part 2 = %v, want Unavailable", err)
	}
	other := newAdapterOn(t, g, st, nil)
	for _, a := range []*whatsappcloud.Adapter{other, other, first} {
		if err := sendOn(t, a, twoParts); err != nil {
			t.Fatalf("retry: %v", err)
		}
	}
	sent := g.Sent()
	if len(sent) != 2 || !strings.HasPrefix(sent[0].Text, "aaa") || !strings.HasPrefix(sent[1].Text, "bbb") {
		var got []string
		for _, s := range sent {
			got = append(got, s.Text[:3])
		}
		t.Fatalf("sent %v, want the a part then the b part once each", got)
	}
}

// TestSentMarkErrors: a store that cannot be read makes Send Unavailable
// (retried later) without sending; a store that cannot be written after
// Graph accepted the message still makes Send succeed, with a warning.
func TestSentMarkErrors(t *testing.T) {
	g := startGraph(t)
	rf := &flakyRefs{Refs: openStore(t, t.TempDir())}
	logs := &syncBuffer{}
	a := newAdapterOn(t, g, rf, logs)
	o := conversation.Outbound{ID: "o_flaky", Kind: conversation.KindAgent, Text: "An agent reply"}

	rf.failGet.Store(true)
	if err := sendOn(t, a, o); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("Send with unreadable refs = %v, want Unavailable", err)
	}
	if n := len(g.Sent()); n != 0 {
		t.Fatalf("%d messages sent while refs were unreadable, want 0", n)
	}

	rf.failGet.Store(false)
	rf.failPut.Store(true)
	if err := sendOn(t, a, o); err != nil {
		t.Fatalf("Send with unwritable refs = %v, want nil (the message was delivered)", err)
	}
	contains(t, "logs", logs.String(), "could not record a sent message")
	// This process still remembers it.
	if err := sendOn(t, a, o); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Sent()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

// TestSentMarksWithoutRefs: without Config.Refs the adapter keeps its
// marks in memory only: a retry in the same process sends nothing, a
// second adapter (which shares nothing) sends again, as before.
func TestSentMarksWithoutRefs(t *testing.T) {
	g := startGraph(t)
	first := newAdapterOn(t, g, nil, nil)
	g.failSecondSend()
	if err := sendOn(t, first, twoParts); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send with a 500 on part 2 = %v, want Unavailable", err)
	}
	for range 2 {
		if err := sendOn(t, first, twoParts); err != nil {
			t.Fatalf("retry: %v", err)
		}
	}
	if n := len(g.Sent()); n != 2 {
		t.Fatalf("%d messages after retries in one process, want 2", n)
	}
	if err := sendOn(t, newAdapterOn(t, g, nil, nil), twoParts); err != nil {
		t.Fatal(err)
	}
	if n := len(g.Sent()); n != 4 {
		t.Fatalf("%d messages after a send by an adapter without shared refs, want 4", n)
	}
}
