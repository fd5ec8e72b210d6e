package whatsappcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// maxGraphResponse bounds a Graph API answer read into memory.
const maxGraphResponse = 1 << 20

// Sentinel errors of Send, matched with errors.Is.
var (
	// ErrOutsideWindow: Meta refused a free-form message because the
	// shopper last wrote more than 24 hours ago (error 131047). Only an
	// approved template message may be sent then; this adapter sends none,
	// so an agent reply after 24 hours is dropped with this error.
	ErrOutsideWindow = &conversation.Error{Code: conversation.Conflict,
		Message: "whatsapp: the 24-hour customer service window is closed (error 131047); only an approved template message can reach this shopper now"}
	// ErrAccessToken: Meta rejected the access token (error 190: invalid,
	// expired or revoked). Every send fails until the token is replaced.
	ErrAccessToken = &conversation.Error{Code: conversation.Unauthorized,
		Message: "whatsapp: the Graph API access token was rejected (error 190); renew the system-user token"}
)

// graphClient makes the adapter's Graph API calls.
type graphClient struct {
	base    string // {APIURL}/{version}
	phoneID string
	token   string
	http    *http.Client
}

// graphError is a failed Graph API call: the HTTP status and Meta's error
// object, {"error":{"message","type","code","error_subcode","fbtrace_id"}}.
type graphError struct {
	Status     int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string
	FBTraceID  string
	RetryAfter time.Duration
}

