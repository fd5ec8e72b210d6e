// Package webchat is the zero-setup customer channel: a JSON HTTP API,
// live replies over Server-Sent Events, and a chat page plus an embeddable
// widget (one script tag on any site).
//
// Routes served by [Adapter.Handler]:
//
//	GET  /                                     the chat page
//	GET  /widget.js, /widget.css               the embeddable widget
//	GET  /api/webchat/config                   {"title","welcome","welcomes"}
//	POST /api/webchat/sessions                 → 201 {"session_id","token","expires_at"}
//	POST /api/webchat/sessions/{id}/messages   → 202 {"message_id"} (Authorization: Bearer)
//	GET  /api/webchat/sessions/{id}/events     SSE stream of replies (Bearer or ?token=)
//	GET  /api/webchat/sessions/{id}/history    → {"messages":[…]}
//
// Sessions are stateless: the token is a signed (HMAC-SHA256) statement of
// the session id and its expiry. Every error is JSON:
// {"error":{"code":"…","message":"…"}}.
package webchat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation"
)

// Handler handles one inbound message: the conversation.Engine.
type Handler interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
}

// HistoryReader loads a conversation for the history endpoint: the Store.
type HistoryReader interface {
	// Load returns the conversation or an error with code NotFound.
	Load(ctx context.Context, key string) (*conversation.Conversation, error)
}

// Limits on configuration values.
const (
	MinSecretLen  = 32
	maxTitleLen   = 200
	maxWelcomeLen = 2000
)

// Config configures the web chat adapter. Zero values take the defaults;
// Secret is required.
type Config struct {
	// Secret is the HMAC key that signs session tokens, at least 32 bytes.
	// Every replica must use the same one; changing it ends all sessions.
	Secret []byte
	// SessionTTL is how long a session token is valid (default 24h).
	SessionTTL time.Duration
	// MaxBodyBytes bounds request bodies (default 16 KiB); larger → 413.
	MaxBodyBytes int64
	// RatePerMinute is the sustained number of messages per session
	// (default 20); RateBurst how many may come at once (default 5).
	RatePerMinute int
	RateBurst     int
	// MaxRateBuckets bounds the rate limiter's memory (default 100000
	// sessions active within the last refill period).
	MaxRateBuckets int
	// Title is the page and panel title, e.g. "Northwind IT help".
	Title string
	// Welcome is the greeting shown first in a new chat (empty: none).
	Welcome string
	// Welcomes are the greeting in other languages, by language code; the
	// widget shows the one of the visitor's language, else Welcome.
	Welcomes map[string]string
	// AllowedOrigins are the sites (e.g. "https://shop.example") whose pages
	// may embed the widget and call the API; "*" allows any site. Default
	// none: same origin only.
	AllowedOrigins []string
	// FrameAncestors are the CSP frame-ancestors sources allowed to put the
	// chat page in a frame (default 'self').
	FrameAncestors []string
	// Heartbeat is the interval of comment lines on idle event streams
	// (default 25s), so proxies keep them open.
	Heartbeat time.Duration
	// HandleTimeout bounds one call of Handler.Handle (default 30s). The
	// turn goes on when the visitor disconnects.
	HandleTimeout time.Duration
	// Hub fans replies out to event streams (default an in-memory hub, for
	// one replica).
	Hub Hub
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SessionTTL == 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 10
	}
	if c.RatePerMinute == 0 {
		c.RatePerMinute = 20
	}
	if c.RateBurst == 0 {
		c.RateBurst = 5
	}
	if c.MaxRateBuckets == 0 {
		c.MaxRateBuckets = 100000
	}
	if c.Title == "" {
		c.Title = "Help"
	}
	if len(c.FrameAncestors) == 0 {
		c.FrameAncestors = []string{"'self'"}
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 25 * time.Second
	}
	if c.HandleTimeout == 0 {
		c.HandleTimeout = 30 * time.Second
	}
	if c.Hub == nil {
		c.Hub = NewMemoryHub(HubConfig{})
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration. It returns an Invalid error naming the
// first problem: a Secret shorter than 32 bytes, negative or out-of-range
// numbers, an over-long Title or Welcome, a malformed origin or
// frame-ancestors source.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "webchat config: "+format, args...)
	}
	switch {
	case len(c.Secret) < MinSecretLen:
		return inv("Secret must be at least %d bytes (got %d)", MinSecretLen, len(c.Secret))
	case c.SessionTTL < 0 || c.SessionTTL > 0 && (c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour):
		return inv("SessionTTL must be between 1m and 720h")
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && (c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<20):
		return inv("MaxBodyBytes must be between 1 KiB and 1 MiB")
	case c.RatePerMinute < 0 || c.RateBurst < 0 || c.MaxRateBuckets < 0:
		return inv("RatePerMinute, RateBurst and MaxRateBuckets must not be negative")
	case c.Heartbeat < 0 || c.HandleTimeout < 0:
		return inv("Heartbeat and HandleTimeout must not be negative")
	case !utf8.ValidString(c.Title) || utf8.RuneCountInString(c.Title) > maxTitleLen:
		return inv("Title must be valid text of at most %d characters", maxTitleLen)
	case !utf8.ValidString(c.Welcome) || utf8.RuneCountInString(c.Welcome) > maxWelcomeLen:
		return inv("Welcome must be valid text of at most %d characters", maxWelcomeLen)
	case len(c.Welcomes) > 50:
		return inv("Welcomes: at most 50 languages")
	}
	for l, w := range c.Welcomes {
		if conversation.BaseLanguage(l) != l || !utf8.ValidString(w) || utf8.RuneCountInString(w) > maxWelcomeLen {
			return inv("Welcomes[%q]: want a lower-case language code and valid text of at most %d characters", l, maxWelcomeLen)
		}
	}
	for _, o := range c.AllowedOrigins {
		if !validOrigin(o) {
			return inv("AllowedOrigins: %q is not an origin such as https://shop.example", o)
		}
	}
	for _, s := range c.FrameAncestors {
		if !validCSPSource(s) {
			return inv("FrameAncestors: %q is not a CSP source such as 'self' or https://intranet.example", s)
		}
	}
	return nil
}

