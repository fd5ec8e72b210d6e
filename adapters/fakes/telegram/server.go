// Package telegram is a local fake of the Telegram Bot API, for tests and
// offline demos of the Telegram adapter. It speaks the real wire protocol:
// POST (or GET) /bot<token>/<method> with multipart/form-data,
// application/x-www-form-urlencoded, JSON or query parameters, answers of
// the form {"ok":true,"result":…} or {"ok":false,"error_code":…,
// "description":…,"parameters":{"retry_after":…}} with the matching HTTP
// status, and 401 Unauthorized for a wrong token.
//
// Methods: getMe, getUpdates (offsets confirm earlier updates; long
// polling blocks until an update is queued or the timeout passes; a second
// poller ends the first with 409), setWebhook, deleteWebhook,
// getWebhookInfo, sendMessage, editMessageText, answerCallbackQuery,
// sendChatAction, getFile (and downloads under /file/bot<token>/<path>),
// createForumTopic. Requests are checked like Telegram does: unknown
// chats, missing topics, malformed HTML in parse_mode HTML, texts over
// 4096 characters, callback_data over 64 bytes and unknown callback query
// ids are rejected with Telegram's error codes.
//
// Tests drive it with Enqueue/EnqueueMessage/Click (updates a bot
// receives), InjectError (409 conflicts, 429 with retry_after, 5xx) and
// read what the bot did with Sent, WaitSent, ChatActions, CallbackAnswers
// and Topics. WebhookRequest and PostUpdate deliver an update to a webhook
// handler with the secret token header, as Telegram does.
package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot/models"
)

// Defaults of Config.
const (
	DefaultToken       = "123456789:AAFakeTokenForTier0Tests_abcdefghij"
	DefaultBotUsername = "tier0_test_bot"
	DefaultMaxLongPoll = 50 * time.Second
	maxBodyBytes       = 20 << 20
	maxTextLen         = 4096 // UTF-16 code units after entity parsing
	maxCallbackData    = 64
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// Token is the bot token the server accepts (default DefaultToken).
	Token string
	// BotUsername is the bot's @username without the @ (default
	// DefaultBotUsername). The bot id is the token's number.
	BotUsername string
	// BotFirstName is the bot's display name (default "Tier0 Test Bot").
	BotFirstName string
	// MaxLongPoll caps the timeout of one getUpdates call (default 50s).
	MaxLongPoll time.Duration
}

func (c Config) withDefaults() Config {
	if c.Token == "" {
		c.Token = DefaultToken
	}
	if c.BotUsername == "" {
		c.BotUsername = DefaultBotUsername
	}
	if c.BotFirstName == "" {
		c.BotFirstName = "Tier0 Test Bot"
	}
	if c.MaxLongPoll <= 0 {
		c.MaxLongPoll = DefaultMaxLongPoll
	}
	return c
}

// Server is the fake Bot API. It is an http.Handler; Start also runs it on
// a loopback port. All methods are safe for concurrent use.
type Server struct {
	cfg   Config
	botID int64
	http  *httptest.Server

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change (broadcast)

	// updates
	nextUpdateID int64
	queue        []queued
	allowed      []string
	poll         *poller // the getUpdates call waiting now, if any
	webhookURL   string
	webhookSec   string
	delivered    map[int64]int
	offsets      []int64

	// chats and what the bot did
	chats     map[int64]*chat
	blocked   map[int64]bool
	callbacks map[string]bool
	files     map[string]file
	sent      []SentMessage
	actions   []ChatAction
	answers   []CallbackAnswer
	topics    []Topic
	faults    map[string][]Fault
	calls     map[string]int
	nextQuery int
}

type queued struct {
	id   int64
	kind string // "message", "callback_query", …: for allowed_updates
	raw  json.RawMessage
}

type poller struct{ kicked chan struct{} }

type chat struct {
	info     models.Chat
	nextMsg  int
	messages map[int]bool
	threads  map[int]bool
}

type file struct {
	path    string
	content []byte
}

// NewServer returns a fake Bot API handler; serve it yourself or use Start.
func NewServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	id, _ := strconv.ParseInt(strings.SplitN(cfg.Token, ":", 2)[0], 10, 64)
	return &Server{
		cfg:          cfg,
		botID:        id,
		changed:      make(chan struct{}),
		nextUpdateID: 100000,
		delivered:    make(map[int64]int),
		chats:        make(map[int64]*chat),
		blocked:      make(map[int64]bool),
		callbacks:    make(map[string]bool),
		files:        make(map[string]file),
		faults:       make(map[string][]Fault),
		calls:        make(map[string]int),
	}
}

// Start returns a fake Bot API listening on a loopback port. Close it when
// done.
func Start(cfg Config) *Server {
	s := NewServer(cfg)
	s.http = httptest.NewServer(s)
	return s
}

// URL is the base URL to give a bot client (bot.WithServerURL, the
// adapter's APIURL); empty when the server was not started with Start.
func (s *Server) URL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL
}

