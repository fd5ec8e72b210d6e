package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
)

// maxFuzzBody bounds what a fuzz target sends: past the 8 KiB body limit
// of fuzzAdapter (so the 413 path is reached), small enough to stay fast.
const maxFuzzBody = 12 << 10

// checkingEngine is the engine of the fuzz targets: it counts what it is
// handed (memory stays flat however long the fuzzer runs) and remembers
// the first message or agent action that does not validate.
type checkingEngine struct {
	mu  sync.Mutex
	n   int
	bad string
}

func (e *checkingEngine) Handle(_ context.Context, m conversation.Message) (conversation.Result, error) {
	e.note(m.Validate(), "message")
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

func (e *checkingEngine) Act(_ context.Context, a conversation.AgentAction) (conversation.Result, error) {
	e.note(a.Validate(), "agent action")
	return conversation.Result{Phase: conversation.PhaseAgentActive}, nil
}

func (e *checkingEngine) note(err error, what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if err != nil && e.bad == "" {
		e.bad = what + ": " + err.Error()
	}
}

// panicWatch is a slog handler that remembers whether the adapter logged a
// recovered panic (its worker pool turns them into log lines).
type panicWatch struct {
	mu  sync.Mutex
	msg string
}

func (p *panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicWatch) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicWatch) WithGroup(string) slog.Handler            { return p }
func (p *panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panicked") {
		p.mu.Lock()
		r.Attrs(func(a slog.Attr) bool { p.msg += " " + a.String(); return true })
		p.mu.Unlock()
	}
	return nil
}

// slackFuzz is a started adapter in front of the fake Slack with its
// handlers, a checking engine and a panic watch.
type slackFuzz struct {
	fake  *slackfake.Server
	a     *slack.Adapter
	eng   *checkingEngine
	watch *panicWatch
}

func newSlackFuzz(tb testing.TB) *slackFuzz {
	tb.Helper()
	sf := &slackFuzz{fake: startFake(tb), eng: &checkingEngine{}, watch: &panicWatch{}}
	cfg := testConfig(sf.fake)
	cfg.MaxBodyBytes = 8 << 10
	cfg.Logger = slog.New(sf.watch)
	a, err := slack.New(cfg, sf.eng, openStore(tb))
	if err != nil {
		tb.Fatalf("new adapter: %v", err)
	}
	if err := a.Start(context.Background()); err != nil {
		tb.Fatalf("start adapter: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = a.Close(ctx)
	})
	sf.a = a
	return sf
}

// post sends body to h, signed now with secret, in the calling goroutine.
func (sf *slackFuzz) post(h http.Handler, contentType, secret string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	slackfake.SignRequest(req, secret, time.Now(), body)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// check fails t when a worker panicked or the engine got invalid input.
// Workers run after the answer, so a finding may surface one input late;
// the log line names the panic either way.
func (sf *slackFuzz) check(t *testing.T, body []byte) {
	t.Helper()
	sf.watch.mu.Lock()
	p := sf.watch.msg
	sf.watch.mu.Unlock()
	if p != "" {
		t.Fatalf("an event handler panicked (at or just before %q):%s", body, p)
	}
	sf.eng.mu.Lock()
	bad := sf.eng.bad
	sf.eng.mu.Unlock()
	if bad != "" {
		t.Fatalf("the engine got an invalid %s (at or just before %q)", bad, body)
	}
}

// wantStatus fails unless w has one of the documented statuses, and a
// JSON error body for 4xx and 5xx.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, body []byte, ok ...int) {
	t.Helper()
	found := false
	for _, s := range ok {
		found = found || w.Code == s
	}
	if !found {
		t.Fatalf("status %d %s for %q, want one of %v", w.Code, w.Body.Bytes(), body, ok)
	}
	if w.Code >= 400 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code == "" {
			t.Fatalf("status %d with body %q, want a JSON error", w.Code, w.Body.Bytes())
		}
	}
}

// fuzzSigned fuzzes h with bodies signed as Slack signs them: every
// answer is one of the documented statuses, no worker panics, and
// whatever reaches the engine validates.
func (sf *slackFuzz) fuzzSigned(f *testing.F, h http.Handler, contentType string) {
	secret := sf.fake.Config().SigningSecret
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > maxFuzzBody {
			return
		}
		w := sf.post(h, contentType, secret, body)
		wantStatus(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable)
		sf.check(t, body)
	})
}

