package webchat_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
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

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// waitLimit bounds every wait in these tests so a bug fails the test
// instead of hanging it; it is a safety net, not a speed assertion.
const waitLimit = 30 * time.Second

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

// fakeHistory is a HistoryReader over conversations held in memory.
type fakeHistory struct {
	mu    sync.Mutex
	convs map[string]*conversation.Conversation
	err   error
}

func (f *fakeHistory) Load(_ context.Context, key string) (*conversation.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	c, ok := f.convs[key]
	if !ok {
		return nil, conversation.ErrNotFound
	}
	cp := *c
	cp.History = append([]conversation.Turn(nil), c.History...)
	return &cp, nil
}

func (f *fakeHistory) put(c *conversation.Conversation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.convs[c.Key] = c
}

func (f *fakeHistory) append(key string, turns ...conversation.Turn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.convs[key]
	if c == nil {
		c = &conversation.Conversation{Key: key, Channel: conversation.ChannelWebChat}
		f.convs[key] = c
	}
	c.History = append(c.History, turns...)
}

// fakeEngine records the messages it is handed and answers each new one at
// once through the adapter's Send, as the dispatcher would after a commit.
type fakeEngine struct {
	sender  conversation.Sender
	hist    *fakeHistory
	got     chan conversation.Message
	citeURL string // the link of the first citation; set before use

	mu   sync.Mutex
	err  error
	seen map[string]bool
}

func (f *fakeEngine) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

var feedbackButtons = []conversation.Button{
	{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
	{Action: conversation.Action{ID: conversation.ActionHuman, Value: "now"}, Label: "Talk to a person"},
}

func (f *fakeEngine) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	f.got <- m
	f.mu.Lock()
	err, dup := f.err, f.seen[m.ConversationKey+"\x00"+m.DedupeKey]
	if err == nil {
		f.seen[m.ConversationKey+"\x00"+m.DedupeKey] = true
	}
	f.mu.Unlock()
	if err != nil {
		return conversation.Result{}, err
	}
	if dup {
		return conversation.Result{Duplicate: true}, nil
	}
	o := conversation.Outbound{
		ID:              "o_" + m.DedupeKey,
		ConversationKey: m.ConversationKey,
		Channel:         m.Channel,
		Recipient:       m.User.ID,
		Kind:            conversation.KindAnswer,
		Text:            "To reset your VPN, open the portal.",
		Citations: []conversation.Citation{
			{Title: "VPN guide", Source: "docs/it/vpn.md", URL: f.citeURL, Section: "Reset"},
			{Title: "Unsafe link", Source: "docs/x.md", URL: "javascript:alert(1)"},
		},
		Buttons:   feedbackButtons,
		InReplyTo: m.DedupeKey,
		CreatedAt: m.ReceivedAt,
	}
	if m.Action != nil {
		o.Kind, o.Text, o.Citations, o.Buttons = conversation.KindNotice, "Thanks for the feedback.", nil, nil
	}
	f.hist.append(m.ConversationKey,
		conversation.Turn{Role: conversation.RoleCustomer, Text: m.Text, At: m.ReceivedAt, MessageID: m.DedupeKey, Action: m.Action},
		conversation.Turn{Role: conversation.RoleBot, Text: o.Text, At: o.CreatedAt, MessageID: o.ID, Kind: o.Kind, Citations: o.Citations})
	if err := f.sender.Send(ctx, o); err != nil {
		return conversation.Result{}, err
	}
	return conversation.Result{Phase: conversation.PhaseBot, Outbound: []conversation.Outbound{o}}, nil
}

// next returns the next message the engine was handed.
func (f *fakeEngine) next(tb testing.TB) conversation.Message {
	tb.Helper()
	select {
	case m := <-f.got:
		return m
	case <-time.After(waitLimit):
		tb.Fatal("the handler received no message")
		return conversation.Message{}
	}
}

