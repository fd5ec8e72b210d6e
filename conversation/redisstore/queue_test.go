package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// TestQueueVersion: the queue version is the counter
// <prefix>:tickets:version; it moves with a commit that opens a ticket
// and with one that changes it after Redis forgot the commit script
// (SCRIPT FLUSH, as after a restart: the pipelined EVALSHA fails and the
// commit runs again), on a standalone server and on Cluster, where the
// counter and the tickets index live in other slots than the
// conversation's keys.
func TestQueueVersion(t *testing.T) {
	cases := []struct {
		name  string
		start func(testing.TB) *redistest.Server
	}{
		{"Standalone", redistest.Start},
		{"Cluster", redistest.StartCluster},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, tc.start(t), redisstore.Config{})
			t.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			version := func(what string) uint64 {
				t.Helper()
				v, err := s.QueueVersion(ctx)
				if err != nil {
					t.Fatalf("QueueVersion %s: %v", what, err)
				}
				raw, err := s.Client().Get(ctx, s.Config().Prefix+":tickets:version").Result()
				if err != nil {
					t.Fatalf("GET the version key %s: %v", what, err)
				}
				if raw != strconv.FormatUint(v, 10) {
					t.Fatalf("%s: QueueVersion %d, version key holds %q", what, v, raw)
				}
				return v
			}
			if v, err := s.QueueVersion(ctx); err != nil || v != 0 {
				t.Fatalf("QueueVersion of an empty store: %d, %v; want 0, nil", v, err)
			}

			key := "webchat:queued"
			c := &conversation.Conversation{Key: key, Phase: conversation.PhaseAwaitingAgent, Ticket: "IT-1",
				TicketState: &conversation.TicketState{Ticket: conversation.Ticket{ID: "IT-1", Status: conversation.TicketOpen, Priority: "P3"},
					OpenedAt: time.Now()}}
			commitConv := func(what string) {
				t.Helper()
				l, err := s.Acquire(ctx, key, 10*time.Second)
				if err != nil {
					t.Fatalf("Acquire %s: %v", what, err)
				}
				if err := s.Commit(ctx, l, conversation.Commit{Conversation: c}); err != nil {
					t.Fatalf("Commit %s: %v", what, err)
				}
			}
			commitConv("opening the ticket")
			opened := version("after opening the ticket")
			if opened == 0 {
				t.Fatalf("version after opening a ticket: 0, want more")
			}

			if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH: %v", err)
			}
			c.TicketState.Priority = "P1"
			commitConv("changing the priority without the script")
			if v := version("after the priority change"); v <= opened {
				t.Fatalf("version after a priority change: %d, want more than %d", v, opened)
			}
			got, err := s.Tickets(ctx, conversation.TicketQuery{Limit: 10})
			if err != nil || len(got) != 1 || got[0].Ticket.Priority != "P1" {
				t.Fatalf("Tickets after the priority change: %+v, %v; want IT-1 at P1", got, err)
			}
		})
	}
}
