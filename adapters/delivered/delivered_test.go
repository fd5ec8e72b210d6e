package delivered_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestMarksReachOtherReplicas(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	a := delivered.New("test", "test-sent", store, 10, quiet())
	b := delivered.New("test", "test-sent", store, 10, quiet()) // another replica
	long := strings.Repeat("o", 600)                            // hashed in the store
	for _, key := range []string{"o_1#0", long} {
		if sent, err := b.Sent(ctx, key); err != nil || sent {
			t.Fatalf("Sent(%.20q) before any mark = %v, %v; want false", key, sent, err)
		}
		a.Mark(ctx, key, "platform-id")
		if sent, err := b.Sent(ctx, key); err != nil || !sent {
			t.Fatalf("Sent(%.20q) on another replica after Mark = %v, %v; want true", key, sent, err)
		}
	}
	a.Mark(ctx, delivered.PartKey("o_2", 1), "")
	todo, err := b.Unsent(ctx, "o_2", 3)
	if err != nil || !slices.Equal(todo, []int{0, 2}) {
		t.Fatalf("Unsent = %v, %v; want [0 2]", todo, err)
	}
	if b.Remembered("o_3") {
		t.Fatal("Remembered an id never noted")
	}
	b.Remember("o_3")
	if !b.Remembered("o_3") || a.Remembered("o_3") {
		t.Fatal("Remember must note the id in this Log only")
	}
}

func TestMemoryOnly(t *testing.T) {
	ctx := context.Background()
	a := delivered.New("test", "test-sent", nil, 10, quiet())
	a.Mark(ctx, "o_1#0", "x")
	if sent, err := a.Sent(ctx, "o_1#0"); err != nil || !sent {
		t.Fatalf("Sent after Mark = %v, %v; want true", sent, err)
	}
	if sent, err := delivered.New("test", "test-sent", nil, 10, quiet()).Sent(ctx, "o_1#0"); err != nil || sent {
		t.Fatalf("another Log without refs: Sent = %v, %v; want false", sent, err)
	}
}

// brokenRefs fails every call, like a store that is down.
type brokenRefs struct{}

var errDown = conversation.Errorf(conversation.Unavailable, "store down")

func (brokenRefs) PutRef(context.Context, string, string, string, time.Duration) error {
	return errDown
}
func (brokenRefs) GetRef(context.Context, string, string) (string, error) { return "", errDown }

func TestStoreDown(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	l := delivered.New("test", "test-sent", brokenRefs{}, 10, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := l.Unsent(ctx, "o_1", 2); conversation.ErrorCode(err) != conversation.Unavailable || !errors.Is(err, errDown) {
		t.Fatalf("Unsent with the store down = %v, want Unavailable wrapping the store's error", err)
	}
	l.Mark(ctx, "o_1#0", "x")
	if !strings.Contains(logs.String(), "could not record a sent message") {
		t.Fatalf("Mark with the store down logged %q, want a warning", logs.String())
	}
	if sent, err := l.Sent(ctx, "o_1#0"); err != nil || !sent {
		t.Fatalf("Sent in this process after a failed store write = %v, %v; want true", sent, err)
	}
}
