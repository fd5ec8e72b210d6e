// Package botframework is a local stand-in for the Microsoft Bot Framework
// as a Teams bot sees it: the OpenID metadata document and signing keys
// that inbound tokens are checked against, the Azure AD token endpoint that
// hands a bot its outbound access token, and the Bot Connector REST API the
// bot posts its messages to. It lets the Teams adapter be tested (and
// demonstrated) without a network, a tenant or an Azure bot registration.
//
// # Endpoints
//
//	GET  /v1/.well-known/openidconfiguration               OpenID metadata ({"issuer","jwks_uri",…})
//	GET  /v1/.well-known/keys                              JWKS: the current RSA signing key, with endorsements
//	POST /{tenant}/oauth2/v2.0/token                       client_credentials grant (form: client_id, client_secret, scope)
//	POST /v3/conversations                                 create a conversation (a new reply chain in a channel)
//	POST /v3/conversations/{conversationId}/activities     send an activity to a conversation
//	POST /v3/conversations/{conversationId}/activities/{activityId}   reply to an activity
//
// The connector endpoints require "Authorization: Bearer <token>" with an
// unexpired access token the token endpoint issued (401 otherwise), bound
// request bodies (413), and answer errors the way the connector does:
// {"error":{"code","message"}}. [Server.FailNext] makes the next connector
// calls answer 429 with Retry-After, 412, 502 or any other status.
// [Server.RevokeTokens] makes every issued token invalid, as when a token
// expires early; [Server.RotateKey] replaces the signing key and its kid.
//
// Every activity the bot posts is recorded ([Server.Activities],
// [Server.WaitActivity]); [Recorded.Card] decodes an Adaptive Card
// attachment for assertions.
//
// # Acting as the Bot Framework towards a bot
//
// [Server.SignToken] signs a real RS256 token as the Bot Framework does
// (iss, aud, serviceurl, nbf, exp, kid in the header). [Server.Deliver]
// signs and POSTs an inbound activity to a bot's messaging endpoint;
// [Server.PersonalMessage], [Server.ChannelMessage] and [Server.Submit]
// build the activities Teams sends for a personal chat, a channel post that
// @mentions the bot, and an Adaptive Card Action.Submit click.
package botframework

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
)

// Config describes the fake bot registration and tenant. Zero values take
// the defaults.
type Config struct {
	AppID       string // Microsoft App ID of the bot (default "00000000-0000-4000-8000-0000000b0700")
	AppPassword string // its client secret (default "fake-bot-secret")
	BotName     string // the bot's display name, as in <at>BotName</at> (default "tier0")
	TenantID    string // tenant of the users and channels (default "00000000-0000-4000-8000-00000000a11c")
	// Issuer is the iss of the tokens the fake signs and of its metadata
	// document (default "https://api.botframework.com").
	Issuer string
	// TokenTTL is the lifetime of the access tokens the token endpoint
	// issues (default 1h); expires_in says so.
	TokenTTL time.Duration
	// Endorsements are the channel ids the signing key is endorsed for
	// (default ["msteams"]).
	Endorsements []string
	// KeyBits is the RSA key size (default 2048).
	KeyBits int
	// MaxBodyBytes bounds request bodies (default 256 KiB).
	MaxBodyBytes int64
	// Now is the clock for token lifetimes (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.AppID, "00000000-0000-4000-8000-0000000b0700")
	def(&c.AppPassword, "fake-bot-secret")
	def(&c.BotName, "tier0")
	def(&c.TenantID, "00000000-0000-4000-8000-00000000a11c")
	def(&c.Issuer, "https://api.botframework.com")
	if c.TokenTTL <= 0 {
		c.TokenTTL = time.Hour
	}
	if len(c.Endorsements) == 0 {
		c.Endorsements = []string{"msteams"}
	}
	if c.KeyBits <= 0 {
		c.KeyBits = 2048
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 256 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Recorded is one activity the bot posted to the connector.
type Recorded struct {
	Seq int // 1, 2, … in order of arrival
	// ConversationID is the conversation it was posted to; for a
	// conversation the post created, the new id ("<channel>;messageid=<ID>").
	ConversationID string
	// ReplyTo is the activity id from the path of a reply
	// (…/activities/{activityId}), else the activity's replyToId.
	ReplyTo string
	// Created is true for the first activity of a conversation created
	// with POST /v3/conversations; ChannelID is then the channel it was
	// created in and Tenant the tenant given.
	Created   bool
	ChannelID string
	Tenant    string
	ID        string // the activity id the fake assigned
	Activity  Activity
	Raw       json.RawMessage
	At        time.Time
}

// fault is an injected failure for the next connector calls.
type fault struct {
	times      int
	status     int
	retryAfter string
}

// Server is the fake Bot Framework. It is an http.Handler; [Start] serves
// it on a loopback port. Safe for concurrent use.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu          sync.Mutex
	key         *rsa.PrivateKey
	kid         string
	keyGen      int
	tokens      map[string]time.Time // access token → expiry
	tokenReqs   int
	metaFetches int
	keyFetches  int
	faults      []*fault
	recorded    []Recorded
	connCalls   int
	seq         int64
	changed     chan struct{} // closed and replaced on every change
	listener    net.Listener
	http        *http.Server
	url         string
}

var _ http.Handler = (*Server)(nil)

// New returns a fake for cfg with a fresh RSA signing key. Serve it
// yourself (it is an http.Handler) or use [Start]. Errors: key generation.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		tokens:  make(map[string]time.Time),
		changed: make(chan struct{}),
		seq:     1700000000000,
	}
	if _, err := s.RotateKey(); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/.well-known/openidconfiguration", s.metadata)
	m.HandleFunc("GET /v1/.well-known/keys", s.keys)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	m.HandleFunc("POST /v3/conversations", s.connector(s.createConversation))
	m.HandleFunc("POST /v3/conversations/{conversationId}/activities", s.connector(s.sendActivity))
	m.HandleFunc("POST /v3/conversations/{conversationId}/activities/{activityId}", s.connector(s.sendActivity))
	s.mux = m
	return s, nil
}

