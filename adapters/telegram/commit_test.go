package telegram_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/adapters/doortest"
	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

// A webhook update is answered 200 only once its turn is committed (real
// engine on a Redis store, Telegram's wire protocol): an update whose
// commit fails, or does not come within CommitWait, is answered 503, and
// Telegram's redelivery is processed exactly once.
func TestWebhookAnsweredAfterCommit(t *testing.T) {
	env := doortest.Start(t)
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.CommitWait = 300 * time.Millisecond
	a := newAdapter(t, cfg, env.Engine, env.Store)
	srv := httptest.NewServer(a.WebhookHandler())
	t.Cleanup(srv.Close)
	key := telegram.ConversationKey(shopperChat.ID, 0)
	doortest.CheckAckAfterCommit(t, env, key, http.StatusOK, func(t *testing.T, n int) int {
		t.Helper()
		id := int64(30 + n)
		u := models.Update{ID: id, Message: &models.Message{ID: int(id), Date: 1, Chat: shopperChat, From: &shopper, Text: "Where is my parcel?"}}
		status, err := tgfake.PostUpdate(ctxT(t), nil, srv.URL, secret, u)
		if err != nil {
			t.Fatal(err)
		}
		return status
	})
}

// An overloaded engine is answered 503 with the engine's delay as
// Retry-After, never 200-and-drop.
func TestWebhookOverloaded(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	a := newAdapter(t, baseConfig(fake), rec, openStore(t, t.TempDir()))
	rec.setErr(&conversation.RetryAfterError{After: 7 * time.Second, Err: conversation.ErrOverloaded})
	w := post(t, a, secret, models.Update{ID: 41, Message: &models.Message{ID: 4, Date: 1, Chat: shopperChat, From: &shopper, Text: "hello"}})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "7" {
		t.Fatalf("overloaded: %d Retry-After=%q, want 503 with Retry-After 7", w.Code, w.Header().Get("Retry-After"))
	}
}
