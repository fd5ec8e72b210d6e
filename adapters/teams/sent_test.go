package teams_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/teams"
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
	refsStore
	failGet, failPut atomic.Bool
}

func (f *flakyRefs) GetRef(ctx context.Context, namespace, key string) (string, error) {
	if f.failGet.Load() {
		return "", conversation.Errorf(conversation.Unavailable, "refs: connection refused")
	}
	return f.refsStore.GetRef(ctx, namespace, key)
}

func (f *flakyRefs) PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error {
	if f.failPut.Load() {
		return conversation.Errorf(conversation.Unavailable, "refs: connection refused")
	}
	return f.refsStore.PutRef(ctx, namespace, key, value, ttl)
}

// logBuffer collects log output, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sendWith delivers o through a's customer or staff sender, by channel.
func sendWith(tb testing.TB, a *teams.Adapter, o conversation.Outbound) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if o.Channel == teams.StaffChannel {
		return a.StaffSender().Send(ctx, o)
	}
	return a.Sender().Send(ctx, o)
}

// TestSentMarksSurviveReplicasAndRestarts: outbounds one adapter delivered
// (a customer answer, a handoff card, a message relayed into its chain)
// are not posted again by a second adapter on the same store (another
// replica) or by a new adapter on the reopened store (a restarted
// process).
func TestSentMarksSurviveReplicasAndRestarts(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "second replica"
		if restart {
			name = "restarted process"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			h := newHarnessOn(t, st, nil)
			key, _ := h.inboundFrom(t, alice)
			outs := []conversation.Outbound{
				{ID: "o_ans", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "Your laptop is ready."},
				{ID: "o_card", ConversationKey: key, Channel: teams.StaffChannel, Kind: conversation.KindHandoff, Text: handoffText},
				{ID: "o_relay", ConversationKey: key, Channel: teams.StaffChannel, Kind: conversation.KindStaff, Text: "IT-1001 (Alice Employee): still broken"},
			}
			for _, o := range outs {
				if err := sendWith(t, h.adapter, o); err != nil {
					t.Fatalf("first send of %s: %v", o.ID, err)
				}
			}
			acts := h.fake.Activities()
			if len(acts) != len(outs) {
				t.Fatalf("%d activities after the first sends, want %d", len(acts), len(outs))
			}
			ctx := context.Background()
			if v, err := st.GetRef(ctx, "teams-sent", "o_ans#0"); err != nil || v != acts[0].ID {
				t.Fatalf("sent mark = %q, %v; want the activity id %q", v, err, acts[0].ID)
			}
			second := st
			if restart {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				second = openStore(t, dir)
			}
			other, err := teams.New(h.cfg, h.eng, second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = other.Close() })
			for range 2 {
				for _, o := range outs {
					if err := sendWith(t, other, o); err != nil {
						t.Fatalf("retry of %s: %v", o.ID, err)
					}
				}
			}
			if n := len(h.fake.Activities()); n != len(outs) {
				t.Fatalf("%d activities after the retries, want %d (nothing posted twice)", n, len(outs))
			}
		})
	}
}

// TestSentMarkErrors: a store that cannot be read makes Send Unavailable
// (retried later) without posting; a store that cannot be written after
// the connector accepted the post still makes Send succeed, with a
// warning.
func TestSentMarkErrors(t *testing.T) {
	rf := &flakyRefs{refsStore: openStore(t, t.TempDir())}
	logs := &logBuffer{}
	h := newHarnessOn(t, rf, func(c *teams.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	key, _ := h.inboundFrom(t, alice)

	rf.failGet.Store(true)
	tests := []conversation.Outbound{
		{ID: "o_c", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "hello"},
		{ID: "o_s", ConversationKey: key, Channel: teams.StaffChannel, Kind: conversation.KindHandoff, Text: handoffText},
	}
	for _, o := range tests {
		t.Run(string(o.Channel), func(t *testing.T) {
			if err := sendWith(t, h.adapter, o); conversation.ErrorCode(err) != conversation.Unavailable {
				t.Fatalf("Send with unreadable refs = %v, want Unavailable", err)
			}
		})
	}
	if n := len(h.fake.Activities()); n != 0 {
		t.Fatalf("%d activities posted while refs were unreadable, want 0", n)
	}

	rf.failGet.Store(false)
	rf.failPut.Store(true)
	o := tests[0]
	if err := sendWith(t, h.adapter, o); err != nil {
		t.Fatalf("Send with unwritable refs = %v, want nil (the message was delivered)", err)
	}
	if !strings.Contains(logs.String(), "could not record a sent message") {
		t.Errorf("no warning about the unwritten mark in:\n%s", logs)
	}
	// This process still remembers it.
	if err := sendWith(t, h.adapter, o); err != nil {
		t.Fatal(err)
	}
	if n := len(h.fake.Activities()); n != 1 {
		t.Fatalf("%d activities, want 1", n)
	}
}