// validOrigin accepts "*" and scheme://host[:port] with scheme http(s).
func validOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && u.Scheme+"://"+u.Host == o
}

// validCSPSource accepts one source expression without characters that
// could end the directive or the header.
func validCSPSource(s string) bool { return isWord(s, 256, "'.:/*-_") }

// Adapter is the web chat channel: it serves the HTTP API, the event
// streams and the widget, hands inbound messages to the Handler, and
// delivers replies as a conversation.Sender.
type Adapter struct {
	cfg       Config
	h         Handler
	hist      HistoryReader
	log       *slog.Logger
	hub       Hub
	tokens    signer
	limiter   *limiter
	origins   map[string]bool
	anyOrigin bool
	assets    map[string]asset
	pageCSP   string
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns an adapter that hands messages to h and reads history from
// hist. log may be nil (slog.Default). Errors: Invalid for a bad Config or
// a nil h or hist.
func New(cfg Config, h Handler, hist HistoryReader, log *slog.Logger) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil || hist == nil {
		return nil, conversation.Errorf(conversation.Invalid, "webchat: a Handler and a HistoryReader are required")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	a := &Adapter{
		cfg:     cfg,
		h:       h,
		hist:    hist,
		log:     log.With("channel", string(conversation.ChannelWebChat)),
		hub:     cfg.Hub,
		tokens:  signer{secret: append([]byte(nil), cfg.Secret...)},
		limiter: newLimiter(cfg.RatePerMinute, cfg.RateBurst, cfg.MaxRateBuckets),
		origins: make(map[string]bool),
		closing: make(chan struct{}),
		pageCSP: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
			"base-uri 'none'; form-action 'none'; frame-ancestors " + strings.Join(cfg.FrameAncestors, " "),
	}
	for _, o := range cfg.AllowedOrigins {
		a.origins[o] = true
		a.anyOrigin = a.anyOrigin || o == "*"
	}
	assets, err := loadAssets(cfg.Title)
	if err != nil {
		return nil, err
	}
	a.assets = assets
	return a, nil
}

// Handler returns the HTTP handler serving the page, the widget and the API
// (see the package documentation for the routes).
func (a *Adapter) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }

