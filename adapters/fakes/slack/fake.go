// Package slackfake is a local stand-in for Slack: an HTTP server that
// speaks the Slack Web API wire protocol for the methods tier0 uses, and
// Slack's Socket Mode websocket, so the Slack adapter can be tested (and
// demonstrated) without a network or a workspace.
//
// The package lives in adapters/fakes/slack; import it as
//
//	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
//
// # Web API
//
// Methods are served under /api/ (point slack-go at [Server.APIURL] with
// slack.OptionAPIURL): auth.test, chat.postMessage, chat.update,
// chat.postEphemeral, chat.delete, users.info and apps.connections.open.
// Like Slack, the fake accepts form-encoded and JSON bodies (and query
// parameters), takes the token from "Authorization: Bearer …" or the
// "token" parameter, and answers HTTP 200 with {"ok":false,"error":"…"}
// for API errors: not_authed, invalid_auth, not_allowed_token_type,
// channel_not_found, no_text, invalid_blocks, msg_too_long,
// message_not_found, cant_update_message, user_not_found,
// unknown_method. [Server.RateLimit] makes a method answer HTTP 429 with
// Retry-After (and {"ok":false,"error":"ratelimited"}), [Server.Fail]
// answers with an HTTP error status instead.
//
// Every message posted, updated or deleted is recorded with its blocks;
// [Server.Messages], [Server.WaitMessage] and [Server.Calls] are for
// assertions.
//
// # Socket Mode
//
// apps.connections.open (app-level xapp- token) returns a one-time ws://
// URL on the fake itself. The websocket sends "hello", pings the client
// every Config.PingInterval, and carries the envelopes a test injects with
// [Server.SendEnvelope] (events_api, interactive, …); the client's acks
// are recorded ([Server.WaitAck], [Server.Acks]).
//
// # Acting as Slack towards an app
//
// [Sign], [SignRequest], [Server.PostEvent] and [Server.PostInteractive]
// sign requests exactly like Slack (v0 HMAC-SHA256 over "v0:<ts>:<body>");
// [EventCallback], [URLVerification], [Server.Click], [Server.Select] and
// [MessageAction] build the payloads.
package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Config describes the fake workspace. Zero values take the defaults.
type Config struct {
	BotToken      string // default "xoxb-fake-bot-token"
	AppToken      string // default "xapp-fake-app-token"
	SigningSecret string // default "fake-signing-secret"; used by PostEvent and PostInteractive
	TeamID        string // default "T0FAKE"
	TeamName      string // default "Fake Workspace"
	BotUserID     string // default "U0BOT"
	BotID         string // default "B0BOT"
	AppID         string // default "A0APP"
	// Users are the workspace members users.info knows (the bot user is
	// added automatically).
	Users []User
	// PingInterval is how often a Socket Mode connection is pinged
	// (default 2s). slack-go's client reconnects when it hears no ping
	// for 30s.
	PingInterval time.Duration
	// MaxBodyBytes bounds Web API request bodies (default 1 MiB).
	MaxBodyBytes int64
}

func (c Config) withDefaults() Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.BotToken, "xoxb-fake-bot-token")
	def(&c.AppToken, "xapp-fake-app-token")
	def(&c.SigningSecret, "fake-signing-secret")
	def(&c.TeamID, "T0FAKE")
	def(&c.TeamName, "Fake Workspace")
	def(&c.BotUserID, "U0BOT")
	def(&c.BotID, "B0BOT")
	def(&c.AppID, "A0APP")
	if c.PingInterval <= 0 {
		c.PingInterval = 2 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	return c
}

// User is a workspace member as users.info returns it.
type User struct {
	ID          string
	Name        string // handle, e.g. "ada"
	RealName    string
	DisplayName string
	Email       string
	Locale      string // e.g. "en-US"
	IsBot       bool
}

// Message is a message the app posted, in its current state.
type Message struct {
	Method   string          // "chat.postMessage" or "chat.postEphemeral"
	Channel  string          // channel id
	TS       string          // message ts (the ephemeral message_ts for ephemeral ones)
	ThreadTS string          // thread it was posted in, "" for top level
	User     string          // recipient of an ephemeral message
	Text     string          // the text fallback
	Blocks   json.RawMessage // the blocks as posted (or as last updated); nil without blocks
	Updates  int             // how often chat.update changed it
	Deleted  bool            // removed with chat.delete
}

// Call is one Web API request as the fake received it.
type Call struct {
	Method string
	Params map[string]string
	// Error is the Slack error code answered ("" for ok, "http_<status>"
	// for an injected HTTP error or rate limit).
	Error string
}

// fault is an injected failure for the next calls of a method.
type fault struct {
	times      int
	status     int
	retryAfter int
}

// Server is the fake Slack. It is an http.Handler; [Start] serves it on a
// loopback port. Safe for concurrent use.
type Server struct {
	cfg   Config
	users map[string]User

	mu       sync.Mutex
	base     int64
	seq      int64
	messages []*Message
	calls    []Call
	faults   map[string]*fault
	changed  chan struct{} // closed and replaced on every change
	tickets  map[string]bool
	conns    []*socketConn
	acks     []string
	hellos   int
	envSeq   int
	closed   bool
	listener net.Listener
	http     *http.Server
	url      string
	upgrader websocket.Upgrader
}

// New returns a fake Slack for cfg. Serve it yourself (it is an
// http.Handler) or use [Start].
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		users:   make(map[string]User),
		base:    time.Now().Unix(),
		faults:  make(map[string]*fault),
		changed: make(chan struct{}),
		tickets: make(map[string]bool),
		upgrader: websocket.Upgrader{
			// The fake is a loopback test server; slack-go sends
			// Origin: https://api.slack.com.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	s.users[cfg.BotUserID] = User{ID: cfg.BotUserID, Name: "tier0", RealName: "tier0", DisplayName: "tier0", IsBot: true}
	for _, u := range cfg.Users {
		s.users[u.ID] = u
	}
	return s
}

