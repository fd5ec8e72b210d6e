package webchat_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
)

// maxFuzzBody bounds what a fuzz target sends: past the adapter's 16 KiB
// limit (so the 413 path is reached) but small enough to stay fast.
const maxFuzzBody = 20 << 10

// checkingEngine is the engine of the fuzz targets: it keeps only the last
// message (memory stays flat however long the fuzzer runs) and fails the
// input when the adapter handed over a message that does not validate.
type checkingEngine struct {
	mu   sync.Mutex
	last *conversation.Message
	bad  error
}

func (e *checkingEngine) Handle(_ context.Context, m conversation.Message) (conversation.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = &m
	if err := m.Validate(); err != nil {
		e.bad = err
	}
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

// take returns and forgets the last message and validation failure.
func (e *checkingEngine) take() (*conversation.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, err := e.last, e.bad
	e.last, e.bad = nil, nil
	return m, err
}

// fuzzAdapter is a web chat adapter on a checking engine and a fixed
// clock, with a rate limit so generous it never decides.
func fuzzAdapter(tb testing.TB) (http.Handler, *checkingEngine) {
	tb.Helper()
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	eng := &checkingEngine{}
	hist := &fakeHistory{convs: map[string]*conversation.Conversation{}}
	a, err := webchat.New(webchat.Config{Secret: testSecret, Now: clock.Now, RatePerMinute: 1 << 30, RateBurst: 1 << 30, MaxRateBuckets: 1 << 20},
		eng, hist, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a.Handler(), eng
}

// serve runs one request through h in the calling goroutine.
func serve(h http.Handler, method, path, auth string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// startSession creates a session through the handler.
func startSession(tb testing.TB, h http.Handler, body []byte) (int, sessionInfo) {
	tb.Helper()
	w := serve(h, http.MethodPost, "/api/webchat/sessions", "", body)
	var s sessionInfo
	if w.Code == http.StatusCreated {
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.SessionID == "" || s.Token == "" {
			tb.Fatalf("201 with body %s: %v", w.Body.Bytes(), err)
		}
	}
	return w.Code, s
}

// wantJSONError fails unless w is an error answer in the documented
// {"error":{"code","message"}} shape.
func wantJSONError(tb testing.TB, w *httptest.ResponseRecorder) {
	tb.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("status %d with body %q, want a JSON error", w.Code, w.Body.Bytes())
	}
}

// FuzzCreateSession posts arbitrary bodies to POST /api/webchat/sessions:
// the answer is 201 with a token that works for that session's history,
// or a JSON 400/413.
func FuzzCreateSession(f *testing.F) {
	for _, s := range []string{"", "{}", `{"name":"Erika Muster","locale":"de-DE"}`, `{"name":"Sam","locale":"en-GB"}`,
		`{"name":"` + strings.Repeat("ä", 70) + `"}`, `{"name":"a\u0000b"}`, `{"locale":"de_DE;x"}`, `{"name":17}`, `[]`, `null`, "\xff"} {
		f.Add([]byte(s))
	}
	h, _ := fuzzAdapter(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		code, s := startSession(t, h, body)
		switch code {
		case http.StatusCreated:
			w := serve(h, http.MethodGet, historyPath(s.SessionID), "Bearer "+s.Token, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("history with a fresh token: status %d %s", w.Code, w.Body.Bytes())
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q, want 201, 400 or 413", code, body)
		}
	})
}

// FuzzPostMessage posts arbitrary bodies as a visitor's message in a valid
// session: 202 hands the engine exactly the text sent, as a message that
// validates; anything else is a JSON 400 or 413 and reaches no engine.
func FuzzPostMessage(f *testing.F) {
	for _, s := range []string{`{"text":"Wie setze ich mein VPN-Passwort zurück?"}`, `{"text":"How do I reset my VPN?","client_msg_id":"c-1"}`,
		`{"action":{"id":"helpful","value":"yes"},"client_msg_id":"c-2"}`, `{"action":{"id":"","value":""}}`, `{"text":"   "}`,
		`{"text":"x","client_msg_id":"bad id!"}`, `{"text":` + strings.Repeat("[", 200) + `}`, `{"text":"\ud800"}`, `{"text":1}`, `{} {}`, ``} {
		f.Add([]byte(s))
	}
	h, eng := fuzzAdapter(f)
	_, s := startSession(f, h, []byte(`{"name":"Erika","locale":"de-DE"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		w := serve(h, http.MethodPost, messagesPath(s.SessionID), "Bearer "+s.Token, body)
		m, bad := eng.take()
		if bad != nil {
			t.Fatalf("the engine got a message that does not validate (%v) from %q", bad, body)
		}
		switch w.Code {
		case http.StatusAccepted:
			var sent struct {
				Text string `json:"text"`
			}
			_ = json.Unmarshal(body, &sent)
			if m == nil || m.Text != sent.Text || m.ConversationKey != webchat.KeyPrefix+s.SessionID {
				t.Fatalf("202 for %q, but the engine got %+v", body, m)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			wantJSONError(t, w)
			if m != nil {
				t.Fatalf("status %d for %q, but the engine got %+v", w.Code, body, m)
			}
		default:
			t.Fatalf("status %d %s for %q, want 202, 400 or 413", w.Code, w.Body.Bytes(), body)
		}
	})
}

// FuzzSessionToken sends arbitrary Authorization headers and session ids:
// no forged token gets in. An accepted token must carry, for the session
// in the path, a MAC under the adapter's secret (checked here by a
// separate oracle), and be handed on for that session only.
func FuzzSessionToken(f *testing.F) {
	h, eng := fuzzAdapter(f)
	_, s := startSession(f, h, []byte(`{"name":"Erika","locale":"de-DE"}`))
	_, other := startSession(f, h, nil)
	payload, _, _ := strings.Cut(s.Token, ".")
	for _, seed := range [][2]string{{"Bearer " + s.Token, s.SessionID}, {"Bearer " + s.Token, other.SessionID},
		{"Bearer " + other.Token, s.SessionID}, {"Bearer " + payload + ".AAAA", s.SessionID}, {"Basic " + s.Token, s.SessionID},
		{"Bearer  " + s.Token + " ", s.SessionID}, {"Bearer e30.", "AAAAAAAAAAAAAAAAAAAAAAAAAA"}, {"Bearer ", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, auth, id string) {
		if len(auth) > 4<<10 || len(id) > 256 || !pathSegment(id) || strings.ContainsAny(auth, "\r\n\x00") {
			return // not a header value or path segment an HTTP client can send
		}
		w := serve(h, http.MethodPost, messagesPath(id), auth, []byte(`{"text":"hi"}`))
		m, bad := eng.take()
		if bad != nil {
			t.Fatalf("the engine got a message that does not validate: %v", bad)
		}
		switch w.Code {
		case http.StatusAccepted:
			if !signedFor(strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")), id) || m == nil || m.ConversationKey != webchat.KeyPrefix+id {
				t.Fatalf("accepted %q for session %q: a token that was not issued for it", auth, id)
			}
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			wantJSONError(t, w)
			if m != nil {
				t.Fatalf("status %d, but the engine got %+v", w.Code, m)
			}
		default:
			t.Fatalf("status %d %s for %q on %q", w.Code, w.Body.Bytes(), auth, id)
		}
	})
}

// signedFor is the oracle of FuzzSessionToken: whether tok is
// payload.signature with the signature the HMAC of the documented token
// format under testSecret and the payload naming session id.
func signedFor(tok, id string) bool {
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(payload)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	var p struct {
		ID string `json:"sid"`
	}
	if err1 != nil || err2 != nil || json.Unmarshal(raw, &p) != nil || p.ID != id {
		return false
	}
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte("tier0-webchat-token-v1\x00" + payload))
	return hmac.Equal(got, mac.Sum(nil))
}

// pathSegment reports whether id can be sent as one path segment as it
// is: printable ASCII without space, '/', '?', '#' or '%'.
func pathSegment(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("/?#%", c) >= 0 {
			return false
		}
	}
	return true
}