// Close ends every open event stream (the widgets reconnect, to another
// replica or after the restart) and refuses new ones with 503. Call it
// before http.Server.Shutdown, which waits for open streams otherwise, e.g.
// with server.RegisterOnShutdown. It always returns nil.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() { close(a.closing) })
	return nil
}

// endpoint is one route: the method it serves and its handler; id is the
// session id from the path, if the route has one.
type endpoint struct {
	method string
	api    bool
	serve  func(a *Adapter, w http.ResponseWriter, r *http.Request, id string) error
}

const apiPrefix = "/api/webchat/"

// route finds the endpoint of path.
func route(path string) (endpoint, string, bool) {
	switch path {
	case "/", "/widget.js", "/widget.css":
		return endpoint{method: http.MethodGet, serve: (*Adapter).serveAsset}, "", true
	case apiPrefix + "config":
		return endpoint{method: http.MethodGet, api: true, serve: (*Adapter).getConfig}, "", true
	case apiPrefix + "sessions":
		return endpoint{method: http.MethodPost, api: true, serve: (*Adapter).createSession}, "", true
	}
	rest, ok := strings.CutPrefix(path, apiPrefix+"sessions/")
	if !ok {
		return endpoint{}, "", false
	}
	id, sub, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return endpoint{}, "", false
	}
	switch sub {
	case "messages":
		return endpoint{method: http.MethodPost, api: true, serve: (*Adapter).postMessage}, id, true
	case "events":
		return endpoint{method: http.MethodGet, api: true, serve: (*Adapter).streamEvents}, id, true
	case "history":
		return endpoint{method: http.MethodGet, api: true, serve: (*Adapter).getHistory}, id, true
	}
	return endpoint{}, "", false
}

func (a *Adapter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	ep, id, ok := route(r.URL.Path)
	if !ok {
		a.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: "no such page or endpoint"})
		return
	}
	allow := ep.method
	if ep.api {
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Add("Vary", "Origin")
		if err := a.checkOrigin(w, r, ep.method); err != nil {
			a.writeError(w, r, err)
			return
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		allow += ", OPTIONS"
	} else {
		allow += ", HEAD"
	}
	if r.Method != ep.method && !(r.Method == http.MethodHead && !ep.api) {
		a.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Msg: "this endpoint accepts " + allow, Allow: allow})
		return
	}
	if err := ep.serve(a, w, r, id); err != nil {
		a.writeError(w, r, err)
	}
}

// checkOrigin enforces AllowedOrigins on API calls from browsers and adds
// the CORS headers (for preflights too). Requests without an Origin header
// and same-origin requests pass. Errors: 403 for a site not allowed.
func (a *Adapter) checkOrigin(w http.ResponseWriter, r *http.Request, method string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	if !a.anyOrigin && !a.origins[origin] {
		return &apiError{Status: http.StatusForbidden, Code: "origin_not_allowed",
			Msg: "this site may not use the chat; add it to the allowed origins"}
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", method)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	return nil
}

// authorize verifies the request's session token against the session id
// in the path. Errors: 401 for a missing, forged or expired token, 403 for
// a valid token of another session.
func (a *Adapter) authorize(r *http.Request, pathID string, allowQuery bool) (session, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && allowQuery {
		tok = r.URL.Query().Get("token")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return session{}, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "a session token is required"}
	}
	s, err := a.tokens.verify(tok, a.cfg.Now())
	if err != nil {
		return session{}, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "the session token is invalid or expired; start a new session", Err: err}
	}
	if s.ID != pathID {
		return session{}, &apiError{Status: http.StatusForbidden, Code: "forbidden", Msg: "this session token belongs to another conversation"}
	}
	return s, nil
}