func (e *graphError) Error() string {
	s := fmt.Sprintf("graph api: HTTP %d", e.Status)
	if e.Code != 0 {
		s += fmt.Sprintf(", error %d", e.Code)
		if e.Subcode != 0 {
			s += fmt.Sprintf("/%d", e.Subcode)
		}
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Details != "" {
		s += " (" + e.Details + ")"
	}
	if e.FBTraceID != "" {
		s += " [fbtrace_id " + e.FBTraceID + "]"
	}
	return s
}

// graphErrorBody is the JSON of a Graph API error answer.
type graphErrorBody struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

// call makes one Graph API request with the bearer token and decodes a
// 2xx JSON answer into out (nil: ignore it). A non-2xx answer is a
// *graphError; a transport failure is returned wrapped as is.
func (g *graphClient) call(ctx context.Context, method, u string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return conversation.Errorf(conversation.Invalid, "encode graph request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "build graph request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("graph api %s %s: %w", method, redactPath(u), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphResponse))
	if err != nil {
		return fmt.Errorf("read graph api answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ge := &graphError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
		var eb graphErrorBody
		if json.Unmarshal(raw, &eb) == nil {
			ge.Code, ge.Subcode, ge.Type = eb.Error.Code, eb.Error.Subcode, eb.Error.Type
			ge.Message, ge.Details, ge.FBTraceID = clip(eb.Error.Message, 300), clip(eb.Error.ErrorData.Details, 300), clip(eb.Error.FBTraceID, 64)
		}
		return ge
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode graph api answer: %w", err)
	}
	return nil
}

// redactPath drops the query of u for logs.
func redactPath(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// clip shortens s to at most n bytes for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP
// date, capped at an hour; 0 when absent or malformed.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Hour)
}

// sendResponse is Graph's answer to POST /{phone-number-id}/messages.
type sendResponse struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// sendMessage posts one message and returns its wamid.
func (g *graphClient) sendMessage(ctx context.Context, m *outMessage) (string, error) {
	var res sendResponse
	if err := g.call(ctx, http.MethodPost, g.base+"/"+g.phoneID+"/messages", m, &res); err != nil {
		return "", err
	}
	if len(res.Messages) == 0 || res.Messages[0].ID == "" {
		return "", conversation.Errorf(conversation.Unavailable, "graph api accepted the message but returned no message id")
	}
	return res.Messages[0].ID, nil
}

// markRead marks an inbound message read, with a typing indicator when
// typing is set.
func (g *graphClient) markRead(ctx context.Context, messageID string, typing bool) error {
	req := readRequest{MessagingProduct: "whatsapp", Status: "read", MessageID: messageID}
	if typing {
		req.TypingIndicator = &typingIndicator{Type: "text"}
	}
	return g.call(ctx, http.MethodPost, g.base+"/"+g.phoneID+"/messages", req, nil)
}

// readRequest is the body that marks a message read.
type readRequest struct {
	MessagingProduct string           `json:"messaging_product"`
	Status           string           `json:"status"`
	MessageID        string           `json:"message_id"`
	TypingIndicator  *typingIndicator `json:"typing_indicator,omitempty"`
}

type typingIndicator struct {
	Type string `json:"type"`
}

// Codes of Graph API errors the adapter tells apart.
const (
	codeTemporary1      = 1
	codeTemporary2      = 2
	codeAppRateLimit    = 4
	codeAccessToken     = 190
	codeAccountRate     = 80007
	codeThroughput      = 130429
	codeGenericTemp     = 131000
	codeServiceDown     = 131016
	codeReengagement    = 131047
	codePairRateLimit   = 131056
	codeServerTempUnavl = 133004
)

// pairRateLimitWait is how long to wait after error 131056 when Meta
// does not say: WhatsApp allows about one message per six seconds to one
// shopper after a burst.
const pairRateLimitWait = 6 * time.Second

// classify maps a Graph API failure to the error Send returns:
// Unavailable (retryable, with RetryAfterError when a delay is known),
// ErrOutsideWindow, ErrAccessToken, or a permanent Invalid error.
func (a *Adapter) classify(err error, what string) error {
	var ge *graphError
	if !errors.As(err, &ge) {
		if code := conversation.ErrorCode(err); code != conversation.Internal {
			return fmt.Errorf("%s: %w", what, err)
		}
		// Transport failures and timeouts: retry.
		return conversation.Errorf(conversation.Unavailable, "%s: %w", what, err)
	}
	retryable := func(after time.Duration) error {
		e := conversation.Errorf(conversation.Unavailable, "%s: %w", what, ge)
		if ge.RetryAfter > 0 {
			after = ge.RetryAfter
		}
		if after > 0 {
			return &conversation.RetryAfterError{After: after, Err: e}
		}
		return e
	}
	switch ge.Code {
	case codeReengagement:
		return fmt.Errorf("%s: %w: %w", what, ErrOutsideWindow, ge)
	case codeAccessToken:
		a.log.Error("WhatsApp Cloud API rejected the access token: every message fails until TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN is renewed",
			"graph_code", ge.Code, "graph_subcode", ge.Subcode, "fbtrace_id", ge.FBTraceID)
		return fmt.Errorf("%s: %w: %w", what, ErrAccessToken, ge)
	case codePairRateLimit:
		return retryable(pairRateLimitWait)
	case codeAppRateLimit, codeAccountRate, codeThroughput:
		return retryable(0)
	case codeTemporary1, codeTemporary2, codeGenericTemp, codeServiceDown, codeServerTempUnavl:
		return retryable(0)
	}
	switch {
	case ge.Status == http.StatusTooManyRequests || ge.Status >= 500:
		return retryable(0)
	case ge.Status == http.StatusUnauthorized:
		a.log.Error("WhatsApp Cloud API answered 401: check the access token", "graph_code", ge.Code, "fbtrace_id", ge.FBTraceID)
		return fmt.Errorf("%s: %w: %w", what, ErrAccessToken, ge)
	}
	return conversation.Errorf(conversation.Invalid, "%s: %w", what, ge)
}

// Media is what the Graph API tells about an uploaded media object.
type Media struct {
	ID       string
	URL      string // short-lived download URL; needs the access token
	MIMEType string
	SHA256   string
	FileSize int64
}

// mediaResponse is Graph's answer to GET /{media-id}.
type mediaResponse struct {
	ID       string          `json:"id"`
	URL      string          `json:"url"`
	MIMEType string          `json:"mime_type"`
	SHA256   string          `json:"sha256"`
	FileSize json.RawMessage `json:"file_size"`
}

// MediaID returns the media id of an attachment URL made by this adapter
// ("wacloud-media:<id>"), and whether u is one.
func MediaID(u string) (string, bool) {
	id, ok := strings.CutPrefix(u, MediaURLPrefix)
	if !ok || !validMediaID(id) {
		return "", false
	}
	return id, true
}

// validMediaID reports whether s is a plausible Graph media id: 1..128
// letters, digits, '-' or '_' (it goes into a URL path).
func validMediaID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ResolveMedia looks up the download URL and type of a media object by
// its id (GET /{version}/{media-id}); the URL expires after a few minutes
// and needs the access token, so resolve it only when needed. mediaID may
// also be an attachment URL "wacloud-media:<id>". Errors: Invalid for a
// malformed id or one Meta does not know, Unavailable, ErrAccessToken.
func (a *Adapter) ResolveMedia(ctx context.Context, mediaID string) (Media, error) {
	if id, ok := MediaID(mediaID); ok {
		mediaID = id
	}
	if !validMediaID(mediaID) {
		return Media{}, conversation.Errorf(conversation.Invalid, "whatsapp media id %q is malformed", clip(mediaID, 40))
	}
	var res mediaResponse
	if err := a.graph.call(ctx, http.MethodGet, a.graph.base+"/"+mediaID, nil, &res); err != nil {
		return Media{}, a.classify(err, "resolve whatsapp media "+mediaID)
	}
	m := Media{ID: mediaID, URL: res.URL, MIMEType: res.MIMEType, SHA256: res.SHA256}
	if len(res.FileSize) > 0 {
		m.FileSize, _ = strconv.ParseInt(strings.Trim(string(res.FileSize), `"`), 10, 64)
	}
	if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Media{}, conversation.Errorf(conversation.Unavailable, "graph api returned no usable URL for media %s", mediaID)
	}
	return m, nil
}

// MaxMediaBytes bounds a download by OpenMedia (WhatsApp's own limit for
// documents is 100 MB).
const MaxMediaBytes = 100 << 20

// OpenMedia resolves mediaID and opens its content for reading; the
// caller closes it. The access token is sent only to Meta's media hosts
// (and to the configured APIURL's host, for the fake). Errors: those of
// ResolveMedia, Invalid for a URL on another host, Unavailable.
func (a *Adapter) OpenMedia(ctx context.Context, mediaID string) (io.ReadCloser, Media, error) {
	m, err := a.ResolveMedia(ctx, mediaID)
	if err != nil {
		return nil, Media{}, err
	}
	if !a.trustedMediaHost(m.URL) {
		return nil, Media{}, conversation.Errorf(conversation.Invalid, "media %s is on a host that is not Meta's; not sending the access token there", m.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, Media{}, conversation.Errorf(conversation.Invalid, "media %s: %w", m.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.graph.token)
	resp, err := a.graph.http.Do(req)
	if err != nil {
		return nil, Media{}, conversation.Errorf(conversation.Unavailable, "download media %s: %w", m.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		code := conversation.Invalid
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			code = conversation.Unavailable
		}
		return nil, Media{}, conversation.Errorf(code, "download media %s: HTTP %d", m.ID, resp.StatusCode)
	}
	return readCloser{Reader: io.LimitReader(resp.Body, MaxMediaBytes), Closer: resp.Body}, m, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// trustedMediaHost reports whether the access token may be sent to u.
func (a *Adapter) trustedMediaHost(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	if base, err := url.Parse(a.cfg.APIURL); err == nil && strings.EqualFold(base.Host, p.Host) && base.Scheme == p.Scheme {
		return true
	}
	host := strings.ToLower(p.Hostname())
	if p.Scheme != "https" {
		return false
	}
	for _, d := range []string{"fbsbx.com", "facebook.com", "whatsapp.net", "fbcdn.net"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}