// Start serves a new fake on a loopback port. Close it when done.
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("botframework fake: listen: %w", err)
	}
	s.mu.Lock()
	s.listener = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	srv := s.http
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// Close stops a server made by [Start].
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.http
	s.notifyLocked()
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// Config returns the effective configuration (with defaults).
func (s *Server) Config() Config { return s.cfg }

// URL returns the base URL of a server made by [Start] ("" otherwise).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// MetadataURL is the OpenID metadata document's URL: the bot's
// OpenIDMetadataURL.
func (s *Server) MetadataURL() string { return s.URL() + "/v1/.well-known/openidconfiguration" }

// TokenURL is the token endpoint for the bot's (multi-tenant) registration.
func (s *Server) TokenURL() string { return s.URL() + "/botframework.com/oauth2/v2.0/token" }

// ServiceURL is the connector's base URL as activities carry it in
// serviceUrl (with the trailing slash Teams sends).
func (s *Server) ServiceURL() string { return s.URL() + "/" }

// ServeHTTP serves the endpoints listed in the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// FailNext makes the next times connector calls answer status (e.g. 429,
// 412, 502) with an error body, and with "Retry-After: retryAfter" when
// retryAfter is not empty. Faults queue up in the order they were added.
func (s *Server) FailNext(status, times int, retryAfter string) {
	s.mu.Lock()
	s.faults = append(s.faults, &fault{times: times, status: status, retryAfter: retryAfter})
	s.mu.Unlock()
}

// RevokeTokens makes every access token issued so far invalid: the next
// connector call with one answers 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// TokenRequests returns how many access tokens the token endpoint issued.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// KeyFetches returns how often the metadata document and the JWKS were
// fetched.
func (s *Server) KeyFetches() (metadata, keys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metaFetches, s.keyFetches
}

// ConnectorCalls returns how many connector requests arrived (failed ones
// included).
func (s *Server) ConnectorCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connCalls
}

// Activities returns a copy of every activity recorded so far, in order.
func (s *Server) Activities() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.recorded...)
}

// InConversation returns the recorded activities posted to conversation
// id, in order.
func (s *Server) InConversation(id string) []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Recorded
	for _, r := range s.recorded {
		if r.ConversationID == id {
			out = append(out, r)
		}
	}
	return out
}

// WaitActivity waits until a recorded activity satisfies match (checked
// again after every change) and returns the first that does. Errors:
// ctx's error.
func (s *Server) WaitActivity(ctx context.Context, match func(Recorded) bool) (Recorded, error) {
	for {
		s.mu.Lock()
		for _, r := range s.recorded {
			if match(r) {
				s.mu.Unlock()
				return r, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Recorded{}, fmt.Errorf("botframework fake: no matching activity: %w", ctx.Err())
		case <-ch:
		}
	}
}

// notifyLocked wakes the waiters; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextIDLocked returns a fresh activity id (numeric, as Teams channel
// message ids are); s.mu must be held.
func (s *Server) nextIDLocked() string {
	s.seq++
	return strconv.FormatInt(s.seq, 10)
}

// NextID returns a fresh activity id.
func (s *Server) NextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextIDLocked()
}

// apiError answers the connector's error shape.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readBody reads a bounded request body; it answers 413 or 400 itself and
// returns ok == false then.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, "MessageSizeTooBig", "the request body is too large")
		return nil, false
	case err != nil:
		apiError(w, http.StatusBadRequest, "BadArgument", "the request body could not be read")
		return nil, false
	}
	return b, true
}

// randomToken returns an opaque random string with prefix.
func randomToken(prefix string) string { return prefix + rand.Text() }

