// Package agentconsole is the web agent console, the embedded default
// staff channel: human agents log in, watch the ticket queue, read a
// handed-off conversation (internal notes included) with the bot's
// suggested reply, and claim, reply, note, resolve or hand back.
//
// Routes served by [Console.Handler], with full paths so the server
// mounts it at "/console/" without stripping the prefix:
//
//	GET  /console/                                  the console page (plus console.js, console.css)
//	GET  /console/analytics                         the analytics page (plus analytics.js)
//	POST /console/api/login                         {username,password} → {"csrf_token","name","username"}, sets the session cookie
//	POST /console/api/logout                        ends the session (X-CSRF-Token)
//	GET  /console/api/session                       {"csrf_token","name","username"} of the current session
//	GET  /console/api/tickets?team=&status=         the queue, most urgent first
//	GET  /console/api/tickets/{key}[?suggest=0]     one ticket's conversation for agents (+ suggested reply)
//	POST /console/api/tickets/{key}/actions         {kind,text,action_id} (X-CSRF-Token)
//	POST /console/api/tickets/{key}/draft           save the ticket's answer as a draft FAQ card (X-CSRF-Token)
//	GET  /console/api/stream                        server-sent events: "changed" {"queue","tickets":[tag…]} when the queue or a ticket changed
//	GET  /console/api/analytics?days=N              the help desk figures of the last N days (default 7)
//
// Live updates: the console is a conversation.EventSink (feed it the
// engine's events) and tells open streams about changes on this
// replica at once; changes made on other replicas are noticed by
// checking the queue every QueueCheckInterval while streams are open:
// its version when Deps.Queue is a conversation.QueueVersioner (the
// queue itself is read only when that moved), else the whole queue.
// Tickets are named on the stream by an opaque tag (the "tag" of a
// ticket's response), never by conversation key.
//
// The session is a cookie holding an HMAC-signed statement of the
// username and expiry; the CSRF token is an HMAC of that cookie. Every
// error is JSON: {"error":{"code":"…","message":"…"}}.
package agentconsole

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation"
)

// Queue reads tickets and conversations: the conversation.Store. When it
// is also a conversation.QueueVersioner, the live streams' check for
// changes made by other replicas reads just the version until it moves.
type Queue interface {
	// Tickets returns the queue. Errors: Invalid, Unavailable.
	Tickets(ctx context.Context, q conversation.TicketQuery) ([]conversation.TicketSummary, error)
	// Load returns a conversation. Errors: NotFound, Unavailable.
	Load(ctx context.Context, key string) (*conversation.Conversation, error)
}

// Agents carries out agent actions and drafts replies: the
// conversation.Engine.
type Agents interface {
	// Act applies an agent action. Errors: Invalid, NotFound, Conflict, Unavailable.
	Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
	// SuggestReply drafts a reply. Errors: NotFound, Invalid, Unavailable.
	SuggestReply(ctx context.Context, key string) (conversation.Answer, error)
}

// Deps are the ports the console works through.
type Deps struct {
	Queue  Queue
	Agents Agents
	// Drafts, when set, saves a resolved ticket's answer as a draft FAQ
	// card for review (POST …/tickets/{key}/draft).
	Drafts Drafts
	// Analytics, when set, serves the analytics page's figures; without
	// it the page says analytics is not configured.
	Analytics Analytics
}

// Drafts turns a conversation into a draft FAQ card and returns where it
// was written. Errors: NotFound, Invalid (nothing to draft from).
type Drafts interface {
	SaveDraft(ctx context.Context, key string) (string, error)
}

// Limits on configuration values and requests.
const (
	MinSecretLen      = 32
	MaxUsernameLen    = 64
	MaxNameLen        = 100
	MaxTeamLen        = 100
	MaxActionIDLen    = 128
	MaxPasswordLen    = 72 // bcrypt uses at most 72 bytes
	DefaultQueueLimit = 200
)

// Account is one agent who may log in.
type Account struct {
	// Username is the login name and the agent id on tickets:
	// 1..64 of A-Z a-z 0-9 . _ @ -.
	Username string
	// Name is shown to customers ("Ada has joined the conversation").
	Name string
	// PasswordHash is a bcrypt hash (e.g. from `htpasswd -nbB` or
	// bcrypt.GenerateFromPassword).
	PasswordHash string
	// Teams limits the agent to tickets of these teams; empty means all.
	Teams []string
}

