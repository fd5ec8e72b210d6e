package webchat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
)

func TestConfigValidate(t *testing.T) {
	ok := webchat.Config{Secret: testSecret}
	tests := []struct {
		name    string
		mod     func(*webchat.Config)
		wantErr string
	}{
		{"defaults", func(*webchat.Config) {}, ""},
		{"full", func(c *webchat.Config) {
			c.SessionTTL, c.MaxBodyBytes, c.RatePerMinute, c.RateBurst = time.Hour, 64<<10, 60, 10
			c.AllowedOrigins = []string{"https://shop.example", "http://localhost:8080"}
			c.FrameAncestors = []string{"'self'", "https://intranet.example"}
		}, ""},
		{"no secret", func(c *webchat.Config) { c.Secret = nil }, "Secret"},
		{"short secret", func(c *webchat.Config) { c.Secret = []byte("short") }, "at least 32 bytes"},
		{"negative ttl", func(c *webchat.Config) { c.SessionTTL = -time.Second }, "SessionTTL"},
		{"tiny ttl", func(c *webchat.Config) { c.SessionTTL = time.Second }, "SessionTTL"},
		{"huge body", func(c *webchat.Config) { c.MaxBodyBytes = 1 << 30 }, "MaxBodyBytes"},
		{"negative rate", func(c *webchat.Config) { c.RatePerMinute = -1 }, "RatePerMinute"},
		{"negative heartbeat", func(c *webchat.Config) { c.Heartbeat = -1 }, "Heartbeat"},
		{"long title", func(c *webchat.Config) { c.Title = strings.Repeat("x", 201) }, "Title"},
		{"origin with path", func(c *webchat.Config) { c.AllowedOrigins = []string{"https://shop.example/x"} }, "AllowedOrigins"},
		{"origin without scheme", func(c *webchat.Config) { c.AllowedOrigins = []string{"shop.example"} }, "AllowedOrigins"},
		{"frame ancestor injection", func(c *webchat.Config) { c.FrameAncestors = []string{"'self'; script-src *"} }, "FrameAncestors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if got := conversation.ErrorCode(err); got != conversation.Invalid {
				t.Errorf("error code = %q, want %q", got, conversation.Invalid)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	hist := &fakeHistory{}
	eng := &fakeEngine{}
	tests := []struct {
		name string
		cfg  webchat.Config
		h    webchat.Handler
		hist webchat.HistoryReader
	}{
		{"bad config", webchat.Config{}, eng, hist},
		{"no handler", webchat.Config{Secret: testSecret}, nil, hist},
		{"no history", webchat.Config{Secret: testSecret}, eng, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := webchat.New(tt.cfg, tt.h, tt.hist, nil)
			if err == nil || a != nil {
				t.Fatalf("New() = %v, %v; want nil and an error", a, err)
			}
			if got := conversation.ErrorCode(err); got != conversation.Invalid {
				t.Errorf("error code = %q, want %q", got, conversation.Invalid)
			}
		})
	}
}

func TestCreateSession(t *testing.T) {
	h := newHarness(t, nil)
	res := h.do(t, http.MethodPost, "/api/webchat/sessions", "", `{"name":"  Ada Lovelace ","locale":"en-GB"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
	}
	var s sessionInfo
	res.json(t, &s)
	if want := h.clock.Now().Add(24 * time.Hour); !s.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v, want %v", s.ExpiresAt, want)
	}
	if got := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"hello"}`); got.status != http.StatusAccepted {
		t.Fatalf("post message: status %d, body %s", got.status, got.body)
	}
	m := h.eng.next(t)
	want := conversation.Identity{ID: s.SessionID, DisplayName: "Ada Lovelace", Locale: "en-GB"}
	if m.User != want {
		t.Errorf("User = %+v, want %+v", m.User, want)
	}
	if m.ConversationKey != "webchat:"+s.SessionID || m.Channel != conversation.ChannelWebChat {
		t.Errorf("key, channel = %q, %q; want %q, %q", m.ConversationKey, m.Channel, "webchat:"+s.SessionID, conversation.ChannelWebChat)
	}
	if m.Text != "hello" || m.DedupeKey == "" || m.PlatformMsgID != m.DedupeKey || !m.ReceivedAt.Equal(h.clock.Now()) {
		t.Errorf("message = %+v, want text hello, a dedupe key equal to the platform id, received now", m)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("normalised message does not validate: %v", err)
	}

	for _, body := range []string{`{"name":"a\u0007b"}`, `{"name":"` + strings.Repeat("n", 65) + `"}`, `{"locale":"en_GB;x"}`, `{"name":`} {
		t.Run(body, func(t *testing.T) {
			res := h.do(t, http.MethodPost, "/api/webchat/sessions", "", body)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", res.status, res.body)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) {
		c.AllowedOrigins = []string{"https://shop.example"}
		c.RateBurst = 1000 // every attempt counts against the limit, even a malformed one
	})
	old := h.session(t)
	h.clock.Advance(24*time.Hour + time.Second) // old's token has run out
	expiredToken := old.Token
	me, other := h.session(t), h.session(t)
	foreign := newHarness(t, func(c *webchat.Config) { c.Secret = []byte("another-secret-another-secret-xx") }).session(t)
	forged := me.Token[:len(me.Token)-2] + flip(me.Token[len(me.Token)-2:])

	tests := []struct {
		name, method, path, token, body string
		header                          []string
		wantStatus                      int
		wantCode                        string
	}{
		{"malformed json", "POST", messagesPath(me.SessionID), me.Token, `{"text":`, nil, 400, "invalid_json"},
		{"json of wrong shape", "POST", messagesPath(me.SessionID), me.Token, `{"text":42}`, nil, 400, "invalid_json"},
		{"trailing garbage", "POST", messagesPath(me.SessionID), me.Token, `{"text":"hi"} x`, nil, 400, "invalid_json"},
		{"empty body", "POST", messagesPath(me.SessionID), me.Token, ``, nil, 400, "invalid_json"},
		{"empty text", "POST", messagesPath(me.SessionID), me.Token, `{"text":"  \n "}`, nil, 400, "invalid"},
		{"text too long", "POST", messagesPath(me.SessionID), me.Token, `{"text":"` + strings.Repeat("a", conversation.MaxTextLen+1) + `"}`, nil, 400, "invalid"},
		{"bad client_msg_id", "POST", messagesPath(me.SessionID), me.Token, `{"text":"hi","client_msg_id":"a b"}`, nil, 400, "invalid"},
		{"action without id", "POST", messagesPath(me.SessionID), me.Token, `{"action":{"value":"x"}}`, nil, 400, "invalid"},
		{"oversized body", "POST", messagesPath(me.SessionID), me.Token, `{"text":"` + strings.Repeat("a", 17<<10) + `"}`, nil, 413, "too_large"},
		{"oversized session body", "POST", "/api/webchat/sessions", "", `{"name":"` + strings.Repeat("a", 17<<10) + `"}`, nil, 413, "too_large"},

		{"messages without token", "POST", messagesPath(me.SessionID), "", `{"text":"hi"}`, nil, 401, "unauthorized"},
		{"messages with forged token", "POST", messagesPath(me.SessionID), forged, `{"text":"hi"}`, nil, 401, "unauthorized"},
		{"messages with token of another server", "POST", messagesPath(foreign.SessionID), foreign.Token, `{"text":"hi"}`, nil, 401, "unauthorized"},
		{"messages with garbage token", "POST", messagesPath(me.SessionID), "not-a-token", `{"text":"hi"}`, nil, 401, "unauthorized"},
		{"messages with expired token", "POST", messagesPath(old.SessionID), expiredToken, `{"text":"hi"}`, nil, 401, "unauthorized"},
		{"events with expired token", "GET", eventsPath(old.SessionID) + "?token=" + expiredToken, "", "", nil, 401, "unauthorized"},
		{"events without token", "GET", eventsPath(me.SessionID), "", "", nil, 401, "unauthorized"},
		{"events with forged query token", "GET", eventsPath(me.SessionID) + "?token=" + forged, "", "", nil, 401, "unauthorized"},
		{"history without token", "GET", historyPath(me.SessionID), "", "", nil, 401, "unauthorized"},
		{"history with query token", "GET", historyPath(me.SessionID) + "?token=" + me.Token, "", "", nil, 401, "unauthorized"},
		{"history with expired token", "GET", historyPath(old.SessionID), expiredToken, "", nil, 401, "unauthorized"},

		{"messages of another visitor", "POST", messagesPath(other.SessionID), me.Token, `{"text":"hi"}`, nil, 403, "forbidden"},
		{"events of another visitor", "GET", eventsPath(other.SessionID), me.Token, "", nil, 403, "forbidden"},
		{"events of another visitor by query", "GET", eventsPath(other.SessionID) + "?token=" + me.Token, "", "", nil, 403, "forbidden"},
		{"history of another visitor", "GET", historyPath(other.SessionID), me.Token, "", nil, 403, "forbidden"},

		{"unknown route", "GET", "/nope", "", "", nil, 404, "not_found"},
		{"unknown api route", "GET", "/api/webchat/sessions/" + me.SessionID + "/secrets", me.Token, "", nil, 404, "not_found"},
		{"empty session id", "GET", "/api/webchat/sessions//history", me.Token, "", nil, 404, "not_found"},
		{"wrong method on sessions", "GET", "/api/webchat/sessions", "", "", nil, 405, "method_not_allowed"},
		{"wrong method on messages", "GET", messagesPath(me.SessionID), me.Token, "", nil, 405, "method_not_allowed"},
		{"wrong method on page", "DELETE", "/", "", "", nil, 405, "method_not_allowed"},
		{"wrong method on widget", "POST", "/widget.js", "", "{}", nil, 405, "method_not_allowed"},
		{"origin not allowed", "POST", "/api/webchat/sessions", "", "", []string{"Origin", "https://evil.example"}, 403, "origin_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do(t, tt.method, tt.path, tt.token, tt.body, tt.header...)
			wantError(t, res, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 401 && res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate header")
			}
			if tt.wantStatus == 405 && res.header.Get("Allow") == "" {
				t.Errorf("405 without Allow header")
			}
		})
	}
}

// flip changes a base64url string so it decodes to other bytes.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func TestClientRetryIsDeduplicated(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	body := `{"text":"How do I reset my VPN?","client_msg_id":"c-42"}`
	var ids []string
	for range 2 {
		res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, body)
		if res.status != http.StatusAccepted {
			t.Fatalf("status = %d, want 202 (body %s)", res.status, res.body)
		}
		var got struct {
			MessageID   string `json:"message_id"`
			ExpectReply bool   `json:"expect_reply"`
		}
		res.json(t, &got)
		ids = append(ids, got.MessageID)
		if want := len(ids) == 1; got.ExpectReply != want {
			t.Errorf("attempt %d: expect_reply = %v, want %v (only the first one is answered)", len(ids), got.ExpectReply, want)
		}
	}
	first, second := h.eng.next(t), h.eng.next(t)
	if first.DedupeKey != "c-42" || second.DedupeKey != first.DedupeKey {
		t.Errorf("dedupe keys = %q, %q; want both %q", first.DedupeKey, second.DedupeKey, "c-42")
	}
	if ids[0] != "c-42" || ids[1] != "c-42" {
		t.Errorf("message ids = %q, want both c-42", ids)
	}

	// Without a client id every message gets its own server id.
	h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"one"}`)
	h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"two"}`)
	a, b := h.eng.next(t), h.eng.next(t)
	if a.DedupeKey == "" || a.DedupeKey == b.DedupeKey {
		t.Errorf("server-generated dedupe keys = %q, %q; want two different ones", a.DedupeKey, b.DedupeKey)
	}
}

