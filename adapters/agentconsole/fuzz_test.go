package agentconsole_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/agentconsole"
)

// serveConsole runs one request through the console's handler in the
// calling goroutine, as agent a (nil: no session).
func (h *harness) serveConsole(a *agent, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if a != nil {
		req.AddCookie(a.cookie)
		req.Header.Set(agentconsole.CSRFHeader, a.csrf)
	}
	w := httptest.NewRecorder()
	h.console.Handler().ServeHTTP(w, req)
	return w
}

// wantConsoleAnswer fails unless w has one of the statuses, and a JSON
// error body when it is an error.
func wantConsoleAnswer(t *testing.T, w *httptest.ResponseRecorder, body []byte, ok ...int) {
	t.Helper()
	found := false
	for _, s := range ok {
		found = found || w.Code == s
	}
	if !found {
		t.Fatalf("status %d %s for %q, want one of %v", w.Code, w.Body.Bytes(), body, ok)
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if w.Code >= 400 && (json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code == "" || e.Error.Message == "") {
		t.Fatalf("status %d with body %q, want a JSON error", w.Code, w.Body.Bytes())
	}
}

// FuzzLogin posts arbitrary login bodies: 200 with a session only for an
// account's own password, otherwise a JSON 400, 401 or 413. The clock
// moves on a minute per attempt so the login rate limit never decides.
func FuzzLogin(f *testing.F) {
	for _, s := range []string{`{"username":"ada","password":"correct horse"}`, `{"username":"ada","password":"wrong"}`,
		`{"username":"sam","password":"sales pass"}`, `{"username":"ada","password":"correct horse","extra":1}`, `{"username":"ada"} {}`,
		`{"username":["ada"]}`, `{"username":"` + strings.Repeat("a", 300) + `","password":"x"}`, `null`, ``, "\xff"} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 96<<10 {
			return
		}
		h.clock.Advance(time.Minute)
		w := h.serveConsole(nil, http.MethodPost, "/console/api/login", body)
		wantConsoleAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge)
		if w.Code != http.StatusOK {
			return
		}
		var req struct{ Username, Password string }
		_ = json.Unmarshal(body, &req)
		if !(req.Username == "ada" && req.Password == "correct horse" || req.Username == "sam" && req.Password == "sales pass") {
			t.Fatalf("logged in with %q", body)
		}
	})
}

// FuzzAgentAction posts arbitrary action bodies on a handed-off ticket as
// a logged-in agent, through the real engine on a bolt store: every answer
// is a documented status (never a 5xx: bad input is the agent's problem,
// not the server's), with a JSON error body for errors.
func FuzzAgentAction(f *testing.F) {
	for _, s := range []string{`{"kind":"claim","action_id":"a1"}`, `{"kind":"reply","text":"Bitte starten Sie den Drucker neu.","action_id":"a2"}`,
		`{"kind":"note","text":"called the customer","action_id":"a3"}`, `{"kind":"priority","text":"P1","action_id":"a4"}`,
		`{"kind":"priority","text":"P9","action_id":"a5"}`, `{"kind":"escalate","action_id":"a6"}`, `{"kind":"hand_back","action_id":"a7"}`,
		`{"kind":"resolve","action_id":"a8"}`, `{"kind":"explode","action_id":"a9"}`, `{"kind":"reply","text":"","action_id":"a10"}`,
		`{"kind":"reply","text":"x","action_id":"bad id!"}`, `{"kind":"reply"}`, `{"kind":"note","text":"x","action_id":"a11","more":1}`, `[]`} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	h.handOff(f)
	ada := h.login(f, "ada", "correct horse")
	path := ticketPath(customerKey) + "/actions"
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 96<<10 {
			return
		}
		w := h.serveConsole(ada, http.MethodPost, path, body)
		wantConsoleAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge)
	})
}
