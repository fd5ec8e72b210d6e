package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

// waitLimit bounds every wait so a bug fails a test instead of hanging
// it; it is a safety net, not a speed assertion.
const waitLimit = 20 * time.Second

const (
	team      = "T0FAKE"
	botUser   = "U0BOT"
	staffChan = "CSTAFF"
)

// users of the fake workspace.
var users = []slackfake.User{
	{ID: "UEMP", Name: "erin", RealName: "Erin Employee", DisplayName: "Erin", Email: "erin@example.test", Locale: "en-US"},
	{ID: "UAGENT", Name: "sam", RealName: "Sam Agent", DisplayName: "Sam", Email: "sam@example.test"},
}

// recorder is an engine that records what it is given. handle and act,
// when set, decide the answers.
type recorder struct {
	mu      sync.Mutex
	msgs    []conversation.Message
	acts    []conversation.AgentAction
	changed chan struct{}
	handle  func(ctx context.Context, m conversation.Message) (conversation.Result, error)
	act     func(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	close(r.changed)
	r.changed = make(chan struct{})
	fn := r.handle
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, m)
	}
	return conversation.Result{}, nil
}

func (r *recorder) Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error) {
	r.mu.Lock()
	r.acts = append(r.acts, a)
	close(r.changed)
	r.changed = make(chan struct{})
	fn := r.act
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, a)
	}
	return conversation.Result{}, nil
}

func (r *recorder) messages() []conversation.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) actions() []conversation.AgentAction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.acts)
}

// waitFor waits until cond holds for the recorded messages and actions.
func (r *recorder) waitFor(tb testing.TB, what string, cond func(msgs []conversation.Message, acts []conversation.AgentAction) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		r.mu.Lock()
		ok, ch := cond(r.msgs, r.acts), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("timed out waiting for %s", what)
		case <-ch:
		}
	}
}

// openStore opens a bolt store in a temporary directory.
func openStore(tb testing.TB) *boltstore.Store {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{NoSync: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// fixture is a started adapter in front of a fake Slack, serving its
// handlers on a test server.
type fixture struct {
	fake    *slackfake.Server
	adapter *slack.Adapter
	store   *boltstore.Store
	eng     *recorder
	srv     *httptest.Server
	closed  bool
}

func startFake(tb testing.TB) *slackfake.Server {
	tb.Helper()
	f, err := slackfake.Start(slackfake.Config{Users: users, PingInterval: 200 * time.Millisecond})
	if err != nil {
		tb.Fatalf("start fake slack: %v", err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

// testConfig is the adapter configuration for fake f.
func testConfig(f *slackfake.Server) slack.Config {
	return slack.Config{
		BotToken:         f.Config().BotToken,
		SigningSecret:    f.Config().SigningSecret,
		AppToken:         f.Config().AppToken,
		APIURL:           f.APIURL(),
		StaffChannelID:   staffChan,
		PostsPerSecond:   1000,
		PostBurst:        1000,
		PlaceholderAfter: -1,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// newFixture starts a fake, an adapter with a recording engine (tune the
// config with opts) and a test server for its handlers.
func newFixture(tb testing.TB, opts ...func(*slack.Config)) *fixture {
	tb.Helper()
	fx := &fixture{fake: startFake(tb), eng: newRecorder(), store: openStore(tb)}
	cfg := testConfig(fx.fake)
	for _, o := range opts {
		o(&cfg)
	}
	a, err := slack.New(cfg, fx.eng, fx.store)
	if err != nil {
		tb.Fatalf("new adapter: %v", err)
	}
	fx.adapter = a
	if err := a.Start(context.Background()); err != nil {
		tb.Fatalf("start adapter: %v", err)
	}
	fx.srv = serve(a)
	tb.Cleanup(func() {
		fx.srv.Close()
		fx.close(tb)
	})
	return fx
}

func serve(a *slack.Adapter) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/slack/events", a.EventsHandler())
	mux.Handle("/slack/interactive", a.InteractiveHandler())
	return httptest.NewServer(mux)
}

// close drains the adapter: every accepted event has been processed
// when it returns.
func (fx *fixture) close(tb testing.TB) {
	tb.Helper()
	if fx.closed {
		return
	}
	fx.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := fx.adapter.Close(ctx); err != nil {
		tb.Fatalf("close adapter: %v", err)
	}
}

// postEvent delivers an Events API event like Slack and returns the
// status and body.
func (fx *fixture) postEvent(tb testing.TB, body []byte) (int, string) {
	tb.Helper()
	res, err := fx.fake.PostEvent(context.Background(), fx.srv.URL+"/slack/events", body)
	if err != nil {
		tb.Fatalf("post event: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// event posts an inner event and wants 200.
func (fx *fixture) event(tb testing.TB, eventID string, ev slackfake.Event) {
	tb.Helper()
	if code, body := fx.postEvent(tb, fx.fake.EventCallback(eventID, ev)); code != http.StatusOK {
		tb.Fatalf("event %s: status %d %s, want 200", eventID, code, body)
	}
}

// interact posts an interaction payload and wants 200.
func (fx *fixture) interact(tb testing.TB, payload []byte) {
	tb.Helper()
	res, err := fx.fake.PostInteractive(context.Background(), fx.srv.URL+"/slack/interactive", payload)
	if err != nil {
		tb.Fatalf("post interaction: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		tb.Fatalf("interaction: status %d %s, want 200", res.StatusCode, b)
	}
}

// waitMessage waits for a fake Slack message matching match.
func waitMessage(tb testing.TB, f *slackfake.Server, what string, match func(slackfake.Message) bool) slackfake.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	m, err := f.WaitMessage(ctx, match)
	if err != nil {
		for _, m := range f.Messages() {
			tb.Logf("recorded: %s %s thread=%s ts=%s %q", m.Method, m.Channel, m.ThreadTS, m.TS, m.Text)
		}
		tb.Fatalf("waiting for %s: %v", what, err)
	}
	return m
}

// wireBlock is a Block Kit block as the fake recorded it.
type wireBlock struct {
	Type    string `json:"type"`
	BlockID string `json:"block_id"`
	Text    *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"text"`
	Elements []struct {
		Type     string          `json:"type"`
		Text     json.RawMessage `json:"text"` // a string (context) or a text object (buttons)
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		Style    string          `json:"style"`
		Options  []struct {
			Value string `json:"value"`
		} `json:"options"`
	} `json:"elements"`
}

func blocksOf(tb testing.TB, m slackfake.Message) []wireBlock {
	tb.Helper()
	var bs []wireBlock
	if err := json.Unmarshal(m.Blocks, &bs); err != nil {
		tb.Fatalf("blocks of %s: %v (%s)", m.TS, err, m.Blocks)
	}
	return bs
}

// inThread matches messages in channel's thread ts.
func inThread(channel, ts string) func(slackfake.Message) bool {
	return func(m slackfake.Message) bool { return m.Channel == channel && m.ThreadTS == ts }
}

// textOf returns the text of an element's "text": a string or a text
// object.
func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct{ Text string }
	_ = json.Unmarshal(raw, &o)
	return o.Text
}