// Config configures the console. Zero values take the defaults; Secret
// and at least one account are required.
type Config struct {
	Accounts []Account
	// Secret signs sessions and CSRF tokens, at least 32 bytes. Every
	// replica must use the same one; changing it ends all sessions.
	Secret []byte
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// MaxBodyBytes bounds request bodies (default 16 KiB); larger → 413.
	MaxBodyBytes int64
	// LoginsPerMinute bounds login attempts per client IP (default 10).
	LoginsPerMinute int
	// SecureCookie sets the Secure attribute on the session cookie even
	// when the request did not come over TLS (behind a TLS proxy).
	SecureCookie bool
	// StreamHeartbeat is the interval of comment lines on idle live
	// update streams, which also re-checks the session (default 15s).
	StreamHeartbeat time.Duration
	// QueueCheckInterval is how often, while live streams are open, the
	// queue (or only its version, when Deps.Queue is a
	// conversation.QueueVersioner) is compared with its last state to
	// notice changes made by other replicas (default 5s; negative turns
	// the check off, for a single replica).
	QueueCheckInterval time.Duration
	// MaxStreamsPerAgent bounds one agent's open live streams, e.g. tabs
	// (default 5); one more is answered 429.
	MaxStreamsPerAgent int
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 10
	}
	if c.LoginsPerMinute == 0 {
		c.LoginsPerMinute = 10
	}
	if c.StreamHeartbeat == 0 {
		c.StreamHeartbeat = 15 * time.Second
	}
	if c.QueueCheckInterval == 0 {
		c.QueueCheckInterval = 5 * time.Second
	}
	if c.MaxStreamsPerAgent == 0 {
		c.MaxStreamsPerAgent = 5
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration. It returns an Invalid error naming
// the first problem: a short Secret, no or malformed accounts (bad
// username, name, team or a password hash that is not bcrypt), duplicate
// usernames, out-of-range numbers.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "agent console config: "+format, args...)
	}
	switch {
	case len(c.Secret) < MinSecretLen:
		return inv("Secret must be at least %d bytes (got %d)", MinSecretLen, len(c.Secret))
	case len(c.Accounts) == 0:
		return inv("at least one account is required")
	case c.SessionTTL < 0 || c.SessionTTL > 0 && (c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour):
		return inv("SessionTTL must be between 1m and 720h")
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && (c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<20):
		return inv("MaxBodyBytes must be between 1 KiB and 1 MiB")
	case c.LoginsPerMinute < 0 || c.LoginsPerMinute > 1000:
		return inv("LoginsPerMinute must be between 0 (default) and 1000")
	case c.StreamHeartbeat < 0 || c.StreamHeartbeat > 0 && (c.StreamHeartbeat < 10*time.Millisecond || c.StreamHeartbeat > 5*time.Minute):
		return inv("StreamHeartbeat must be between 10ms and 5m")
	case c.QueueCheckInterval > 0 && (c.QueueCheckInterval < 10*time.Millisecond || c.QueueCheckInterval > time.Hour):
		return inv("QueueCheckInterval must be between 10ms and 1h (negative: off)")
	case c.MaxStreamsPerAgent < 0 || c.MaxStreamsPerAgent > 100:
		return inv("MaxStreamsPerAgent must be between 0 (default) and 100")
	}
	seen := make(map[string]bool)
	for i, a := range c.Accounts {
		switch {
		case !validUsername(a.Username):
			return inv("account %d: username must be 1..%d of A-Z a-z 0-9 . _ @ -", i, MaxUsernameLen)
		case seen[a.Username]:
			return inv("account %q appears twice", a.Username)
		case !printable(a.Name, MaxNameLen):
			return inv("account %q: name must be 1..%d printable characters", a.Username, MaxNameLen)
		}
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			return inv("account %q: password hash is not a bcrypt hash", a.Username)
		}
		for _, t := range a.Teams {
			if !printable(t, MaxTeamLen) {
				return inv("account %q: team names must be 1..%d printable characters", a.Username, MaxTeamLen)
			}
		}
		seen[a.Username] = true
	}
	return nil
}

func validUsername(s string) bool { return isWord(s, MaxUsernameLen, "._@-") }

func validActionID(s string) bool { return isWord(s, MaxActionIDLen, "-_.:") }

