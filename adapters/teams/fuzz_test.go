package teams_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
)

// maxFuzzBody bounds what a fuzz target sends: past the 8 KiB body limit
// set below (so the 413 path is reached), small enough to stay fast.
const maxFuzzBody = 12 << 10

// serveDirect runs one request through the adapter's handler in the
// calling goroutine.
func serveDirect(a *teams.Adapter, authorization string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/messages", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, req)
	return w
}

// drainChecked fails t when the engine was handed a message or an agent
// action that does not validate, and forgets what it was handed, so memory
// stays flat however long the fuzzer runs.
func (e *recEngine) drainChecked(t *testing.T, body []byte) int {
	t.Helper()
	e.mu.Lock()
	msgs, acts := e.msgs, e.acts
	e.msgs, e.acts = nil, nil
	e.mu.Unlock()
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			t.Fatalf("the engine got an invalid message (%v) from %q", err, body)
		}
	}
	for _, a := range acts {
		if err := a.Validate(); err != nil {
			t.Fatalf("the engine got an invalid agent action (%v) from %q", err, body)
		}
	}
	return len(msgs) + len(acts)
}

// FuzzActivity posts arbitrary activities with a valid Bot Framework token
// (signed by the fake for its connector): every answer is one of the
// documented statuses, and whatever reaches the engine validates. Only a
// 202 hands something to the engine.
func FuzzActivity(f *testing.F) {
	h := newHarness(f, func(c *teams.Config) { c.MaxBodyBytes = 8 << 10 })
	auth := "Bearer " + h.token(f, botframework.Claims{})
	chain := staffChannelID + ";messageid=1700000000001"
	for _, a := range []botframework.Activity{
		h.fake.PersonalMessage(alice, "Mein Laptop startet nicht"),
		h.fake.PersonalMessage(alice, "How do I reset my password?"),
		h.fake.ChannelMessage("19:general@thread.tacv2", "", alice, "printer jam on floor 2"),
		h.fake.ChannelMessage(staffChannelID, "1700000000001", bob, "reply: Bitte neu starten"),
		h.fake.Submit(botframework.PersonalConversationID(alice), "1700000000123", alice, json.RawMessage(`{"tier0_action":"helpful","tier0_value":"yes"}`)),
		h.fake.Submit(chain, "1700000000001", bob, json.RawMessage(`{"tier0_action":"claim","tier0_key":"teams:t:a"}`)),
		h.fake.Submit(botframework.PersonalConversationID(alice), "1", alice, json.RawMessage(`[1,2]`)),
	} {
		f.Add(mustJSON(f, a))
	}
	base := string(mustJSON(f, h.fake.PersonalMessage(alice, "hi")))
	for _, field := range []string{`"value":"just text"`, `"entities":[{"type":"mention","text":"<at>x</at>"}]`, `"localTimestamp":42`,
		`"attachments":[{"contentType":"application/vnd.microsoft.teams.file.download.info","content":"x"}]`, `"type":"conversationUpdate"`} {
		f.Add([]byte(strings.Replace(base, `{"type":"message",`, `{"type":"message",`+field+`,`, 1)))
	}
	f.Add([]byte(`{"type":"message",`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		w := serveDirect(h.adapter, auth, body)
		handed := h.eng.drainChecked(t, body)
		switch w.Code {
		case http.StatusAccepted, http.StatusOK:
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge:
			if handed != 0 {
				t.Fatalf("status %d for %q, but the engine was handed %d inputs", w.Code, body, handed)
			}
		default:
			t.Fatalf("status %d %s for %q", w.Code, w.Body.Bytes(), body)
		}
	})
}

// FuzzBearerToken posts a valid activity with arbitrary Authorization
// headers: a token gets in only when its signed part (header and claims)
// is the one the fake signed; the signature cannot be forged.
func FuzzBearerToken(f *testing.F) {
	h := newHarness(f, nil)
	valid := h.token(f, botframework.Claims{})
	body := mustJSON(f, h.fake.PersonalMessage(alice, "hello"))
	signed := valid[:strings.LastIndexByte(valid, '.')]
	for _, s := range []string{"Bearer " + valid, "Bearer " + signed + ".AAAA", "Bearer " + signed + ".", "bearer " + valid, "Bearer  " + valid + " ",
		"Bearer " + h.token(f, botframework.Claims{Audience: "some-other-bot"}), "Bearer " + h.token(f, botframework.Claims{KeyID: "unknown"}),
		"Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0.", "Bearer not.a.token", "Basic dXNlcjpwYXNz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		if len(authorization) > 20<<10 || strings.ContainsAny(authorization, "\r\n\x00") {
			return // not a header value an HTTP client sends
		}
		w := serveDirect(h.adapter, authorization, body)
		handed := h.eng.drainChecked(t, body)
		switch w.Code {
		case http.StatusUnauthorized:
			if handed != 0 {
				t.Fatalf("401 for %q, but the engine was handed %d inputs", authorization, handed)
			}
		case http.StatusAccepted:
			tok := strings.TrimSpace(strings.TrimPrefix(authorization, "Bearer "))
			if i := strings.LastIndexByte(tok, '.'); i < 0 || tok[:i] != signed {
				t.Fatalf("accepted %q: its signed part is not the one the fake signed", authorization)
			}
		default:
			t.Fatalf("status %d %s for %q, want 202 or 401", w.Code, w.Body.Bytes(), authorization)
		}
	})
}
