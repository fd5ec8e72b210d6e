package telegram_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

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

func staffOutbound(id string, kind conversation.OutboundKind, text string) conversation.Outbound {
	return conversation.Outbound{ID: id, Channel: telegram.StaffChannel, ConversationKey: "telegram:7001", Kind: kind, Text: text}
}

// TestSentMarksSurviveReplicasAndRestarts: an outbound one adapter
// delivered is not delivered again by a second adapter on the same store
// (another replica) or by a new adapter on the reopened store (a
// restarted process), for customer and staff messages alike.
func TestSentMarksSurviveReplicasAndRestarts(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "second replica"
		if restart {
			name = "restarted process"
		}
		t.Run(name, func(t *testing.T) {
			fake := startFake(t)
			fake.AddChat(shopperChat)
			dir := t.TempDir()
			st := openStore(t, dir)
			ctx := ctxT(t)
			first := newAdapter(t, baseConfig(fake), newRecorder(), st)
			o := outbound("r1", "telegram:7001", "Your parcel left the warehouse.")
			card := staffOutbound("r2", conversation.KindHandoff, "New ticket T-1 (P3) for Sam\nSummary: parcel")
			if err := first.Sender().Send(ctx, o); err != nil {
				t.Fatal(err)
			}
			if err := first.StaffSender().Send(ctx, card); err != nil {
				t.Fatal(err)
			}
			sent := fake.SentTo(shopperChat.ID)
			if len(sent) != 1 {
				t.Fatalf("first send: %d messages, want 1", len(sent))
			}
			if v, err := st.GetRef(ctx, "telegram-sent", "r1#0"); err != nil || v != strconv.Itoa(sent[0].MessageID) {
				t.Fatalf("sent mark = %q, %v; want the message id %d", v, err, sent[0].MessageID)
			}
			second := st
			if restart {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				second = openStore(t, dir)
			}
			other := newAdapter(t, baseConfig(fake), newRecorder(), second)
			for range 2 {
				if err := other.Sender().Send(ctx, o); err != nil {
					t.Fatalf("retry of a delivered outbound: %v", err)
				}
				if err := other.StaffSender().Send(ctx, card); err != nil {
					t.Fatalf("retry of a delivered handoff card: %v", err)
				}
			}
			if n := len(fake.SentTo(shopperChat.ID)); n != 1 {
				t.Errorf("customer chat got %d messages, want 1", n)
			}
			if n := len(fake.SentTo(staffChat.ID)); n != 1 {
				t.Errorf("staff chat got %d messages, want 1", n)
			}
			if n := len(fake.Topics()); n != 1 {
				t.Errorf("%d staff topics, want 1", n)
			}
		})
	}
}

// TestRetriedSplitMessageSendsOnlyMissingParts: part 1 of 2 went out,
// part 2 failed; another replica's retry sends part 2 only, and another
// retry after that sends nothing.
func TestRetriedSplitMessageSendsOnlyMissingParts(t *testing.T) {
	fake := startFake(t)
	fake.AddChat(shopperChat)
	st := openStore(t, t.TempDir())
	ctx := ctxT(t)
	first := newAdapter(t, baseConfig(fake), newRecorder(), st)
	o := outbound("s1", "telegram:7001", strings.Repeat("a", 4000)+"\n\n"+strings.Repeat("b", 4000))
	fake.InjectError("sendMessage", tgfake.Fault{Code: 502, Description: "Bad Gateway", After: 1})
	if err := first.Sender().Send(ctx, o); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send with a 502 on part 2 = %v, want Unavailable", err)
	}
	other := newAdapter(t, baseConfig(fake), newRecorder(), st)
	for range 2 {
		if err := other.Sender().Send(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Sender().Send(ctx, o); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)
	if len(sent) != 2 || !strings.HasPrefix(sent[0].Plain, "aaa") || !strings.HasPrefix(sent[1].Plain, "bbb") {
		var got []string
		for _, m := range sent {
			got = append(got, m.Plain[:3])
		}
		t.Fatalf("sent %v, want the a part then the b part once each", got)
	}
}

// TestSentMarkErrors: a store that cannot be read makes Send Unavailable
// (retried later) without sending; a store that cannot be written after
// Telegram accepted the message still makes Send succeed, with a warning.
func TestSentMarkErrors(t *testing.T) {
	fake := startFake(t)
	fake.AddChat(shopperChat)
	rf := &flakyRefs{Refs: openStore(t, t.TempDir())}
	log, logs := newLogRecorder()
	cfg := baseConfig(fake)
	cfg.Logger = log
	a := newAdapter(t, cfg, newRecorder(), rf)
	ctx := ctxT(t)

	rf.failGet.Store(true)
	tests := []struct {
		name   string
		sender conversation.Sender
		o      conversation.Outbound
	}{
		{"customer", a.Sender(), outbound("f1", "telegram:7001", "hello")},
		{"staff", a.StaffSender(), staffOutbound("f2", conversation.KindHandoff, "New ticket T-2 (P3) for Sam")},
	}
	for _, tt := range tests {
		if err := tt.sender.Send(ctx, tt.o); conversation.ErrorCode(err) != conversation.Unavailable {
			t.Errorf("%s: Send with unreadable refs = %v, want Unavailable", tt.name, err)
		}
	}
	if n := len(fake.Sent()); n != 0 {
		t.Fatalf("%d messages sent while refs were unreadable, want 0", n)
	}

	rf.failGet.Store(false)
	rf.failPut.Store(true)
	o := outbound("f3", "telegram:7001", "delivered anyway")
	if err := a.Sender().Send(ctx, o); err != nil {
		t.Fatalf("Send with unwritable refs = %v, want nil (the message was delivered)", err)
	}
	if !contains(logs(), "could not record a sent message") {
		t.Errorf("no warning about the unwritten mark in %q", logs())
	}
	// This process still remembers it.
	if err := a.Sender().Send(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.SentTo(shopperChat.ID)); n != 1 {
		t.Fatalf("sent %d messages, want 1", n)
	}
}
