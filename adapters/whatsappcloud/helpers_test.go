package whatsappcloud_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

const (
	testToken   = "EAAGtestaccesstoken0123456789"
	testSecret  = "app-secret-0123456789abcdef"
	testVerify  = "verify-me-please"
	testPhoneID = "106540352242922"
	shopper     = "4915112345678"
	webhookPath = "/whatsapp/webhook"
)

// waitLimit bounds every wait so a bug fails a test instead of hanging
// it; it is a safety net, not a speed assertion.
const waitLimit = 20 * time.Second

func waitCtx(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	tb.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (slog).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recEngine records the messages it is handed. It answers with err when
// set, and reports duplicates of a dedupe key it accepted before.
type recEngine struct {
	mu    sync.Mutex
	got   []conversation.Message
	err   error
	errN  int // answer err for this many calls, then succeed (0: always)
	seen  map[string]bool
	block func(ctx context.Context) // called inside Handle when set
}

func newRecEngine() *recEngine { return &recEngine{seen: map[string]bool{}} }

func (e *recEngine) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	e.mu.Lock()
	block := e.block
	e.mu.Unlock()
	if block != nil {
		block(ctx)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		err := e.err
		if e.errN > 0 {
			if e.errN--; e.errN == 0 {
				e.err = nil
			}
		}
		return conversation.Result{}, err
	}
	if err := m.Validate(); err != nil {
		return conversation.Result{}, err
	}
	if e.seen[m.DedupeKey] {
		return conversation.Result{Duplicate: true}, nil
	}
	e.seen[m.DedupeKey] = true
	e.got = append(e.got, m)
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

func (e *recEngine) messages() []conversation.Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]conversation.Message(nil), e.got...)
}

func (e *recEngine) fail(err error, n int) {
	e.mu.Lock()
	e.err, e.errN = err, n
	e.mu.Unlock()
}

// harness is an adapter wired to the fake Graph API and a recording
// engine, with its webhook behind an httptest server.
type harness struct {
	graph   *whatsappgraph.Server
	graphTS *httptest.Server
	a       *whatsappcloud.Adapter
	eng     *recEngine
	hook    whatsappgraph.Webhook
	hookURL string
	logs    *syncBuffer
	clock   *fakeClock
}

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

func testConfig(apiURL string) whatsappcloud.Config {
	return whatsappcloud.Config{
		AccessToken:   testToken,
		AppSecret:     testSecret,
		VerifyToken:   testVerify,
		PhoneNumberID: testPhoneID,
		APIURL:        apiURL,
	}
}

func newHarness(tb testing.TB, configure func(*whatsappcloud.Config)) *harness {
	tb.Helper()
	h := &harness{
		graph: whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID}),
		eng:   newRecEngine(),
		logs:  &syncBuffer{},
		clock: &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)},
		hook:  whatsappgraph.Webhook{AppSecret: testSecret, PhoneNumberID: testPhoneID},
	}
	h.graphTS = httptest.NewServer(h.graph)
	tb.Cleanup(h.graphTS.Close)
	cfg := testConfig(h.graphTS.URL)
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Now = h.clock.Now
	if configure != nil {
		configure(&cfg)
	}
	a, err := whatsappcloud.New(cfg, h.eng)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	h.a = a
	tb.Cleanup(func() { _ = a.Close() })
	ts := httptest.NewServer(a.WebhookHandler())
	tb.Cleanup(ts.Close)
	h.hookURL = ts.URL + webhookPath
	return h
}

// post delivers a signed notification and returns the status and body.
func (h *harness) post(tb testing.TB, body []byte) (int, string) {
	tb.Helper()
	status, resp, err := h.hook.Post(waitCtx(tb), nil, h.hookURL, body)
	if err != nil {
		tb.Fatalf("post webhook: %v", err)
	}
	return status, resp
}

// mustPost delivers a signed notification and fails unless it got 200.
func (h *harness) mustPost(tb testing.TB, body []byte) {
	tb.Helper()
	if status, resp := h.post(tb, body); status != 200 {
		tb.Fatalf("webhook answered %d %s, want 200", status, resp)
	}
}

// send calls the adapter's Sender.
func (h *harness) send(tb testing.TB, o conversation.Outbound) error {
	tb.Helper()
	if o.Channel == "" {
		o.Channel = h.a.Channel()
	}
	if o.ConversationKey == "" {
		o.ConversationKey = whatsappcloud.ConversationKey(shopper)
	}
	return h.a.Sender().Send(waitCtx(tb), o)
}

func contains(tb testing.TB, what, s, sub string) {
	tb.Helper()
	if !strings.Contains(s, sub) {
		tb.Errorf("%s = %q, want it to contain %q", what, s, sub)
	}
}
