package agentconsole_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tier0/tier0/adapters/agentconsole"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/language"
	"github.com/tier0/tier0/handoff"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-console")

// customerKey is the web chat conversation the tests hand off.
const customerKey = "webchat:CUSTOMER1"

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// knowledgeDouble answers questions about the VPN and nothing else.
type knowledgeDouble struct{}

func (knowledgeDouble) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "vpn") {
		return conversation.Answer{Text: "Restart the VPN client, then sign in again.", Score: 0.9, Confident: true,
			Citations: []conversation.Citation{{Title: "VPN guide", Source: "vpn.md"}}}, nil
	}
	return conversation.Answer{Score: 0.1}, nil
}

// harness is a console over a real engine, bolt store and desk, with
// analytics recorded into the same store and the engine's events fed to
// the console's live streams.
type harness struct {
	store   *boltstore.Store
	engine  *conversation.Engine
	clock   *fakeClock
	srv     *httptest.Server
	console *agentconsole.Console
	stats   *analytics.Recorder
}

// fanout hands every event batch to each of its sinks.
type fanout []conversation.EventSink

func (f *fanout) Record(events []conversation.Event) {
	for _, s := range *f {
		s.Record(events)
	}
}

func hash(tb testing.TB, password string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatalf("hash password: %v", err)
	}
	return string(h)
}

func testConfig(tb testing.TB) agentconsole.Config {
	tb.Helper()
	return agentconsole.Config{
		Secret: testSecret,
		Accounts: []agentconsole.Account{
			{Username: "ada", Name: "Ada Lovelace", PasswordHash: hash(tb, "correct horse")},
			{Username: "sam", Name: "Sam Sales", PasswordHash: hash(tb, "sales pass"), Teams: []string{"Sales"}},
		},
	}
}

func newHarness(tb testing.TB, edit ...func(*agentconsole.Config)) *harness {
	tb.Helper()
	return newHarnessQueue(tb, nil, edit...)
}

// newHarnessQueue is newHarness with the console reading the store
// through wrap (nil: directly).
func newHarnessQueue(tb testing.TB, wrap func(agentconsole.Queue) agentconsole.Queue, edit ...func(*agentconsole.Config)) *harness {
	tb.Helper()
	store, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		tb.Fatalf("open bolt store: %v", err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	desk, err := handoff.NewDesk(store, handoff.Config{TicketPrefix: "IT", Team: "Support"})
	if err != nil {
		tb.Fatalf("new desk: %v", err)
	}
	clock := &fakeClock{t: harnessStart(time.Now())}
	rec, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: time.Hour, Now: clock.Now, Logger: discard()})
	if err != nil {
		tb.Fatalf("new recorder: %v", err)
	}
	tb.Cleanup(func() { _ = rec.Close() })
	events := &fanout{rec}
	detector, err := language.New(language.Config{Languages: []string{"de", "en"}})
	if err != nil {
		tb.Fatalf("language detector: %v", err)
	}
	eng := conversation.NewEngine(store, knowledgeDouble{}, desk, conversation.EngineConfig{Logger: discard(), Now: clock.Now, Events: events,
		Language: conversation.LanguageConfig{Detector: detector}})
	cfg := testConfig(tb)
	cfg.Now = clock.Now
	for _, e := range edit {
		e(&cfg)
	}
	var queue agentconsole.Queue = store
	if wrap != nil {
		queue = wrap(store)
	}
	c, err := agentconsole.New(cfg, agentconsole.Deps{Queue: queue, Agents: eng, Analytics: rec}, discard())
	if err != nil {
		tb.Fatalf("new console: %v", err)
	}
	*events = append(*events, c)
	mux := http.NewServeMux()
	mux.Handle(agentconsole.Prefix, c.Handler())
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	// Cleanups run last-registered first: the live streams end before
	// the server waits for its connections.
	tb.Cleanup(func() { _ = c.Close() })
	return &harness{store: store, engine: eng, clock: clock, srv: srv, console: c, stats: rec}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// customerSays hands a customer message of customerKey to the engine.
func (h *harness) customerSays(tb testing.TB, id, text string) {
	tb.Helper()
	_, err := h.engine.Handle(context.Background(), conversation.Message{
		Channel: conversation.ChannelWebChat, ConversationKey: customerKey, DedupeKey: id,
		User: conversation.Identity{ID: "visitor-1", DisplayName: "Carla Customer"}, Text: text,
	})
	if err != nil {
		tb.Fatalf("customer message %q: %v", text, err)
	}
}

// agent is a logged-in browser: its session cookie and CSRF token.
type agent struct {
	cookie *http.Cookie
	csrf   string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request as a (nil: no session); a JSON body is marshalled
// unless it is a string, which is sent as it is.
func (h *harness) do(tb testing.TB, a *agent, method, path string, body any, hdr ...string) response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			raw, err := json.Marshal(body)
			if err != nil {
				tb.Fatalf("marshal: %v", err)
			}
			b = string(raw)
		}
		rd = strings.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a != nil {
		req.AddCookie(a.cookie)
		if a.csrf != "" {
			req.Header.Set(agentconsole.CSRFHeader, a.csrf)
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, res.Body); err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: buf.Bytes()}
}

// login logs in and returns the agent, failing the test otherwise.
func (h *harness) login(tb testing.TB, user, password string) *agent {
	tb.Helper()
	res := h.do(tb, nil, http.MethodPost, "/console/api/login", map[string]string{"username": user, "password": password})
	if res.status != http.StatusOK {
		tb.Fatalf("login %s: status %d %s", user, res.status, res.body)
	}
	var s struct {
		CSRF string `json:"csrf_token"`
	}
	res.decode(tb, &s)
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == agentconsole.CookieName {
			return &agent{cookie: c, csrf: s.CSRF}
		}
	}
	tb.Fatalf("login %s: no session cookie in %v", user, res.header)
	return nil
}

// ticketPath is the API path of the handed-off conversation.
func ticketPath(key string) string { return "/console/api/tickets/" + url.PathEscape(key) }

// actOK posts an action and fails the test unless it is accepted.
func (h *harness) actOK(tb testing.TB, a *agent, kind, text, id string) {
	tb.Helper()
	res := h.do(tb, a, http.MethodPost, ticketPath(customerKey)+"/actions", map[string]string{"kind": kind, "text": text, "action_id": id})
	if res.status != http.StatusOK {
		tb.Fatalf("action %s: status %d %s", kind, res.status, res.body)
	}
}

// handOff makes the customer ask for a person, so customerKey has a ticket.
func (h *harness) handOff(tb testing.TB) {
	tb.Helper()
	h.customerSays(tb, "m1", "My printer is broken")
	h.customerSays(tb, "m2", "I want to talk to a human")
	c, err := h.store.Load(context.Background(), customerKey)
	if err != nil || c.TicketState == nil {
		tb.Fatalf("after asking for a human: conversation %+v, %v; want a ticket", c, err)
	}
}

// harnessStart is where a harness's fake clock starts: now, or 4 hours
// earlier when now is within 4 hours of midnight UTC, so the hours tests
// advance stay on one analytics day (the daily charts would otherwise
// split a test's conversations over two days) while the session cookies,
// dated by the fake clock, still lie in the browser's future.
func harnessStart(now time.Time) time.Time {
	if now.UTC().Hour() >= 20 {
		return now.Add(-4 * time.Hour)
	}
	return now
}
