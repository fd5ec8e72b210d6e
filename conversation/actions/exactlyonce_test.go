package actions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/actions"
	"github.com/tier0/tier0/conversation/actions/fakebackend"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// dyingStore fails the first commit that carries an action run, as if the
// replica died (or lost its lease) after the back end's answer and before
// the commit.
type dyingStore struct {
	conversation.Store
	killed atomic.Bool
}

func (s *dyingStore) Commit(ctx context.Context, l conversation.Lease, c conversation.Commit) error {
	for _, ev := range c.Events {
		if ev.Type == conversation.EventAction && ev.Data["outcome"] == "ok" && s.killed.CompareAndSwap(false, true) {
			return conversation.ErrLeaseLost
		}
	}
	return s.Store.Commit(ctx, l, c)
}

func TestKilledTurnMakesOnePOSTEffect(t *testing.T) {
	stores := map[string]func(tb testing.TB) conversation.Store{
		"bolt": func(tb testing.TB) conversation.Store {
			s, err := boltstore.Open(filepath.Join(tb.TempDir(), "t.db"), boltstore.Config{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(tb testing.TB) conversation.Store {
			s, err := redisstore.New(redistest.Start(tb).Client(tb), redisstore.Config{})
			if err != nil {
				tb.Fatal(err)
			}
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			it := fakebackend.NewIT(fakebackend.Config{})
			srv := httptest.NewServer(it)
			defer srv.Close()
			runner, err := actions.New(actions.Config{Method: http.MethodPost, URL: srv.URL + "/accounts/unlock", Body: map[string]string{"account": "{account}"}, Result: map[string]string{"status": "status"}})
			if err != nil {
				t.Fatal(err)
			}
			store := &dyingStore{Store: open(t)}
			e := conversation.NewEngine(store, nil, nil, conversation.EngineConfig{Actions: conversation.ActionsConfig{Actions: []conversation.ActionSpec{{
				Name: "unlock_account", Examples: map[string][]string{"en": {"unlock my account"}},
				Params:     []conversation.ActionParam{{Name: "account", Type: conversation.ParamIdentity}},
				SideEffect: true, Confirm: map[string]string{"en": "Shall I unlock your account?"},
				Result: map[string]string{"en": "Your account is {status}."}, Runner: runner,
			}}}})
			user := conversation.Identity{ID: "U1", Email: "anna@corp.example"}
			msg := func(dedupe, text string, a *conversation.Action) conversation.Message {
				return conversation.Message{Channel: conversation.ChannelSlack, ConversationKey: "slack:T:C:1", DedupeKey: dedupe, User: user, Text: text, Action: a}
			}
			ctx := context.Background()
			if _, err := e.Handle(ctx, msg("m1", "unlock my account", nil)); err != nil {
				t.Fatal(err)
			}
			yes := msg("m2", "", &conversation.Action{ID: conversation.ActionConfirm})
			if _, err := e.Handle(ctx, yes); err == nil {
				t.Fatalf("the killed turn committed")
			}
			// The platform retries the click (same event id), twice.
			res, err := e.Handle(ctx, yes)
			if err != nil || len(res.Outbound) != 1 || res.Outbound[0].Text != "Your account is unlocked." {
				t.Fatalf("retry: %+v, %v", res, err)
			}
			if res, err := e.Handle(ctx, yes); err != nil || !res.Duplicate {
				t.Fatalf("second retry: %+v, %v, want a duplicate", res, err)
			}
			st, keys := it.Stats(), it.Keys()
			if st.Posts != 2 || st.Effects != 1 || len(keys) != 1 {
				t.Errorf("back end: %+v, keys %v; want 2 POSTs with one key and one effect", st, keys)
			}
			c, err := store.Load(ctx, "slack:T:C:1")
			if err != nil {
				t.Fatal(err)
			}
			if n := len(c.ActionLog); n != 1 || c.ActionLog[0].Outcome != "ok" || c.ActionLog[0].Key == "" {
				t.Errorf("action log %+v, want one committed run with its key", c.ActionLog)
			}
		})
	}
}