// harness is an adapter behind an httptest server with a fake engine,
// history and clock.
type harness struct {
	srv   *httptest.Server
	a     *webchat.Adapter
	eng   *fakeEngine
	hist  *fakeHistory
	clock *fakeClock
	logs  *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (slog handlers).
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

func newHarness(tb testing.TB, configure func(*webchat.Config)) *harness {
	tb.Helper()
	h := &harness{
		hist:  &fakeHistory{convs: make(map[string]*conversation.Conversation)},
		clock: &fakeClock{t: time.Now().Truncate(time.Second)},
		logs:  &syncBuffer{},
	}
	h.eng = &fakeEngine{hist: h.hist, got: make(chan conversation.Message, 256), seen: make(map[string]bool), citeURL: "https://docs.example/vpn"}
	cfg := webchat.Config{Secret: testSecret, Now: h.clock.Now, Title: "Northwind IT help"}
	if configure != nil {
		configure(&cfg)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := webchat.New(cfg, h.eng, h.hist, log)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	h.a, h.eng.sender = a, a
	h.srv = httptest.NewServer(a.Handler())
	tb.Cleanup(func() {
		a.Close() // ends the event streams, which would hold up srv.Close
		h.srv.Close()
	})
	return h
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; token, when set, goes into the Authorization header.
func (h *harness) do(tb testing.TB, method, path, token, body string, header ...string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read %s %s: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

type sessionInfo struct {
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// session starts a web chat session.
func (h *harness) session(tb testing.TB) sessionInfo {
	tb.Helper()
	res := h.do(tb, http.MethodPost, "/api/webchat/sessions", "", "")
	if res.status != http.StatusCreated {
		tb.Fatalf("create session: status %d, body %s", res.status, res.body)
	}
	var s sessionInfo
	res.json(tb, &s)
	if s.SessionID == "" || s.Token == "" {
		tb.Fatalf("create session: incomplete answer %s", res.body)
	}
	return s
}

func messagesPath(id string) string { return "/api/webchat/sessions/" + id + "/messages" }
func eventsPath(id string) string   { return "/api/webchat/sessions/" + id + "/events" }
func historyPath(id string) string  { return "/api/webchat/sessions/" + id + "/history" }

// wantError checks that res is a JSON error with the given status and code.
func wantError(tb testing.TB, res response, status int, code string) {
	tb.Helper()
	if res.status != status {
		tb.Fatalf("status = %d, want %d (body %s)", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	res.json(tb, &body)
	if body.Error.Code != code {
		tb.Errorf("error code = %q, want %q (body %s)", body.Error.Code, code, res.body)
	}
	if body.Error.Message == "" {
		tb.Errorf("error message is empty (body %s)", res.body)
	}
}

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	id, event, data string
	comments        []string
}

// stream is an open event stream.
type stream struct {
	res *http.Response
	r   *bufio.Reader
}

// openEvents opens the session's event stream with the token in the query
// (as EventSource sends it) or, with viaHeader, in the Authorization header.
func (h *harness) openEvents(tb testing.TB, s sessionInfo, viaHeader bool) *stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	tb.Cleanup(cancel)
	url := h.srv.URL + eventsPath(s.SessionID) + "?token=" + s.Token
	if viaHeader {
		url = h.srv.URL + eventsPath(s.SessionID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if viaHeader {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("open events: %v", err)
	}
	tb.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		tb.Fatalf("open events: status %d, body %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		tb.Fatalf("events Content-Type = %q, want text/event-stream", ct)
	}
	return &stream{res: res, r: bufio.NewReader(res.Body)}
}

// next reads up to the end of the next event or comment block.
func (s *stream) next(tb testing.TB) sseEvent {
	tb.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			tb.Fatalf("read event stream: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			return ev
		case strings.HasPrefix(line, ":"):
			ev.comments = append(ev.comments, strings.TrimSpace(line[1:]))
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
}

// nextMessage skips comments and returns the next message event.
func (s *stream) nextMessage(tb testing.TB) sseEvent {
	tb.Helper()
	for {
		if ev := s.next(tb); ev.event != "" || ev.data != "" {
			return ev
		}
	}
}