// connector wraps a connector endpoint: bearer check, injected faults and
// the bounded body.
func (s *Server) connector(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.connCalls++
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		exp, known := s.tokens[strings.TrimSpace(tok)]
		authorized := ok && known && s.cfg.Now().Before(exp)
		var f *fault
		if authorized && len(s.faults) > 0 {
			f = s.faults[0]
			if f.times--; f.times <= 0 {
				s.faults = s.faults[1:]
			}
		}
		s.mu.Unlock()
		if !authorized {
			apiError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
			return
		}
		if f != nil {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			apiError(w, f.status, "ServiceError", http.StatusText(f.status))
			return
		}
		body, ok := s.readBody(w, r)
		if !ok {
			return
		}
		h(w, r, body)
	}
}

// conversationParameters is the body of POST /v3/conversations.
type conversationParameters struct {
	IsGroup     bool                    `json:"isGroup"`
	Bot         *schema.ChannelAccount  `json:"bot,omitempty"`
	Members     []schema.ChannelAccount `json:"members,omitempty"`
	TopicName   string                  `json:"topicName,omitempty"`
	TenantID    string                  `json:"tenantId,omitempty"`
	Activity    json.RawMessage         `json:"activity,omitempty"`
	ChannelData *ChannelData            `json:"channelData,omitempty"`
}

func (s *Server) createConversation(w http.ResponseWriter, _ *http.Request, body []byte) {
	var p conversationParameters
	if err := json.Unmarshal(body, &p); err != nil {
		apiError(w, http.StatusBadRequest, "BadArgument", "malformed conversation parameters: "+err.Error())
		return
	}
	if p.ChannelData == nil || p.ChannelData.Channel == nil || p.ChannelData.Channel.ID == "" {
		apiError(w, http.StatusBadRequest, "BadArgument", "channelData.channel.id is required to start a channel conversation")
		return
	}
	tenant := p.TenantID
	if p.ChannelData.Tenant != nil && p.ChannelData.Tenant.ID != "" {
		tenant = p.ChannelData.Tenant.ID
	}
	if tenant != s.cfg.TenantID {
		apiError(w, http.StatusForbidden, "Forbidden", "the bot is not installed in tenant "+tenant)
		return
	}
	if len(p.Activity) == 0 {
		apiError(w, http.StatusBadRequest, "BadArgument", "an activity is required to start a channel conversation")
		return
	}
	a, err := checkActivity(p.Activity)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadArgument", err.Error())
		return
	}
	s.mu.Lock()
	id := s.nextIDLocked()
	conv := p.ChannelData.Channel.ID + ";messageid=" + id
	s.recordLocked(Recorded{ConversationID: conv, Created: true, ChannelID: p.ChannelData.Channel.ID, Tenant: tenant, ID: id, Activity: a, Raw: p.Activity})
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": conv, "activityId": id, "serviceUrl": s.ServiceURL()})
}

func (s *Server) sendActivity(w http.ResponseWriter, r *http.Request, body []byte) {
	conv := r.PathValue("conversationId")
	if conv == "" {
		apiError(w, http.StatusBadRequest, "BadArgument", "conversation id is required")
		return
	}
	a, err := checkActivity(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadArgument", err.Error())
		return
	}
	replyTo := r.PathValue("activityId")
	if replyTo == "" {
		replyTo = a.ReplyToID
	}
	s.mu.Lock()
	id := s.nextIDLocked()
	s.recordLocked(Recorded{ConversationID: conv, ReplyTo: replyTo, ID: id, Activity: a, Raw: body})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Server) recordLocked(r Recorded) {
	r.Seq = len(s.recorded) + 1
	r.At = s.cfg.Now()
	s.recorded = append(s.recorded, r)
	s.notifyLocked()
}

// checkActivity decodes an outbound activity and checks it the way the
// connector does: a known type, something to show for a message, well
// formed Adaptive Cards.
func checkActivity(raw []byte) (Activity, error) {
	var a Activity
	if err := json.Unmarshal(raw, &a); err != nil {
		return Activity{}, fmt.Errorf("malformed activity: %v", err)
	}
	switch a.Type {
	case "message":
		if strings.TrimSpace(a.Text) == "" && len(a.Attachments) == 0 {
			return Activity{}, errors.New("a message activity needs text or attachments")
		}
	case "typing":
	default:
		return Activity{}, fmt.Errorf("activity type %q is not supported", a.Type)
	}
	for i, at := range a.Attachments {
		if at.ContentType != ContentTypeAdaptiveCard {
			continue
		}
		c, err := decodeCard(at.Content)
		if err != nil {
			return Activity{}, fmt.Errorf("attachment %d: %v", i, err)
		}
		if c.Type != "AdaptiveCard" || c.Version == "" {
			return Activity{}, fmt.Errorf("attachment %d: an Adaptive Card needs type AdaptiveCard and a version", i)
		}
	}
	return a, nil
}
