package telegram_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

// post serves one webhook request and returns the response.
func post(tb testing.TB, a *telegram.Adapter, secret string, update any) *httptest.ResponseRecorder {
	tb.Helper()
	r, err := tgfake.WebhookRequest(secret, update)
	if err != nil {
		tb.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.WebhookHandler().ServeHTTP(w, r)
	return w
}

func TestWebhookRejectsBadRequests(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	cfg := baseConfig(fake)
	cfg.MaxBodyBytes = 4096
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	valid := models.Update{ID: 10, Message: &models.Message{ID: 1, Date: 1, Chat: shopperChat, From: &shopper, Text: "hello"}}

	tests := []struct {
		name   string
		secret string
		body   any
		want   int
	}{
		{"missing secret", "", valid, http.StatusUnauthorized},
		{"wrong secret", "not-the-secret", valid, http.StatusUnauthorized},
		{"secret with a matching prefix", secret + "x", valid, http.StatusUnauthorized},
		{"malformed JSON", secret, `{"update_id": 1, "message": `, http.StatusBadRequest},
		{"not an object", secret, `[1,2,3]`, http.StatusBadRequest},
		{"no update_id", secret, `{"message":{"message_id":1}}`, http.StatusBadRequest},
		{"oversized", secret, `{"update_id":1,"message":{"text":"` + strings.Repeat("x", 5000) + `"}}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(t, a, tt.secret, tt.body)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tt.want, w.Body)
			}
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("body %q is not a JSON error", w.Body)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		w := httptest.NewRecorder()
		a.WebhookHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/telegram/webhook", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Fatalf("GET: %d Allow=%q, want 405 Allow=POST", w.Code, w.Header().Get("Allow"))
		}
	})
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("the engine got %d messages from rejected requests, want 0", n)
	}
}

func TestWebhookAcceptsOnlyAfterTheEngine(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	a := newAdapter(t, baseConfig(fake), rec, openStore(t, t.TempDir()))
	u := models.Update{ID: 21, Message: &models.Message{ID: 3, Date: 1, Chat: shopperChat, From: &shopper, Text: "Where is my parcel?"}}

	// The store is down: 503 so Telegram retries, nothing accepted.
	rec.setErr(conversation.Errorf(conversation.Unavailable, "store down"))
	w := post(t, a, secret, u)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("engine unavailable: %d Retry-After=%q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// A lease held by another replica is retryable too.
	rec.setErr(conversation.ErrLeaseHeld)
	if w := post(t, a, secret, u); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("lease held: %d, want 503", w.Code)
	}
	// Telegram's retry finds the engine back: 200 once it handled the update.
	rec.setErr(nil)
	if w := post(t, a, secret, u); w.Code != http.StatusOK {
		t.Fatalf("retry: %d %s, want 200", w.Code, w.Body)
	}
	msgs := rec.messages()
	if len(msgs) != 1 || msgs[0].DedupeKey != "tg:"+itoaT(fake.BotID())+":21" {
		t.Fatalf("engine got %+v, want one message with dedupe key tg:<bot>:21", msgs)
	}
	// A duplicate (the engine says so) is accepted with 200.
	rec.setErr(conversation.ErrDuplicate)
	if w := post(t, a, secret, u); w.Code != http.StatusOK {
		t.Fatalf("duplicate: %d, want 200", w.Code)
	}
	// Invalid input cannot get better by retrying: 200, dropped.
	rec.setErr(conversation.Errorf(conversation.Invalid, "bad"))
	if w := post(t, a, secret, u); w.Code != http.StatusOK {
		t.Fatalf("invalid: %d, want 200", w.Code)
	}
	rec.setErr(nil)
	_ = a.Close()
	if w := post(t, a, secret, u); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d, want 503", w.Code)
	}
}

func TestWebhookWithoutSecretRejectsEverything(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.WebhookSecret = ""
	rec := newRecorder()
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	u := models.Update{ID: 1, Message: &models.Message{ID: 1, Date: 1, Chat: shopperChat, From: &shopper, Text: "hi"}}
	if w := post(t, a, "", u); w.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401 when no secret is configured", w.Code)
	}
	if err := a.SetWebhook(ctxT(t), "https://shop.example/telegram/webhook"); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("SetWebhook without a secret: %v, want Invalid", err)
	}
}

func TestSetAndDeleteWebhook(t *testing.T) {
	fake := startFake(t)
	a := newAdapter(t, baseConfig(fake), newRecorder(), openStore(t, t.TempDir()))
	ctx := ctxT(t)
	if err := a.SetWebhook(ctx, "https://shop.example/telegram/webhook"); err != nil {
		t.Fatal(err)
	}
	if u, s := fake.Webhook(); u != "https://shop.example/telegram/webhook" || s != secret {
		t.Fatalf("fake webhook = %q secret %q", u, s)
	}
	if err := a.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	if u, _ := fake.Webhook(); u != "" {
		t.Fatalf("webhook still set: %q", u)
	}
	if err := a.SetWebhook(ctx, "not a url"); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("SetWebhook(bad url) = %v, want Invalid", err)
	}
}
