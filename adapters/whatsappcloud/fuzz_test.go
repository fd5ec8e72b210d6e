package whatsappcloud_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// checkingEngine is the engine of the fuzz targets: it counts what it is
// handed (memory stays flat however long the fuzzer runs) and remembers
// the first message that does not validate.
type checkingEngine struct {
	mu  sync.Mutex
	n   int
	bad error
}

func (e *checkingEngine) Handle(_ context.Context, m conversation.Message) (conversation.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if err := m.Validate(); err != nil && e.bad == nil {
		e.bad = err
	}
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

// take returns and forgets the count and the validation failure.
func (e *checkingEngine) take() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, bad := e.n, e.bad
	e.n, e.bad = 0, nil
	return n, bad
}

// fuzzAdapter is an adapter on the fake Graph API and a checking engine,
// with a 16 KiB body limit.
func fuzzAdapter(f *testing.F) (http.Handler, *checkingEngine) {
	f.Helper()
	graph := httptest.NewServer(whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID}))
	f.Cleanup(graph.Close)
	cfg := testConfig(graph.URL)
	cfg.MaxBodyBytes = 16 << 10
	cfg.Logger = slog.New(slog.DiscardHandler)
	eng := &checkingEngine{}
	a, err := whatsappcloud.New(cfg, eng)
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	return a.WebhookHandler(), eng
}

// FuzzWebhook posts arbitrary notifications, signed with the app secret as
// Meta signs them, to the webhook: every answer is one of the documented
// statuses, whatever reaches the engine validates, and a 400 or 413
// reaches no engine.
func FuzzWebhook(f *testing.F) {
	hook := whatsappgraph.Webhook{AppSecret: testSecret, PhoneNumberID: testPhoneID}
	for _, m := range []whatsappgraph.Message{
		whatsappgraph.TextMessage(shopper, "wamid.N1", "Wo ist meine Bestellung?"),
		whatsappgraph.TextMessage(shopper, "wamid.N2", "this one").Quoting("wamid.OUT9"),
		whatsappgraph.ButtonReply(shopper, "wamid.N3", "wamid.OUT1", "c:1", "Returning shoes"),
		whatsappgraph.ListReply(shopper, "wamid.N6", "wamid.OUT2", "legacy-4", "4", ""),
		whatsappgraph.QuickReplyMessage(shopper, "wamid.N8", "STOP_PROMOS", "Stop promotions"),
		whatsappgraph.MediaMessage(shopper, "wamid.N10", "image", "1479537139650973", "image/jpeg", "the scratch", ""),
		whatsappgraph.MediaMessage(shopper, "wamid.N11", "document", "2212", "application/pdf", "", "invoice-1001.pdf"),
		whatsappgraph.LocationMessage(shopper, "wamid.N14", 52.52, 13.405, "Shop Mitte", "Alexanderplatz 1, Berlin"),
		whatsappgraph.ContactsMessage(shopper, "wamid.N15", "Alex Doe", "+49 30 1234567"),
		whatsappgraph.UnsupportedMessage(shopper, "wamid.N17"),
		whatsappgraph.TextMessage("+49 151", "wamid.N19", "hi"),
		whatsappgraph.TextMessage(shopper, "wamid.N20", "3"),
	} {
		f.Add(hook.Messages("Kerry Fisher", m))
	}
	f.Add(hook.Statuses(whatsappgraph.StatusUpdate("wamid.OUT1", shopper, "read"), whatsappgraph.FailedStatus("wamid.OUT2", shopper, 131047, "Re-engagement message")))
	f.Add([]byte(`{"object":"page","entry":[]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":null}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"` + testPhoneID + `"},"messages":[{"from":"` + shopper + `","id":"x","type":"text"}]}}]}]}`))
	h, eng := fuzzAdapter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 20<<10 {
			return
		}
		req := httptest.NewRequest(http.MethodPost, webhookPath, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", whatsappgraph.Sign(testSecret, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		n, bad := eng.take()
		if bad != nil {
			t.Fatalf("the engine got a message that does not validate (%v) from %q", bad, body)
		}
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if n != 0 {
				t.Fatalf("status %d for %q, but the engine got %d messages", w.Code, body, n)
			}
		default:
			t.Fatalf("status %d %s for %q, want 200, 400 or 413", w.Code, w.Body.Bytes(), body)
		}
	})
}

// FuzzVerifyHandshake sends arbitrary subscription handshakes: only
// hub.mode=subscribe with the verify token and a plain challenge gets 200,
// and then the body is exactly the challenge (never markup); all else 403.
func FuzzVerifyHandshake(f *testing.F) {
	f.Add("subscribe", testVerify, "1158201444")
	f.Add("subscribe", "wrong", "1158201444")
	f.Add("subscribe", testVerify, "<script>alert(1)</script>")
	f.Add("unsubscribe", testVerify, "1")
	f.Add("", "", "")
	h, _ := fuzzAdapter(f)
	f.Fuzz(func(t *testing.T, mode, token, challenge string) {
		q := url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, webhookPath+"?"+q.Encode(), nil))
		switch w.Code {
		case http.StatusOK:
			if mode != "subscribe" || token != testVerify || w.Body.String() != challenge || strings.ContainsAny(challenge, "<>&\"' ") {
				t.Fatalf("200 %q for mode %q, token %q, challenge %q", w.Body.String(), mode, token, challenge)
			}
		case http.StatusForbidden:
		default:
			t.Fatalf("status %d for mode %q, token %q, challenge %q", w.Code, mode, token, challenge)
		}
	})
}