// eventSeeds are Events API bodies as Slack sends them.
func eventSeeds(fake *slackfake.Server) [][]byte {
	return [][]byte{
		fake.EventCallback("Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "Mein VPN verbindet nicht", TS: "1700000000.000100"}),
		fake.EventCallback("Ev2", slackfake.Event{Type: "app_mention", Channel: "C1", User: "UEMP", Text: "<@U0BOT> printer <https://x.example|help> &amp; <!here>", TS: "1700000000.000200"}),
		fake.EventCallback("Ev3", slackfake.Event{Type: "message", Channel: "C1", User: "UEMP", Text: "in thread", TS: "1700000000.000300", ThreadTS: "1700000000.000200"}),
		fake.EventCallback("Ev4", slackfake.Event{Type: "message", Channel: staffChan, User: "UAGENT", Text: "reply: Bitte neu starten", TS: "1700000000.000400", ThreadTS: "1700000000.000001"}),
		fake.EventCallback("Ev5", json.RawMessage(`{"type":"message","subtype":"file_share","channel":"D1","channel_type":"im","user":"UEMP","ts":"1700000000.000500","files":[{"name":"a.png","mimetype":"image/png","size":-1,"url_private":"https://files.example/a"}]}`)),
		fake.EventCallback("Ev6", json.RawMessage(`{"type":"reaction_added","user":"UEMP","reaction":"thumbsup","item":{"type":"message","channel":"C1","ts":"1700000000.000100"}}`)),
		fake.EventCallback("Ev7", json.RawMessage(`{"type":"message","channel":"D1","bot_id":"B1","ts":"1.2","message":{"bot_id":"B1"}}`)),
		slackfake.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
		[]byte(`{"type":"app_rate_limited","minute_rate_limited":1518467820}`),
		[]byte(`{"type":"event_callback","event":{"type":"message","ts":42}}`),
		[]byte(`{"type":"event_callback","event":null}`),
	}
}

// FuzzEvents signs arbitrary bodies and posts them to the Events API
// handler: every answer is one of its documented statuses, no worker
// panics, and whatever reaches the engine validates.
func FuzzEvents(f *testing.F) {
	sf := newSlackFuzz(f)
	for _, s := range eventSeeds(sf.fake) {
		f.Add(s)
	}
	sf.fuzzSigned(f, sf.a.EventsHandler(), "application/json")
}

// FuzzInteractive signs arbitrary interaction payloads (form-encoded as
// Slack sends them, or an arbitrary form) and posts them to the
// interactivity handler, with the properties of FuzzEvents.
func FuzzInteractive(f *testing.F) {
	sf := newSlackFuzz(f)
	click := `{"type":"block_actions","user":{"id":"UEMP","team_id":"T0FAKE"},"team":{"id":"T0FAKE"},"channel":{"id":"D1"},` +
		`"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"D1"},"actions":[{"action_id":"tier0_btn_0",` +
		`"block_id":"b","type":"button","value":"{\"id\":\"helpful\"}","action_ts":"1700000001.000100"}]}`
	staff := `{"type":"block_actions","user":{"id":"UAGENT"},"team":{"id":"T0FAKE"},"container":{"type":"message","message_ts":"1700000000.000001",` +
		`"channel_id":"CSTAFF","thread_ts":"1700000000.000001"},"actions":[{"action_id":"tier0_staff_claim","type":"button","value":"slack:T0FAKE:D1","action_ts":"1700000002.000100"},` +
		`{"action_id":"tier0_staff_priority","type":"static_select","selected_option":{"value":"high"},"action_ts":"1700000002.000200"}]}`
	shortcut := `{"type":"message_action","callback_id":"` + slack.SendToCustomerCallbackID + `","user":{"id":"UAGENT"},"team":{"id":"T0FAKE"},` +
		`"channel":{"id":"CSTAFF"},"message_ts":"1700000000.000500","message":{"type":"message","user":"UAGENT","text":"Bitte neu starten","ts":"1700000000.000500","thread_ts":"1700000000.000001"}}`
	for _, p := range []string{click, staff, shortcut, `{"type":"view_closed"}`, `{"type":"block_actions","actions":[null]}`, `{"type":`} {
		f.Add([]byte(url.Values{"payload": {p}}.Encode()))
	}
	f.Add([]byte("foo=bar"))
	f.Add([]byte("payload=%zz"))
	sf.fuzzSigned(f, sf.a.InteractiveHandler(), "application/x-www-form-urlencoded")
}

// FuzzSignature sends a valid event with arbitrary timestamp and
// signature headers: only the signature of the body at that exact
// timestamp string, within five minutes of now, gets past the check (an
// oracle computes it here from Slack's documented scheme); everything
// else is 401.
func FuzzSignature(f *testing.F) {
	sf := newSlackFuzz(f)
	body := sf.fake.EventCallback("Ev9", slackfake.Event{Type: "reaction_added", User: "UEMP", TS: "1700000000.000100"})
	secret := sf.fake.Config().SigningSecret
	now := time.Now()
	stamp := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	f.Add(stamp(now), slackfake.Sign(secret, now, body))
	f.Add(stamp(now.Add(-10*time.Minute)), slackfake.Sign(secret, now.Add(-10*time.Minute), body))
	f.Add(stamp(now), slackfake.Sign("not-the-secret", now, body))
	f.Add(stamp(now), strings.ToUpper(slackfake.Sign(secret, now, body)))
	f.Add(stamp(now), "v0=")
	f.Add("", "")
	f.Add("-1", "v1=00")
	f.Add("99999999999999999999", slackfake.Sign(secret, now, body)+"00")
	h := sf.a.EventsHandler()
	f.Fuzz(func(t *testing.T, ts, sig string) {
		if len(ts) > 256 || len(sig) > 1024 || strings.ContainsAny(ts+sig, "\r\n\x00") {
			return // not header values an HTTP client sends
		}
		req := httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code == http.StatusUnauthorized {
			return
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		got, herr := hex.DecodeString(strings.TrimPrefix(sig, "v0="))
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("v0:" + ts + ":"))
		mac.Write(body)
		if err != nil || herr != nil || !strings.HasPrefix(sig, "v0=") || !hmac.Equal(got, mac.Sum(nil)) ||
			time.Since(time.Unix(sec, 0)).Abs() > 6*time.Minute {
			t.Fatalf("status %d for timestamp %q and signature %q, want 401", w.Code, ts, sig)
		}
	})
}
