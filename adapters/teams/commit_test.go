package teams_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/doortest"
	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

// A message is answered 202 only once its turn is committed (real engine
// on a Redis store): the Bot Framework retries an activity only on a 5xx
// or a timeout, so a 202 before the commit would lose the message if the
// replica died in between. A turn whose commit fails, or does not come
// within CommitWait, is answered 503, and the retry is processed exactly
// once.
func TestMessageAnsweredAfterCommit(t *testing.T) {
	env := doortest.Start(t)
	h := newHarnessWith(t, env.Store, env.Engine, func(c *teams.Config) { c.CommitWait = 300 * time.Millisecond })
	key := h.personalKey(alice)
	message := func() botframework.Activity {
		act := h.fake.PersonalMessage(alice, "my vpn token expired")
		act.ID = h.fake.NextID() // the retry carries the same id
		return act
	}

	act := message()
	if got := h.deliver(t, act); got != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", got)
	}
	if n := env.Turns(t, key); n != 1 {
		t.Fatalf("turns when answered = %d, want 1 (202 after the commit)", n)
	}

	tests := []struct {
		name  string
		setup func() (release func())
	}{
		{"commit fails", func() func() {
			env.Store.FailCommits(1)
			return func() {}
		}},
		{"commit slower than CommitWait", func() func() {
			_, release := env.Store.HoldCommits()
			return release
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.Turns(t, key)
			act := message()
			release := tt.setup()
			if got := h.deliver(t, act); got != http.StatusServiceUnavailable {
				t.Fatalf("first delivery: status %d, want 503", got)
			}
			release()
			if got := h.deliver(t, act); got != http.StatusAccepted {
				t.Fatalf("retry: status %d, want 202", got)
			}
			if got := env.Turns(t, key); got != before+1 {
				t.Fatalf("turns = %d, want %d: the message processed exactly once", got, before+1)
			}
		})
	}
	if got := env.Store.Commits(key); got != 3 {
		t.Errorf("commits = %d, want 3 (one per message)", got)
	}
}

// An overloaded engine, or an agent's action on a conversation whose lease
// another replica holds, is answered 503 (the Bot Framework retries), not
// 2xx-and-dropped.
func TestRefusedTurnIsRetried(t *testing.T) {
	h := newHarness(t, nil)
	overloaded := &conversation.RetryAfterError{After: 7 * time.Second, Err: conversation.ErrOverloaded}
	h.eng.handle = func(context.Context, conversation.Message) (conversation.Result, error) {
		return conversation.Result{}, overloaded
	}
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "hello")); got != http.StatusServiceUnavailable {
		t.Fatalf("overloaded engine: status %d, want 503", got)
	}

	const key = "teams:t1:a:alice"
	if err := h.staffSend(t, conversation.Outbound{ID: "o_h1", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		t.Fatal(err)
	}
	root := h.waitActivity(t, "handoff card", func(r botframework.Recorded) bool { return r.Created })
	claim, _ := root.Card().Action("Claim")
	for _, err := range []error{conversation.ErrLeaseHeld, overloaded} {
		h.eng.act = func(context.Context, conversation.AgentAction) (conversation.Result, error) {
			return conversation.Result{}, err
		}
		tok := h.token(t, botframework.Claims{})
		body := mustJSON(t, h.fake.Submit(root.ConversationID, root.ID, bob, json.RawMessage(claim.Data)))
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		status, resp, perr := botframework.Post(ctx, h.endpoint, "Bearer "+tok, body)
		cancel()
		if perr != nil {
			t.Fatal(perr)
		}
		if status != http.StatusServiceUnavailable {
			t.Fatalf("staff action failing with %v: status %d %s, want 503", err, status, resp)
		}
	}
}