// isWord reports whether s is 1..max bytes of ASCII letters, digits and
// the bytes in extra.
func isWord(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// printable reports whether s is 1..max characters of valid UTF-8
// without control characters.
func printable(s string, max int) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Console is the web agent console.
type Console struct {
	cfg      Config
	queue    Queue
	agents   Agents
	drafts   Drafts
	stats    Analytics
	live     *liveHub
	log      *slog.Logger
	accounts []Account
	auth     authenticator
	assets   map[string]asset
}

// New returns a console over deps. log may be nil (slog.Default).
// Errors: Invalid for a bad Config or missing deps; Internal when the
// embedded page cannot be read.
func New(cfg Config, deps Deps, log *slog.Logger) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Queue == nil || deps.Agents == nil {
		return nil, conversation.Errorf(conversation.Invalid, "agent console: Deps.Queue and Deps.Agents are required")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg:      cfg,
		queue:    deps.Queue,
		agents:   deps.Agents,
		drafts:   deps.Drafts,
		stats:    deps.Analytics,
		log:      log.With("component", "agentconsole"),
		accounts: slices.Clone(cfg.Accounts),
		auth:     auth,
		assets:   assets,
	}
	c.live = newLiveHub(c)
	return c, nil
}

// Prefix is the path the console's routes start with.
const Prefix = "/console/"

const apiPrefix = Prefix + "api/"

// Handler returns the HTTP handler of the page and the API (routes in the
// package documentation); mount it at Prefix with full paths.
func (c *Console) Handler() http.Handler { return http.HandlerFunc(c.serveHTTP) }

// pageCSP allows only the console's own script and style.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// endpoint is one route; csrf marks state-changing routes that need the
// X-CSRF-Token header, auth those that need a session.
type endpoint struct {
	method string
	auth   bool
	csrf   bool
	serve  func(c *Console, w http.ResponseWriter, r *http.Request, s *session, key string) error
}

// route finds the endpoint of r's (escaped) path and the unescaped
// conversation key in it, if any.
func route(escaped string) (endpoint, string, error) {
	switch escaped {
	case Prefix, Prefix + "console.js", Prefix + "console.css", Prefix + "analytics", Prefix + "analytics.js":
		return endpoint{method: http.MethodGet, serve: (*Console).serveAsset}, "", nil
	case apiPrefix + "login":
		return endpoint{method: http.MethodPost, serve: (*Console).login}, "", nil
	case apiPrefix + "logout":
		return endpoint{method: http.MethodPost, auth: true, csrf: true, serve: (*Console).logout}, "", nil
	case apiPrefix + "session":
		return endpoint{method: http.MethodGet, auth: true, serve: (*Console).sessionInfo}, "", nil
	case apiPrefix + "tickets":
		return endpoint{method: http.MethodGet, auth: true, serve: (*Console).tickets}, "", nil
	case apiPrefix + "stream":
		return endpoint{method: http.MethodGet, auth: true, serve: (*Console).stream}, "", nil
	case apiPrefix + "analytics":
		return endpoint{method: http.MethodGet, auth: true, serve: (*Console).analyticsReport}, "", nil
	}
	rest, ok := strings.CutPrefix(escaped, apiPrefix+"tickets/")
	if !ok {
		return endpoint{}, "", errNotFound
	}
	raw, sub, _ := strings.Cut(rest, "/")
	key, err := url.PathUnescape(raw)
	if err != nil || !printable(key, conversation.MaxKeyLen) || len(key) > conversation.MaxKeyLen {
		return endpoint{}, "", &apiError{Status: http.StatusBadRequest, Code: "invalid",
			Msg: fmt.Sprintf("the conversation key must be 1..%d printable characters, URL-escaped", conversation.MaxKeyLen)}
	}
	switch sub {
	case "":
		if strings.HasSuffix(rest, "/") {
			return endpoint{}, "", errNotFound
		}
		return endpoint{method: http.MethodGet, auth: true, serve: (*Console).ticket}, key, nil
	case "actions":
		return endpoint{method: http.MethodPost, auth: true, csrf: true, serve: (*Console).act}, key, nil
	case "draft":
		return endpoint{method: http.MethodPost, auth: true, csrf: true, serve: (*Console).draft}, key, nil
	}
	return endpoint{}, "", errNotFound
}

var errNotFound = &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: "no such page or endpoint"}

func (c *Console) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", pageCSP)
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	ep, key, err := route(r.URL.EscapedPath())
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	if r.Method != ep.method && !(r.Method == http.MethodHead && ep.method == http.MethodGet) {
		c.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Msg: "this endpoint accepts " + ep.method, Allow: ep.method})
		return
	}
	var s *session
	if ep.auth {
		if s, err = c.auth.authenticate(r, ep.csrf); err != nil {
			c.writeError(w, r, err)
			return
		}
	}
	if err := ep.serve(c, w, r, s, key); err != nil {
		c.writeError(w, r, err)
	}
}