// Start serves a new fake on a loopback port. Close it when done.
func Start(cfg Config) (*Server, error) {
	s := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("slackfake: listen: %w", err)
	}
	s.mu.Lock()
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Unlock()
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// Config returns the effective configuration (with defaults).
func (s *Server) Config() Config { return s.cfg }

// URL returns the base URL of a server made by [Start] ("" otherwise).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// APIURL returns the Web API base URL, with the trailing slash slack-go
// expects: pass it to slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.URL() + "/api/" }

// Close closes the Socket Mode connections and, for a server made by
// [Start], stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	srv := s.http
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return nil
}

// RateLimit makes the next times calls of method answer HTTP 429 with
// "Retry-After: retryAfter" (seconds).
func (s *Server) RateLimit(method string, times, retryAfter int) {
	s.mu.Lock()
	s.faults[method] = &fault{times: times, status: http.StatusTooManyRequests, retryAfter: retryAfter}
	s.mu.Unlock()
}

// Fail makes the next times calls of method answer with the HTTP error
// status (e.g. 503), as Slack does when it is in trouble.
func (s *Server) Fail(method string, times, status int) {
	s.mu.Lock()
	s.faults[method] = &fault{times: times, status: status}
	s.mu.Unlock()
}

// Messages returns the recorded messages (posted and ephemeral), oldest
// first, as copies.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
	}
	return out
}

// Calls returns the recorded Web API calls of method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitMessage waits until a recorded message satisfies match (checked
// again after every change) and returns it. Errors: ctx's error.
func (s *Server) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		for _, m := range s.messages {
			if match(*m) {
				cp := *m
				s.mu.Unlock()
				return cp, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("slackfake: no matching message: %w", ctx.Err())
		case <-ch:
		}
	}
}

// notifyLocked wakes the waiters; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextTSLocked returns a fresh, increasing message ts; s.mu must be held.
func (s *Server) nextTSLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.base+s.seq/1_000_000, s.seq%1_000_000)
}

// apiError is a Slack API error answer.
type apiError struct {
	code   string
	status int // HTTP status; 200 for ordinary API errors
	header http.Header
}

func slackErr(code string) *apiError { return &apiError{code: code, status: http.StatusOK} }

// tokenKind says which token a method wants.
type tokenKind int

const (
	botToken tokenKind = iota
	appToken
)

// methods maps the served Web API methods to their handlers.
var methods = map[string]struct {
	token tokenKind
	serve func(s *Server, p map[string]string) (map[string]any, *apiError)
}{
	"auth.test":             {botToken, (*Server).authTest},
	"chat.postMessage":      {botToken, (*Server).postMessage},
	"chat.postEphemeral":    {botToken, (*Server).postEphemeral},
	"chat.update":           {botToken, (*Server).update},
	"chat.delete":           {botToken, (*Server).deleteMessage},
	"users.info":            {botToken, (*Server).usersInfo},
	"apps.connections.open": {appToken, (*Server).connectionsOpen},
}

// ServeHTTP serves the Web API under /api/ and the Socket Mode websocket
// under /link/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/link") {
		s.serveSocket(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, perr := s.params(w, r)
	res, aerr := s.call(method, r, p, perr)
	s.mu.Lock()
	c := Call{Method: method, Params: p}
	if aerr != nil {
		c.Error = aerr.code
		if aerr.status != http.StatusOK {
			c.Error = "http_" + strconv.Itoa(aerr.status)
		}
	}
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()
	if aerr != nil {
		for k, v := range aerr.header {
			w.Header()[k] = v
		}
		if aerr.status >= 500 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(aerr.status)
			_, _ = io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
			return
		}
		writeJSON(w, aerr.status, map[string]any{"ok": false, "error": aerr.code})
		return
	}
	res["ok"] = true
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) call(method string, r *http.Request, p map[string]string, perr *apiError) (map[string]any, *apiError) {
	m, ok := methods[method]
	if !ok {
		return nil, slackErr("unknown_method")
	}
	s.mu.Lock()
	if f := s.faults[method]; f != nil && f.times > 0 {
		f.times--
		s.mu.Unlock()
		e := &apiError{code: "ratelimited", status: f.status, header: http.Header{}}
		if f.retryAfter > 0 {
			e.header.Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		return nil, e
	}
	s.mu.Unlock()
	if perr != nil {
		return nil, perr
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		tok = p["token"]
	}
	switch {
	case tok == "":
		return nil, slackErr("not_authed")
	case m.token == appToken && tok == s.cfg.BotToken, m.token == botToken && tok == s.cfg.AppToken:
		return nil, slackErr("not_allowed_token_type")
	case m.token == appToken && tok != s.cfg.AppToken, m.token == botToken && tok != s.cfg.BotToken:
		return nil, slackErr("invalid_auth")
	}
	return m.serve(s, p)
}

// params reads the request's parameters from the query string and a
// form-encoded or JSON body. Non-string JSON values (blocks) are kept as
// their JSON text, as Slack's form encoding carries them.
func (s *Server) params(w http.ResponseWriter, r *http.Request) (map[string]string, *apiError) {
	p := make(map[string]string)
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return p, &apiError{code: "request_too_large", status: http.StatusRequestEntityTooLarge}
		}
		return p, slackErr("invalid_form_data")
	}
	if len(body) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return p, slackErr("invalid_json")
		}
		for k, raw := range obj {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				p[k] = str
			} else {
				p[k] = string(raw)
			}
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return p, slackErr("invalid_form_data")
		}
		for k, v := range vals {
			p[k] = v[0]
		}
	}
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
