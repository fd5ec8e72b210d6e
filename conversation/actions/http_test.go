package actions_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/actions"
)

func TestFillURLEscapesValues(t *testing.T) {
	tests := []struct {
		tmpl   string
		params map[string]string
		want   string
	}{
		{"https://shop.example/orders/{order}?email={email}", map[string]string{"order": "10042", "email": "max@example.com"},
			"https://shop.example/orders/10042?email=max%40example.com"},
		{"https://shop.example/orders/{order}", map[string]string{"order": "../admin?x=1&y=2#"}, "https://shop.example/orders/..%2Fadmin%3Fx%3D1%26y%3D2%23"},
		{"https://shop.example/q?name={name}", map[string]string{"name": "a b"}, "https://shop.example/q?name=a%20b"},
		{"https://shop.example/{missing}/{Not_A_Param}", nil, "https://shop.example//{Not_A_Param}"},
	}
	for _, tc := range tests {
		if got := actions.FillURL(tc.tmpl, tc.params); got != tc.want {
			t.Errorf("FillURL(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []actions.Config{
		{URL: "ftp://x.example/"},
		{URL: "/relative"},
		{URL: "https://{host}/x"},
		{URL: "https://x.example/", Method: "TRACE"},
		{URL: "https://x.example/", Retries: 9},
	} {
		if _, err := actions.New(cfg); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("New(%+v) = %v, want Invalid", cfg, err)
		}
	}
}

func TestPick(t *testing.T) {
	raw := []byte(`{"status":"shipped","n":3,"ok":true,"shipment":{"carrier":"DHL","items":[{"name":"Boot"}]}}`)
	got, err := actions.Pick(raw, map[string]string{"status": "status", "n": "n", "ok": "ok", "carrier": "shipment.carrier", "first": "shipment.items.0.name", "none": "shipment.nope.x", "obj": "shipment.items.0"})
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	want := map[string]string{"status": "shipped", "n": "3", "ok": "true", "carrier": "DHL", "first": "Boot", "none": "", "obj": `{"name":"Boot"}`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := actions.Pick([]byte("<html>"), map[string]string{"a": "a"}); err == nil {
		t.Errorf("Pick of HTML: nil error")
	}
}

func TestStatusErrorMapping(t *testing.T) {
	tests := []struct {
		status int
		want   conversation.Code
	}{
		{200, ""}, {201, ""}, {404, conversation.NotFound}, {401, conversation.Unauthorized}, {403, conversation.Unauthorized},
		{500, conversation.Unavailable}, {503, conversation.Unavailable}, {429, conversation.Unavailable}, {400, conversation.Invalid}, {409, conversation.Invalid},
	}
	for _, tc := range tests {
		if got := conversation.ErrorCode(actions.StatusError("a", tc.status)); got != tc.want {
			t.Errorf("status %d → %q, want %q", tc.status, got, tc.want)
		}
	}
}

// backend is a test server that answers with status and body and
// records what it got.
type backend struct {
	mu      sync.Mutex
	status  int
	body    string
	delay   time.Duration
	methods []string
	keys    []string
	bodies  []string
	auth    []string
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.methods = append(b.methods, r.Method+" "+r.URL.RequestURI())
	b.keys = append(b.keys, r.Header.Get("Idempotency-Key"))
	b.bodies = append(b.bodies, string(raw))
	b.auth = append(b.auth, r.Header.Get("Authorization"))
	status, body, delay := b.status, b.body, b.delay
	b.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (b *backend) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.methods)
}

func TestHTTPRun(t *testing.T) {
	call := conversation.ActionCall{Action: "start_return", Params: map[string]string{"order": "10042", "reason": `too "small"`}, IdempotencyKey: "t0-abc"}
	tests := []struct {
		name      string
		cfg       actions.Config
		status    int
		body      string
		delay     time.Duration
		wantCode  conversation.Code
		wantCalls int
	}{
		{"ok", actions.Config{Method: "POST"}, 201, `{"label_url":"https://x.example/l.pdf"}`, 0, "", 1},
		{"not found", actions.Config{Method: "POST"}, 404, `{}`, 0, conversation.NotFound, 1},
		{"refused", actions.Config{Method: "POST"}, 403, ``, 0, conversation.Unauthorized, 1},
		{"POST not retried on 503", actions.Config{Method: "POST", Retries: 2}, 503, ``, 0, conversation.Unavailable, 1},
		{"idempotent POST retried", actions.Config{Method: "POST", Retries: 2, Idempotent: true}, 503, ``, 0, conversation.Unavailable, 3},
		{"GET retried", actions.Config{Method: "GET", Retries: 1}, 500, ``, 0, conversation.Unavailable, 2},
		{"timeout", actions.Config{Method: "POST", Timeout: 50 * time.Millisecond}, 200, `{}`, 300 * time.Millisecond, conversation.Unavailable, 1},
		{"too large", actions.Config{Method: "POST", MaxResponse: 10}, 200, `{"label_url":"https://x.example/very/long"}`, 0, conversation.Unavailable, 1},
		{"not JSON", actions.Config{Method: "POST"}, 200, `<html>oops</html>`, 0, conversation.Unavailable, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &backend{status: tc.status, body: tc.body, delay: tc.delay}
			srv := httptest.NewServer(b)
			defer srv.Close()
			cfg := tc.cfg
			cfg.URL = srv.URL + "/orders/{order}/returns"
			cfg.Header = http.Header{"Authorization": {"Bearer s3cret"}}
			cfg.Body = map[string]string{"reason": "{reason}", "note": "order {order}"}
			cfg.Result = map[string]string{"label": "label_url"}
			h, err := actions.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			res, err := h.Run(context.Background(), call)
			if got := conversation.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("Run: %v (code %q), want code %q", err, got, tc.wantCode)
			}
			if n := b.calls(); n != tc.wantCalls {
				t.Errorf("calls = %d, want %d", n, tc.wantCalls)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.keys[0] != "t0-abc" || b.auth[0] != "Bearer s3cret" || b.methods[0] != "POST /orders/10042/returns" && cfg.Method == "POST" {
				t.Errorf("request = %s key %q auth %q", b.methods[0], b.keys[0], b.auth[0])
			}
			if cfg.Method == "POST" && b.bodies[0] != `{"note":"order 10042","reason":"too \"small\""}` {
				t.Errorf("body = %s", b.bodies[0])
			}
			if tc.wantCode == "" && res.Fields["label"] != "https://x.example/l.pdf" {
				t.Errorf("fields = %v", res.Fields)
			}
		})
	}
}

func TestHTTPUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h, err := actions.New(actions.Config{URL: url + "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(context.Background(), conversation.ActionCall{Action: "a"}); conversation.ErrorCode(err) != conversation.Unavailable || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Run against a closed port: %v, want Unavailable", err)
	}
}