// account returns the account of a username, nil when there is none.
func (c *Console) account(username string) *Account {
	for i := range c.accounts {
		if c.accounts[i].Username == username {
			return &c.accounts[i]
		}
	}
	return nil
}

// mayWork reports whether acc works on team's tickets.
func mayWork(acc *Account, team string) bool {
	return len(acc.Teams) == 0 || slices.Contains(acc.Teams, team)
}

var knownStatuses = []string{conversation.TicketOpen, conversation.TicketInProgress, conversation.TicketResolved, conversation.TicketClosed}

// queueResponse is the body of GET /console/api/tickets.
type queueResponse struct {
	Tickets []conversation.TicketSummary `json:"tickets"`
}

func (c *Console) tickets(w http.ResponseWriter, r *http.Request, s *session, _ string) error {
	q := r.URL.Query()
	var statuses []string
	if st := q.Get("status"); st != "" {
		for v := range strings.SplitSeq(st, ",") {
			if !slices.Contains(knownStatuses, v) {
				return &apiError{Status: http.StatusBadRequest, Code: "invalid",
					Msg: "status must be a comma-separated list of " + strings.Join(knownStatuses, ", ")}
			}
			statuses = append(statuses, v)
		}
	}
	team := q.Get("team")
	if team != "" && !printable(team, MaxTeamLen) {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Msg: "team must be a printable name"}
	}
	acc := s.account
	if team != "" && !mayWork(acc, team) {
		return &apiError{Status: http.StatusForbidden, Code: "forbidden", Msg: "you do not work on this team's tickets"}
	}
	teams := []string{team}
	if team == "" && len(acc.Teams) > 0 {
		teams = acc.Teams
	}
	out := []conversation.TicketSummary{}
	for _, t := range teams {
		got, err := c.queue.Tickets(r.Context(), conversation.TicketQuery{Team: t, Statuses: statuses, Limit: DefaultQueueLimit})
		if err != nil {
			return fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, got...)
	}
	conversation.SortQueue(out)
	httpjson.Write(w, http.StatusOK, queueResponse{Tickets: out})
	return nil
}