// Close stops a server started with Start, ending waiting long polls.
func (s *Server) Close() {
	s.mu.Lock()
	if s.poll != nil {
		close(s.poll.kicked)
		s.poll = nil
	}
	s.mu.Unlock()
	if s.http != nil {
		s.http.CloseClientConnections()
		s.http.Close()
	}
}

// Token returns the accepted bot token.
func (s *Server) Token() string { return s.cfg.Token }

// BotID returns the bot's user id (the number before the token's colon).
func (s *Server) BotID() int64 { return s.botID }

// BotUsername returns the bot's username without the @.
func (s *Server) BotUsername() string { return s.cfg.BotUsername }

// Bot returns the bot as a models.User, e.g. as the author of a message a
// user replies to.
func (s *Server) Bot() models.User {
	return models.User{ID: s.botID, IsBot: true, FirstName: s.cfg.BotFirstName, Username: s.cfg.BotUsername}
}

// notify wakes everyone waiting for a change. Callers hold s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Fault is an error the server answers instead of running a method.
type Fault struct {
	Code        int    // HTTP status and error_code, e.g. 409, 429, 500
	Description string // e.g. "Too Many Requests: retry after 1"
	RetryAfter  int    // seconds, sent as parameters.retry_after when > 0
	// After lets this many calls of the method succeed before the fault
	// hits (e.g. After: 1 fails the second part of a split message).
	After int
}

// InjectError makes the next call of method (case-insensitive, e.g.
// "getUpdates", "sendMessage") fail with f. Several injected faults of one
// method are used in order, one per call.
func (s *Server) InjectError(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := strings.ToLower(method)
	s.faults[m] = append(s.faults[m], f)
}

// Conflict is the 409 Telegram answers a getUpdates call when another one
// takes over.
func Conflict() Fault {
	return Fault{Code: http.StatusConflict, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
}

// TooManyRequests is Telegram's 429 flood-control answer.
func TooManyRequests(retryAfter int) Fault {
	return Fault{Code: http.StatusTooManyRequests, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}

// Calls returns how many requests for method (case-insensitive) arrived
// with the right token, including failed ones.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.ToLower(method)]
}

// apiError is a Bot API error answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func (e *apiError) Error() string { return e.desc }

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

type response struct {
	OK          bool            `json:"ok"`
	Result      any             `json:"result,omitempty"`
	ErrorCode   int             `json:"error_code,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  *responseParams `json:"parameters,omitempty"`
}

type responseParams struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

func writeResult(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(response{OK: true, Result: result})
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	r := response{ErrorCode: e.code, Description: e.desc}
	if e.retryAfter > 0 {
		r.Parameters = &responseParams{RetryAfter: e.retryAfter}
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(r)
}

// method is one Bot API method: it reads its parameters and returns the
// result or an *apiError.
type method func(s *Server, ctx context.Context, p params) (any, error)

var methods = map[string]method{
	"getme":               (*Server).getMe,
	"getupdates":          (*Server).getUpdates,
	"setwebhook":          (*Server).setWebhook,
	"deletewebhook":       (*Server).deleteWebhook,
	"getwebhookinfo":      (*Server).getWebhookInfo,
	"sendmessage":         (*Server).sendMessage,
	"editmessagetext":     (*Server).editMessageText,
	"answercallbackquery": (*Server).answerCallbackQuery,
	"sendchataction":      (*Server).sendChatAction,
	"getfile":             (*Server).getFile,
	"createforumtopic":    (*Server).createForumTopic,
}

// ServeHTTP serves /bot<token>/<method> and /file/bot<token>/<path>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, r, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
		return
	}
	token, name, ok := strings.Cut(rest, "/")
	if !ok || token != s.cfg.Token {
		writeError(w, &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"})
		return
	}
	name = strings.ToLower(name)
	m, ok := methods[name]
	if !ok {
		writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found: method not found"})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, &apiError{code: http.StatusMethodNotAllowed, desc: "Method Not Allowed"})
		return
	}
	s.mu.Lock()
	s.calls[name]++
	var fault *Fault
	if fs := s.faults[name]; len(fs) > 0 {
		if fs[0].After > 0 {
			fs[0].After--
		} else {
			fault = &fs[0]
			s.faults[name] = fs[1:]
		}
	}
	s.mu.Unlock()
	if fault != nil {
		writeError(w, &apiError{code: fault.Code, desc: fault.Description, retryAfter: fault.RetryAfter})
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, mErr := m(s, r.Context(), p)
	if mErr != nil {
		if ae, ok := mErr.(*apiError); ok {
			writeError(w, ae)
			return
		}
		writeError(w, &apiError{code: http.StatusInternalServerError, desc: "Internal Server Error: " + mErr.Error()})
		return
	}
	writeResult(w, res)
}

func (s *Server) getMe(_ context.Context, _ params) (any, error) {
	u := s.Bot()
	u.CanJoinGroups = true
	return u, nil
}
