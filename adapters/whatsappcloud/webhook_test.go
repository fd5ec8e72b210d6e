package whatsappcloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

func TestVerifyHandshake(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name       string
		query      url.Values
		wantStatus int
		wantBody   string
	}{
		{"right token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {"1158201444"}}, 200, "1158201444"},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"token prefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify[:5]}, "hub.challenge": {"1"}}, 403, ""},
		{"no token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"wrong mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {"1"}}, 403, ""},
		{"no challenge", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}}, 403, ""},
		{"challenge with markup", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerify}, "hub.challenge": {"<script>"}}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(h.hookURL + "?" + tt.query.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 200 {
				if string(body) != tt.wantBody {
					t.Errorf("body = %q, want the challenge %q", body, tt.wantBody)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type = %q, want text/plain", ct)
				}
			}
		})
	}
}

func TestWebhookRefusesBadRequests(t *testing.T) {
	h := newHarness(t, func(c *whatsappcloud.Config) { c.MaxBodyBytes = 4 << 10 })
	good := h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.A1", "hello"))
	big := h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.A2", strings.Repeat("x", 5000)))
	other := whatsappgraph.Webhook{AppSecret: "another-app-secret", PhoneNumberID: testPhoneID}
	tests := []struct {
		name       string
		method     string
		body       []byte
		signature  string // "" → none; "sign" → correct
		wantStatus int
		wantCode   string
	}{
		{"no signature", "POST", good, "", 401, "missing_signature"},
		{"garbage signature", "POST", good, "sha256=zz", 401, "bad_signature"},
		{"signature without prefix", "POST", good, strings.TrimPrefix(whatsappgraph.Sign(testSecret, good), "sha256="), 401, "bad_signature"},
		{"signed with another secret", "POST", good, whatsappgraph.Sign(other.AppSecret, good), 401, "bad_signature"},
		{"signature of another body", "POST", good, whatsappgraph.Sign(testSecret, append(bytes.Clone(good), ' ')), 401, "bad_signature"},
		{"malformed JSON", "POST", []byte(`{"object":"whatsapp_business_account","entry":[`), "sign", 400, "invalid_json"},
		{"wrong JSON shape", "POST", []byte(`{"object":"whatsapp_business_account","entry":{"id":1}}`), "sign", 400, "invalid_json"},
		{"other object", "POST", []byte(`{"object":"page","entry":[]}`), "sign", 400, "unsupported_object"},
		{"oversized", "POST", big, "sign", 413, "too_large"},
		{"wrong method", "PUT", good, "sign", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.hookURL, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tt.signature {
			case "":
			case "sign":
				req.Header.Set("X-Hub-Signature-256", whatsappgraph.Sign(testSecret, tt.body))
			default:
				req.Header.Set("X-Hub-Signature-256", tt.signature)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			if resp.StatusCode != tt.wantStatus || e.Error.Code != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, e.Error.Code, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if n := len(h.eng.messages()); n != 0 {
		t.Errorf("the engine got %d messages from refused requests, want 0", n)
	}
}

func TestStatusesOnlyPayload(t *testing.T) {
	h := newHarness(t, nil)
	h.mustPost(t, h.hook.Statuses(
		whatsappgraph.StatusUpdate("wamid.OUT1", shopper, "delivered"),
		whatsappgraph.StatusUpdate("wamid.OUT1", shopper, "read"),
		whatsappgraph.FailedStatus("wamid.OUT2", shopper, 131047, "Re-engagement message"),
	))
	if n := len(h.eng.messages()); n != 0 {
		t.Errorf("engine got %d messages, want 0", n)
	}
	logs := h.logs.String()
	contains(t, "logs", logs, `level=WARN msg="whatsapp message delivery failed"`)
	contains(t, "logs", logs, `wamid=wamid.OUT2 error_code=131047`)
	contains(t, "logs", logs, "status=delivered")
	if strings.Contains(logs, shopper) {
		t.Errorf("logs contain the shopper's number: %s", logs)
	}
}

func TestOtherPhoneNumberIgnored(t *testing.T) {
	h := newHarness(t, nil)
	other := whatsappgraph.Webhook{AppSecret: testSecret, PhoneNumberID: "999999999999"}
	h.mustPost(t, other.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.X1", "hello")))
	if n := len(h.eng.messages()); n != 0 {
		t.Fatalf("engine got %d messages for another number, want 0", n)
	}
	contains(t, "logs", h.logs.String(), `msg="whatsapp notification for another phone number ignored"`)
	contains(t, "logs", h.logs.String(), `phone_number_id=999999999999`)

	// One payload for two numbers: only ours is handled.
	mine := h.hook.Value()
	mine.Messages = []whatsappgraph.Message{whatsappgraph.TextMessage(shopper, "wamid.X2", "mine")}
	theirs := other.Value()
	theirs.Messages = []whatsappgraph.Message{whatsappgraph.TextMessage(shopper, "wamid.X3", "theirs")}
	h.mustPost(t, h.hook.Encode(theirs, mine))
	got := h.eng.messages()
	if len(got) != 1 || got[0].PlatformMsgID != "wamid.X2" {
		t.Errorf("engine got %+v, want only wamid.X2", got)
	}
}

func TestEngineFailuresAskMetaToRetry(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"unavailable", conversation.Errorf(conversation.Unavailable, "store down"), 503},
		{"lease held", conversation.ErrLeaseHeld, 503},
		{"timeout", context.DeadlineExceeded, 503},
		{"bug", io.ErrUnexpectedEOF, 500},
		{"invalid message is dropped", conversation.Errorf(conversation.Invalid, "nope"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.eng.fail(tt.err, 1)
			body := h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.R1", "hello"))
			if status, resp := h.post(t, body); status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", status, resp, tt.wantStatus)
			}
			// A redelivery goes through once the engine is back.
			h.mustPost(t, body)
			if n := len(h.eng.messages()); n != 1 {
				t.Errorf("engine accepted %d messages, want 1", n)
			}
		})
	}
}

func TestPartialPayloadIsRetriedWhole(t *testing.T) {
	h := newHarness(t, nil)
	body := h.hook.Messages("Kerry",
		whatsappgraph.TextMessage(shopper, "wamid.P1", "first"),
		whatsappgraph.TextMessage(shopper, "wamid.P2", "second"))
	var calls int
	h.eng.mu.Lock()
	h.eng.block = func(context.Context) {
		h.eng.mu.Lock()
		calls++
		if calls == 2 {
			h.eng.err, h.eng.errN = conversation.Errorf(conversation.Unavailable, "store down"), 1
		}
		h.eng.mu.Unlock()
	}
	h.eng.mu.Unlock()
	if status, _ := h.post(t, body); status != 503 {
		t.Fatalf("status = %d, want 503 when the second message failed", status)
	}
	h.mustPost(t, body)
	got := h.eng.messages()
	if len(got) != 2 || got[0].Text != "first" || got[1].Text != "second" {
		t.Errorf("engine accepted %+v, want first then second, each once", got)
	}
}

func TestTypingIndicatorWhenTurnIsSlow(t *testing.T) {
	h := newHarness(t, func(c *whatsappcloud.Config) { c.TypingAfter = 1 })
	// The turn lasts until the typing indicator has reached Meta.
	h.eng.block = func(ctx context.Context) {
		if _, err := h.graph.WaitReads(ctx, 1); err != nil {
			t.Errorf("no typing indicator during a slow turn: %v", err)
		}
	}
	h.mustPost(t, h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.T1", "slow question")))
	reads := h.graph.Reads()
	if len(reads) != 1 || reads[0] != (whatsappgraph.Read{MessageID: "wamid.T1", Typing: true}) {
		t.Errorf("reads = %+v, want one read with typing indicator for wamid.T1", reads)
	}
}

func TestMarkRead(t *testing.T) {
	h := newHarness(t, func(c *whatsappcloud.Config) { c.MarkRead = true })
	body := h.hook.Messages("Kerry", whatsappgraph.TextMessage(shopper, "wamid.M1", "hi"))
	h.mustPost(t, body)
	h.mustPost(t, body) // a duplicate is not marked again
	reads := h.graph.Reads()
	if len(reads) != 1 || reads[0] != (whatsappgraph.Read{MessageID: "wamid.M1"}) {
		t.Errorf("reads = %+v, want one plain read receipt for wamid.M1", reads)
	}
}
