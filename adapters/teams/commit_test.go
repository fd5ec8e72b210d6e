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
	ids := map[int]string{} // message n → its activity id: a retry carries the same
	doortest.CheckAckAfterCommit(t, env, key, http.StatusAccepted, func(t *testing.T, n int) int {
		t.Helper()
		if ids[n] == "" {
			ids[n] = h.fake.NextID()
		}
		act := h.fake.PersonalMessage(alice, "my vpn token expired")
		act.ID = ids[n]
		return h.deliver(t, act)
	})
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