func TestActionMessage(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"action":{"id":"human","value":"now"}}`)
	if res.status != http.StatusAccepted {
		t.Fatalf("status = %d, want 202 (body %s)", res.status, res.body)
	}
	m := h.eng.next(t)
	if m.Action == nil || *m.Action != (conversation.Action{ID: "human", Value: "now"}) || m.Text != "" {
		t.Errorf("message action, text = %+v, %q; want {human now}, empty", m.Action, m.Text)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, nil) // 20 per minute, burst 5
	s, other := h.session(t), h.session(t)
	post := func(s sessionInfo) response {
		return h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"hi"}`)
	}
	for i := range 5 {
		if res := post(s); res.status != http.StatusAccepted {
			t.Fatalf("message %d: status %d, want 202", i+1, res.status)
		}
	}
	res := post(s)
	wantError(t, res, http.StatusTooManyRequests, "rate_limited")
	if got := res.header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want 3 (one message per 3s)", got)
	}
	if res := post(other); res.status != http.StatusAccepted {
		t.Errorf("another session: status %d, want 202", res.status)
	}
	h.clock.Advance(3 * time.Second)
	if res := post(s); res.status != http.StatusAccepted {
		t.Errorf("after Retry-After: status %d, want 202", res.status)
	}
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) { c.MaxRateBuckets = 3 })
	for i := range 3 {
		s := h.session(t)
		if res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"hi"}`); res.status != http.StatusAccepted {
			t.Fatalf("session %d: status %d, want 202", i, res.status)
		}
	}
	if got := webchat.RateBuckets(h.a); got != 3 {
		t.Fatalf("buckets = %d, want 3", got)
	}
	late := h.session(t)
	wantError(t, h.do(t, http.MethodPost, messagesPath(late.SessionID), late.Token, `{"text":"hi"}`), http.StatusTooManyRequests, "rate_limited")

	// Once the old buckets are full again they carry no information and go.
	h.clock.Advance(15 * time.Second)
	if res := h.do(t, http.MethodPost, messagesPath(late.SessionID), late.Token, `{"text":"hi"}`); res.status != http.StatusAccepted {
		t.Fatalf("after refill: status %d, want 202", res.status)
	}
	if got := webchat.RateBuckets(h.a); got != 1 {
		t.Errorf("buckets after eviction = %d, want 1", got)
	}
}

func TestEngineErrors(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) { c.RateBurst = 100 })
	s := h.session(t)
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantRetry  string
	}{
		{"invalid", conversation.Errorf(conversation.Invalid, "text is not valid UTF-8"), 400, "invalid", ""},
		{"lease held", fmt.Errorf("lease conversation x: %w", conversation.ErrLeaseHeld), 503, "busy", "1"},
		{"stale version", fmt.Errorf("commit: %w", conversation.ErrStaleVersion), 503, "busy", "1"},
		{"other conflict", conversation.Errorf(conversation.Conflict, "something raced"), 409, "conflict", "1"},
		{"unavailable", conversation.Errorf(conversation.Unavailable, "redis down at 10.0.0.7"), 503, "unavailable", "2"},
		{"unavailable with retry-after", &conversation.RetryAfterError{After: 7 * time.Second, Err: conversation.Errorf(conversation.Unavailable, "busy")}, 503, "unavailable", "7"},
		{"timeout", fmt.Errorf("knowledge: %w", context.DeadlineExceeded), 503, "timeout", "2"},
		{"overloaded", fmt.Errorf("turn: %w", &conversation.RetryAfterError{After: 3 * time.Second, Err: conversation.ErrOverloaded}), 429, "overloaded", "3"},
		{"internal", errors.New("nil map in /srv/secret/path.go"), 500, "internal", ""},
		{"not found", conversation.ErrNotFound, 500, "internal", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.eng.setErr(tt.err)
			res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, fmt.Sprintf(`{"text":"q%d"}`, i))
			wantError(t, res, tt.wantStatus, tt.wantCode)
			if got := res.header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			for _, secret := range []string{"10.0.0.7", "/srv/secret", "redis"} {
				if strings.Contains(string(res.body), secret) {
					t.Errorf("body %s leaks %q", res.body, secret)
				}
			}
		})
	}

	t.Run("duplicate", func(t *testing.T) {
		h.eng.setErr(fmt.Errorf("commit: %w", conversation.ErrDuplicate))
		if res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"again"}`); res.status != http.StatusAccepted {
			t.Errorf("status = %d, want 202: a duplicate was answered before", res.status)
		}
	})
	if !strings.Contains(h.logs.String(), "nil map in /srv/secret/path.go") {
		t.Errorf("the internal error chain was not logged:\n%s", h.logs)
	}
}