// sessionResponse is the body of a 201 from POST /api/webchat/sessions.
type sessionResponse struct {
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *Adapter) createSession(w http.ResponseWriter, r *http.Request, _ string) error {
	var req sessionRequest
	if err := decodeJSON(w, r, a.cfg.MaxBodyBytes, &req, true); err != nil {
		return err
	}
	name, err := cleanName(req.Name)
	if err != nil {
		return err
	}
	loc, err := cleanLocale(req.Locale)
	if err != nil {
		return err
	}
	s := session{ID: newSessionID(), Expires: time.Unix(a.cfg.Now().Add(a.cfg.SessionTTL).Unix(), 0).UTC(), Name: name, Locale: loc}
	tok, err := a.tokens.issue(s)
	if err != nil {
		return err
	}
	a.log.Debug("webchat session started", "conversation", s.key())
	httpjson.Write(w, http.StatusCreated, sessionResponse{SessionID: s.ID, Token: tok, ExpiresAt: s.Expires})
	return nil
}

// messageResponse is the body of a 202 from POST …/messages. ExpectReply
// tells the widget whether this turn queued a reply to the visitor (false
// for a duplicate, or while a human agent owns the conversation), so it
// shows the typing indicator only when something will come.
type messageResponse struct {
	MessageID   string `json:"message_id"`
	ExpectReply bool   `json:"expect_reply"`
}

func (a *Adapter) postMessage(w http.ResponseWriter, r *http.Request, id string) error {
	s, err := a.authorize(r, id, false)
	if err != nil {
		return err
	}
	if ok, wait := a.limiter.allow(s.ID, a.cfg.Now()); !ok {
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Msg: "You are sending messages too quickly. Please wait a moment.", RetryAfter: wait}
	}
	var req messageRequest
	if err := decodeJSON(w, r, a.cfg.MaxBodyBytes, &req, false); err != nil {
		return err
	}
	m, err := normalize(s, req, a.cfg.Now())
	if err != nil {
		return err
	}
	// The turn must not be cut short by a visitor closing the tab: its reply
	// lands in the history either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.HandleTimeout)
	defer cancel()
	res, err := a.h.Handle(ctx, m)
	if err != nil && !errors.Is(err, conversation.ErrDuplicate) {
		return fmt.Errorf("handle web chat message %s of %s: %w", m.DedupeKey, m.ConversationKey, err)
	}
	a.log.Debug("webchat message accepted", "conversation", m.ConversationKey, "message_id", m.DedupeKey,
		"duplicate", res.Duplicate || err != nil)
	httpjson.Write(w, http.StatusAccepted, messageResponse{MessageID: m.DedupeKey, ExpectReply: err == nil && repliesTo(res, m.ConversationKey)})
	return nil
}

// repliesTo reports whether res holds a message for the visitor of key.
func repliesTo(res conversation.Result, key string) bool {
	for _, o := range res.Outbound {
		if o.Channel == conversation.ChannelWebChat && o.ConversationKey == key && o.Kind != conversation.KindStaff {
			return true
		}
	}
	return false
}

func (a *Adapter) getHistory(w http.ResponseWriter, r *http.Request, id string) error {
	s, err := a.authorize(r, id, false)
	if err != nil {
		return err
	}
	c, err := a.hist.Load(r.Context(), s.key())
	if err != nil && conversation.ErrorCode(err) != conversation.NotFound {
		return fmt.Errorf("load history of %s: %w", s.key(), err)
	}
	if err != nil {
		c = nil
	}
	httpjson.Write(w, http.StatusOK, wireHistory(c))
	return nil
}

// configResponse is the body of GET /api/webchat/config.
type configResponse struct {
	Title    string            `json:"title"`
	Welcome  string            `json:"welcome,omitempty"`
	Welcomes map[string]string `json:"welcomes,omitempty"`
}

func (a *Adapter) getConfig(w http.ResponseWriter, _ *http.Request, _ string) error {
	httpjson.Write(w, http.StatusOK, configResponse{Title: a.cfg.Title, Welcome: a.cfg.Welcome, Welcomes: a.cfg.Welcomes})
	return nil
}
