package whatsappcloud_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/doortest"
	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// A notification is answered 200 only once its message's turn is
// committed (real engine on a Redis store, Meta's signed webhook): one
// whose commit fails, or does not come within CommitWait, is answered
// 503, and Meta's retry is processed exactly once.
func TestWebhookAnsweredAfterCommit(t *testing.T) {
	env := doortest.Start(t)
	graph := httptest.NewServer(whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID}))
	t.Cleanup(graph.Close)
	cfg := testConfig(graph.URL)
	cfg.Refs = env.Store
	cfg.CommitWait = 300 * time.Millisecond
	a, err := whatsappcloud.New(cfg, env.Engine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	srv := httptest.NewServer(a.WebhookHandler())
	t.Cleanup(srv.Close)
	hook := whatsappgraph.Webhook{AppSecret: testSecret, PhoneNumberID: testPhoneID}
	const shopper = "4915112345678"
	doortest.CheckAckAfterCommit(t, env, whatsappcloud.ConversationKey(shopper), http.StatusOK, func(t *testing.T, n int) int {
		t.Helper()
		body := hook.Messages("Sam Shopper", whatsappgraph.TextMessage(shopper, fmt.Sprintf("wamid.commit%d", n), "where is my parcel?"))
		status, resp, err := hook.Post(waitCtx(t), nil, srv.URL+webhookPath, body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Fatalf("status %d %s", status, resp)
		}
		return status
	})
}

// An overloaded engine is answered 503 with the engine's delay as
// Retry-After, never 200-and-drop.
func TestWebhookOverloaded(t *testing.T) {
	h := newHarness(t, nil)
	h.eng.fail(&conversation.RetryAfterError{After: 7 * time.Second, Err: conversation.ErrOverloaded}, 1)
	req, err := h.hook.Request(waitCtx(t), h.hookURL, h.hook.Messages("Sam", whatsappgraph.TextMessage("4915112345678", "wamid.over1", "hello")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("overloaded: %d Retry-After=%q, want 503 with Retry-After 7", res.StatusCode, res.Header.Get("Retry-After"))
	}
}
