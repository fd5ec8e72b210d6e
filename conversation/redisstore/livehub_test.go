package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// recordingLocal is the replica-local side of a LiveHub: it records what
// the hub hands it.
type recordingLocal struct {
	mu  sync.Mutex
	got map[string][]string // key → outbound ids
}

func (r *recordingLocal) Publish(_ context.Context, key string, o conversation.Outbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]string{}
	}
	r.got[key] = append(r.got[key], o.ID)
	return nil
}

func (r *recordingLocal) Subscribe(string) (<-chan conversation.Outbound, func()) {
	return make(chan conversation.Outbound), func() {}
}

func (r *recordingLocal) ids(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[key]...)
}

func TestLiveHubCrossesReplicasAndSurvivesBadInput(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	var locals [2]*recordingLocal
	var hubs [2]*redisstore.LiveHub
	for i := range hubs {
		locals[i] = &recordingLocal{}
		h, err := redisstore.NewLiveHub(ctx, srv.Client(t), "t:live", locals[i], nil)
		if err != nil {
			t.Fatalf("NewLiveHub: %v", err)
		}
		t.Cleanup(func() { h.Close() })
		hubs[i] = h
	}
	raw := srv.Client(t)
	// Garbage on the channel is dropped, not delivered and not fatal.
	for _, junk := range []string{"not json", `{"k":""}`, `{"k":"x","o":7}`} {
		if err := raw.Publish(ctx, "t:live", junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := hubs[0].Publish(ctx, "webchat:s1", conversation.Outbound{ID: "o1", Text: "hi"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for i, l := range locals {
		deadline := time.Now().Add(5 * time.Second)
		for len(l.ids("webchat:s1")) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := l.ids("webchat:s1"); len(got) != 1 || got[0] != "o1" {
			t.Errorf("replica %d got %v for webchat:s1, want [o1]", i, got)
		}
		if got := l.ids("x"); len(got) != 0 {
			t.Errorf("replica %d delivered a malformed message: %v", i, got)
		}
	}
	srv.Kill()
	err := hubs[1].Publish(ctx, "webchat:s1", conversation.Outbound{ID: "o2"})
	if got := conversation.ErrorCode(err); got != conversation.Unavailable {
		t.Errorf("Publish with Redis down: code %q (%v), want unavailable", got, err)
	}
}