func TestMessageTextIsNotLogged(t *testing.T) {
	h := newHarness(t, nil)
	s := h.session(t)
	const secret = "my password is hunter2"
	h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"`+secret+`"}`)
	h.eng.setErr(conversation.Errorf(conversation.Unavailable, "down"))
	h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"`+secret+` again"}`)
	if logs := h.logs.String(); strings.Contains(logs, "hunter2") {
		t.Errorf("message text was logged:\n%s", logs)
	}
}

func TestPageAndWidget(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) {
		c.Title = `Northwind <IT> "help"`
		c.FrameAncestors = []string{"https://intranet.example"}
	})
	res := h.do(t, http.MethodGet, "/", "", "")
	if res.status != http.StatusOK {
		t.Fatalf("GET /: status %d", res.status)
	}
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors https://intranet.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	wantHeaders := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	for k, want := range wantHeaders {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	page := string(res.body)
	if !strings.Contains(page, "<title>Northwind &lt;IT&gt; &#34;help&#34;</title>") {
		t.Errorf("page title is not escaped:\n%s", page)
	}
	if strings.Count(page, "<script") != strings.Count(page, `<script src="widget.js" defer></script>`) {
		t.Errorf("page has an inline script:\n%s", page)
	}

	for path, ctype := range map[string]string{"/widget.js": "text/javascript; charset=utf-8", "/widget.css": "text/css; charset=utf-8"} {
		t.Run(path, func(t *testing.T) {
			res := h.do(t, http.MethodGet, path, "", "")
			if res.status != http.StatusOK || res.header.Get("Content-Type") != ctype || len(res.body) == 0 {
				t.Fatalf("status, type, size = %d, %q, %d; want 200, %q, > 0", res.status, res.header.Get("Content-Type"), len(res.body), ctype)
			}
			if got := res.header.Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
				t.Errorf("Cross-Origin-Resource-Policy = %q, want cross-origin (other sites embed it)", got)
			}
			etag := res.header.Get("ETag")
			if again := h.do(t, http.MethodGet, path, "", "", "If-None-Match", etag); etag == "" || again.status != http.StatusNotModified {
				t.Errorf("revalidation with ETag %q: status %d, want 304", etag, again.status)
			}
		})
	}
	if js := string(h.do(t, http.MethodGet, "/widget.js", "", "").body); strings.Contains(js, "innerHTML") {
		t.Errorf("widget.js uses innerHTML")
	}

	var cfg struct{ Title, Welcome string }
	h.do(t, http.MethodGet, "/api/webchat/config", "", "").json(t, &cfg)
	if cfg.Title != `Northwind <IT> "help"` {
		t.Errorf("config title = %q", cfg.Title)
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, func(c *webchat.Config) { c.AllowedOrigins = []string{"https://shop.example"} })
	s := h.session(t)

	pre := h.do(t, http.MethodOptions, messagesPath(s.SessionID), "", "",
		"Origin", "https://shop.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if pre.status != http.StatusNoContent {
		t.Fatalf("preflight: status %d, want 204 (body %s)", pre.status, pre.body)
	}
	if got := pre.header.Get("Access-Control-Allow-Origin"); got != "https://shop.example" {
		t.Errorf("preflight Allow-Origin = %q", got)
	}
	if got := pre.header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Authorization") {
		t.Errorf("preflight Allow-Headers = %q, want Authorization", got)
	}
	wantError(t, h.do(t, http.MethodOptions, messagesPath(s.SessionID), "", "", "Origin", "https://evil.example"), http.StatusForbidden, "origin_not_allowed")

	res := h.do(t, http.MethodPost, messagesPath(s.SessionID), s.Token, `{"text":"hi"}`, "Origin", "https://shop.example")
	if res.status != http.StatusAccepted || res.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("cross-origin post: status %d, Allow-Origin %q", res.status, res.header.Get("Access-Control-Allow-Origin"))
	}
	same := h.do(t, http.MethodPost, "/api/webchat/sessions", "", "", "Origin", h.srv.URL)
	if same.status != http.StatusCreated || same.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin post: status %d, Allow-Origin %q; want 201 and none", same.status, same.header.Get("Access-Control-Allow-Origin"))
	}
}

// The visitor's error sentences follow the browser's language.
func TestErrorSentencesInBrowserLanguage(t *testing.T) {
	en, _ := conversation.ChannelTextsIn("en")
	de, _ := conversation.ChannelTextsIn("de")
	for _, tt := range []struct{ msg, accept, want string }{
		{en.Busy, "de-DE,de;q=0.9,en;q=0.8", de.Busy},
		{en.Generic, "de", de.Generic},
		{en.Busy, "fr-FR,de;q=0.5", de.Busy},
		{en.Busy, "en-GB,de;q=0.5", en.Busy},
		{en.Busy, "fr-FR", en.Busy},
		{"text is too long", "de", "text is too long"},
	} {
		if got := webchat.Localize(tt.msg, tt.accept); got != tt.want {
			t.Errorf("Localize(%q, %q) = %q, want %q", tt.msg, tt.accept, got, tt.want)
		}
	}
}
