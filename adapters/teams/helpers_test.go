package teams_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

// waitLimit bounds every wait in these tests so a bug fails the test
// instead of hanging it; it is a safety net, not a speed assertion.
const waitLimit = 20 * time.Second

const staffChannelID = "19:staff0123456789@thread.tacv2"

var (
	alice = botframework.User{ID: "29:1alice", Name: "Alice Employee", AADObjectID: "aad-alice-0001"}
	bob   = botframework.User{ID: "29:1bob", Name: "Bob Agent", AADObjectID: "aad-bob-0002"}
)

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

// memRefs is a Refs store in memory.
type memRefs struct {
	mu   sync.Mutex
	m    map[string]string
	puts int
	err  error // returned by PutRef when set
}

func newMemRefs() *memRefs { return &memRefs{m: make(map[string]string)} }

func (r *memRefs) PutRef(_ context.Context, ns, key, value string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if ns == "" || key == "" || len(key) > 1024 {
		return conversation.Errorf(conversation.Invalid, "bad ref key")
	}
	r.m[ns+"\x00"+key] = value
	r.puts++
	return nil
}

func (r *memRefs) GetRef(_ context.Context, ns, key string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[ns+"\x00"+key]
	if !ok {
		return "", conversation.ErrNotFound
	}
	return v, nil
}

func (r *memRefs) get(ns, key string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[ns+"\x00"+key]
	return v, ok
}

func (r *memRefs) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// recEngine records what the adapter hands it. handle and act, when set,
// answer instead of the default (nil error).
type recEngine struct {
	mu     sync.Mutex
	msgs   []conversation.Message
	acts   []conversation.AgentAction
	handle func(ctx context.Context, m conversation.Message) (conversation.Result, error)
	act    func(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

func (e *recEngine) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	e.mu.Lock()
	e.msgs = append(e.msgs, m)
	h := e.handle
	e.mu.Unlock()
	if h != nil {
		return h(ctx, m)
	}
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

func (e *recEngine) Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error) {
	e.mu.Lock()
	e.acts = append(e.acts, a)
	h := e.act
	e.mu.Unlock()
	if h != nil {
		return h(ctx, a)
	}
	return conversation.Result{Phase: conversation.PhaseAgentActive}, nil
}

func (e *recEngine) messages() []conversation.Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]conversation.Message(nil), e.msgs...)
}

func (e *recEngine) actions() []conversation.AgentAction {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]conversation.AgentAction(nil), e.acts...)
}

// refsStore is what the adapter keeps its references in.
type refsStore interface {
	PutRef(ctx context.Context, namespace, key, value string, ttl time.Duration) error
	GetRef(ctx context.Context, namespace, key string) (string, error)
}

// harness is an adapter wired to the fake Bot Framework, a recording
// engine and refs (in memory unless given), its handler served on a
// loopback port.
type harness struct {
	fake     *botframework.Server
	clock    *fakeClock
	eng      *recEngine
	refs     *memRefs // the refs in memory; nil with newHarnessOn
	cfg      teams.Config
	adapter  *teams.Adapter
	endpoint string

	mu     sync.Mutex
	delays []time.Duration // retry waits the connector chose
}

// newHarness starts the fake and the adapter. configure may change the
// adapter's Config before New.
func newHarness(tb testing.TB, configure func(*teams.Config)) *harness {
	tb.Helper()
	m := newMemRefs()
	h := newHarnessOn(tb, m, configure)
	h.refs = m
	return h
}

// newHarnessOn is newHarness with the adapter's references in rf.
func newHarnessOn(tb testing.TB, rf refsStore, configure func(*teams.Config)) *harness {
	tb.Helper()
	rec := &recEngine{}
	h := newHarnessWith(tb, rf, rec, configure)
	h.eng = rec
	return h
}

// teamsEngine is what the adapter hands messages to.
type teamsEngine interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
	Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

// newHarnessWith is newHarnessOn with engine eng (h.eng stays nil).
func newHarnessWith(tb testing.TB, rf refsStore, eng teamsEngine, configure func(*teams.Config)) *harness {
	tb.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	fake, err := botframework.Start(botframework.Config{Now: clock.Now})
	if err != nil {
		tb.Fatalf("start fake: %v", err)
	}
	tb.Cleanup(func() { _ = fake.Close() })
	h := &harness{fake: fake, clock: clock}
	fc := fake.Config()
	h.cfg = teams.Config{
		AppID:             fc.AppID,
		AppPassword:       fc.AppPassword,
		OpenIDMetadataURL: fake.MetadataURL(),
		TokenURL:          fake.TokenURL(),
		StaffServiceURL:   fake.ServiceURL(),
		StaffChannelID:    staffChannelID,
		StaffTenantID:     fc.TenantID,
		TypingDelay:       -1,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:               clock.Now,
	}
	if configure != nil {
		configure(&h.cfg)
	}
	a, err := teams.New(h.cfg, eng, rf)
	if err != nil {
		tb.Fatalf("teams.New: %v", err)
	}
	h.adapter = a
	teams.SetSleep(a, func(_ context.Context, d time.Duration) error {
		h.mu.Lock()
		h.delays = append(h.delays, d)
		h.mu.Unlock()
		return nil
	})
	srv := httptest.NewServer(a.Handler())
	tb.Cleanup(func() {
		srv.Close()
		_ = a.Close()
	})
	h.endpoint = srv.URL + "/api/messages"
	return h
}

func (h *harness) retryDelays() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.delays...)
}

// deliver signs and posts act; it returns the HTTP status.
func (h *harness) deliver(tb testing.TB, act botframework.Activity) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	status, err := h.fake.Deliver(ctx, h.endpoint, act)
	if err != nil {
		tb.Fatalf("deliver: %v", err)
	}
	return status
}

// post sends body with an Authorization header; it returns the status.
func (h *harness) post(tb testing.TB, authorization string, body []byte) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	status, _, err := botframework.Post(ctx, h.endpoint, authorization, body)
	if err != nil {
		tb.Fatalf("post: %v", err)
	}
	return status
}

// token signs a token for the fake's service URL with c's changes.
func (h *harness) token(tb testing.TB, c botframework.Claims) string {
	tb.Helper()
	if c.ServiceURL == "" {
		c.ServiceURL = h.fake.ServiceURL()
	}
	tok, err := h.fake.SignToken(c)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return tok
}

// waitActivity waits for a recorded activity that matches.
func (h *harness) waitActivity(tb testing.TB, what string, match func(botframework.Recorded) bool) botframework.Recorded {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := h.fake.WaitActivity(ctx, match)
	if err != nil {
		tb.Fatalf("waiting for %s: %v", what, err)
	}
	return r
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

// personalKey is the conversation key of u's personal chat with the bot.
func (h *harness) personalKey(u botframework.User) string {
	return teams.ConversationKey(h.fake.Config().TenantID, botframework.PersonalConversationID(u))
}