// ticketResponse is the body of GET /console/api/tickets/{key}.
type ticketResponse struct {
	ConversationKey string                `json:"conversation_key"`
	Channel         conversation.Channel  `json:"channel"`
	Customer        conversation.Identity `json:"customer"`
	Phase           conversation.Phase    `json:"phase"`
	// Language is the customer's (ISO 639-1, "" when not known) and
	// LanguageName its English name for the page: agent replies are not
	// translated.
	Language     string                   `json:"language,omitempty"`
	LanguageName string                   `json:"language_name,omitempty"`
	Ticket       conversation.TicketState `json:"ticket"`
	History      []conversation.Turn      `json:"history"`
	Slots        []conversation.Slot      `json:"slots"`
	// Tag names the ticket on the live update stream.
	Tag             string      `json:"tag"`
	Suggestion      *suggestion `json:"suggestion,omitempty"`
	SuggestionError string      `json:"suggestion_error,omitempty"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// suggestion is the drafted reply shown to the agent.
type suggestion struct {
	Text      string                  `json:"text"`
	Citations []conversation.Citation `json:"citations,omitempty"`
	Confident bool                    `json:"confident"`
}

// loadTicket loads key's conversation for acc: NotFound when it does not
// exist or has no ticket, Forbidden when the ticket is another team's.
func (c *Console) loadTicket(ctx context.Context, acc *Account, key string) (*conversation.Conversation, error) {
	conv, err := c.queue.Load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("load conversation %s: %w", key, err)
	}
	if conv.TicketState == nil {
		return nil, &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: "this conversation has no ticket"}
	}
	if !mayWork(acc, conv.TicketState.Team) {
		return nil, &apiError{Status: http.StatusForbidden, Code: "forbidden", Msg: "this ticket belongs to a team you do not work on"}
	}
	return conv, nil
}

func (c *Console) ticket(w http.ResponseWriter, r *http.Request, s *session, key string) error {
	conv, err := c.loadTicket(r.Context(), s.account, key)
	if err != nil {
		return err
	}
	resp := ticketResponse{
		ConversationKey: conv.Key, Channel: conv.Channel, Customer: conv.User, Phase: conv.Phase,
		Ticket: *conv.TicketState, History: conv.History, Slots: conv.Slots, UpdatedAt: conv.UpdatedAt,
		Tag: c.auth.ticketTag(conv.Key),
	}
	if conv.Language != "" {
		resp.Language, resp.LanguageName = conv.Language, conversation.LanguageName(conv.Language)
	}
	if resp.History == nil {
		resp.History = []conversation.Turn{}
	}
	if resp.Slots == nil {
		resp.Slots = []conversation.Slot{}
	}
	// Only for a ticket an agent still works on, never fatal, and skipped
	// with ?suggest=0 (the page's polling) because drafting may be costly.
	if conv.Phase.HumanOwned() && r.URL.Query().Get("suggest") != "0" {
		if a, err := c.agents.SuggestReply(r.Context(), key); err != nil {
			c.log.Debug("no suggested reply", "conversation", key, "err", err)
			resp.SuggestionError = conversation.ErrorMessage(err)
		} else if strings.TrimSpace(a.Text) != "" {
			resp.Suggestion = &suggestion{Text: a.Text, Citations: a.Citations, Confident: a.Confident}
		}
	}
	httpjson.Write(w, http.StatusOK, resp)
	return nil
}

// actionRequest is the body of POST …/actions.
type actionRequest struct {
	Kind     conversation.AgentActionKind `json:"kind"`
	Text     string                       `json:"text"`
	ActionID string                       `json:"action_id"`
}

// actionResponse is the answer to an action: the conversation's phase
// after it and whether it had been applied before.
type actionResponse struct {
	Phase     conversation.Phase `json:"phase"`
	Duplicate bool               `json:"duplicate"`
}

func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session, key string) error {
	var req actionRequest
	if err := decodeJSON(w, r, c.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	if !validActionID(req.ActionID) {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid",
			Msg: fmt.Sprintf("action_id is required: 1..%d of A-Z a-z 0-9 - _ . :", MaxActionIDLen)}
	}
	if _, err := c.loadTicket(r.Context(), s.account, key); err != nil {
		return err
	}
	a := conversation.AgentAction{
		ConversationKey: key,
		DedupeKey:       req.ActionID,
		Agent:           conversation.Identity{ID: s.account.Username, DisplayName: s.account.Name},
		Kind:            req.Kind,
		Text:            req.Text,
	}
	// An action goes through even when the agent closes the tab.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	res, err := c.agents.Act(ctx, a)
	if err != nil {
		return fmt.Errorf("agent %s action %s on %s: %w", a.Agent.ID, a.Kind, key, err)
	}
	c.log.Info("agent action", "conversation", key, "agent", a.Agent.ID, "kind", string(a.Kind), "duplicate", res.Duplicate)
	httpjson.Write(w, http.StatusOK, actionResponse{Phase: res.Phase, Duplicate: res.Duplicate})
	return nil
}

// draft saves the ticket's answer as a draft FAQ card.
func (c *Console) draft(w http.ResponseWriter, r *http.Request, s *session, key string) error {
	if c.drafts == nil {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: "saving FAQ drafts is not configured"}
	}
	if _, err := c.loadTicket(r.Context(), s.account, key); err != nil {
		return err
	}
	path, err := c.drafts.SaveDraft(r.Context(), key)
	if err != nil {
		return fmt.Errorf("draft FAQ card from %s: %w", key, err)
	}
	c.log.Info("FAQ draft saved", "conversation", key, "agent", s.account.Username, "path", path)
	httpjson.Write(w, http.StatusOK, map[string]string{"draft": path})
	return nil
}

// toAPIError maps any error to an HTTP answer: *apiError passes through,
// conversation codes map Invalid → 400, Unauthorized → 401, NotFound →
// 404, Conflict → 409, Unavailable (and timeouts) → 503, the rest → 500.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Status: http.StatusServiceUnavailable, Code: "timeout", Msg: msgBusy, RetryAfter: 2 * time.Second, Err: err}
	}
	switch conversation.ErrorCode(err) {
	case conversation.Invalid:
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Msg: conversation.ErrorMessage(err), Err: err}
	case conversation.Unauthorized:
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: msgLogin, Err: err}
	case conversation.NotFound:
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Msg: "no such conversation", Err: err}
	case conversation.Conflict:
		return &apiError{Status: http.StatusConflict, Code: "conflict", Msg: conversation.ErrorMessage(err), Err: err}
	case conversation.Unavailable:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: msgBusy, RetryAfter: 2 * time.Second, Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Msg: "Something went wrong on our side. Please try again.", Err: err}
}

const (
	msgBusy  = "The help desk is busy right now. Please try again in a moment."
	msgLogin = "please log in"
)

// writeError answers with err as JSON and logs it (error level for 5xx).
func (c *Console) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	c.log.Log(r.Context(), level, "agent console request failed",
		"method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "err", err)
	httpjson.WriteError(w, e)
}
