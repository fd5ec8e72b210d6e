package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Limits of the connector client.
const (
	maxTokenResponseBytes = 64 << 10
	maxConnectorResponse  = 1 << 20
	tokenRefreshMargin    = 5 * time.Minute
	maxTokenLifetime      = 24 * time.Hour
	baseBackoff           = 250 * time.Millisecond
)

type connectorConfig struct {
	tokenURL     string
	clientID     string
	clientSecret string
	scope        string
	http         *http.Client
	timeout      time.Duration
	maxAttempts  int
	maxWait      time.Duration
	now          func() time.Time
}

// connector is the Bot Connector REST client: bearer token, timeouts,
// retries. Safe for concurrent use.
type connector struct {
	cfg    connectorConfig
	http   *http.Client
	tokens *tokenSource
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func newConnector(cfg connectorConfig) *connector {
	return &connector{
		cfg:    cfg,
		http:   cfg.http,
		tokens: &tokenSource{cfg: cfg},
		sleep:  sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tokenSource caches the bot's access token: one fetch at a time, the
// others wait for it (or their ctx).
type tokenSource struct {
	cfg connectorConfig

	mu     sync.Mutex
	tok    string
	until  time.Time // use tok before this
	flight *tokenCall
}

type tokenCall struct {
	done chan struct{}
	tok  string
	err  error
}

// token returns a valid access token, fetching one when none is cached or
// it is about to expire. Errors: Unauthorized (credentials rejected),
// Unavailable (the endpoint failed), ctx's error.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.tok != "" && ts.cfg.now().Before(ts.until) {
		tok := ts.tok
		ts.mu.Unlock()
		return tok, nil
	}
	c := ts.flight
	leader := c == nil
	if leader {
		c = &tokenCall{done: make(chan struct{})}
		ts.flight = c
	}
	ts.mu.Unlock()
	if leader {
		// The fetch outlives a caller that gives up: the others wait for it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ts.cfg.timeout)
		tok, lifetime, err := ts.fetch(fctx)
		cancel()
		ts.mu.Lock()
		if err == nil {
			margin := min(tokenRefreshMargin, lifetime/2)
			ts.tok, ts.until = tok, ts.cfg.now().Add(lifetime-margin)
		}
		ts.flight = nil
		ts.mu.Unlock()
		c.tok, c.err = tok, err
		close(c.done)
	}
	select {
	case <-c.done:
		return c.tok, c.err
	case <-ctx.Done():
		return "", conversation.Errorf(conversation.Unavailable, "wait for the Bot Framework token: %w", ctx.Err())
	}
}

// invalidate drops tok from the cache (after the connector rejected it).
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	if ts.tok == tok {
		ts.tok = ""
	}
	ts.mu.Unlock()
}

// fetch runs the client credentials grant.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ts.cfg.clientID},
		"client_secret": {ts.cfg.clientSecret},
		"scope":         {ts.cfg.scope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.cfg.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, conversation.Errorf(conversation.Invalid, "token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := ts.cfg.http.Do(req)
	if err != nil {
		return "", 0, conversation.Errorf(conversation.Unavailable, "Bot Framework token endpoint: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTokenResponseBytes))
	if err != nil {
		return "", 0, conversation.Errorf(conversation.Unavailable, "read Bot Framework token: %w", err)
	}
	var body struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"` // a number, or a number in a string
		Error       string          `json:"error"`
	}
	_ = json.Unmarshal(b, &body)
	switch {
	case res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusUnauthorized:
		// AADSTS errors: a wrong secret or app id; retrying will not help.
		return "", 0, conversation.Errorf(conversation.Unauthorized, "Bot Framework token endpoint refused the app credentials (HTTP %d, %s)", res.StatusCode, safeCode(body.Error))
	case res.StatusCode != http.StatusOK:
		return "", 0, conversation.Errorf(conversation.Unavailable, "Bot Framework token endpoint: HTTP %d", res.StatusCode)
	case body.AccessToken == "" || len(body.AccessToken) > maxTokenResponseBytes/2:
		return "", 0, conversation.Errorf(conversation.Unavailable, "Bot Framework token endpoint answered without an access token")
	}
	secs, err := strconv.ParseInt(strings.Trim(string(body.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		return "", 0, conversation.Errorf(conversation.Unavailable, "Bot Framework token endpoint answered without a valid expires_in")
	}
	return body.AccessToken, min(time.Duration(secs)*time.Second, maxTokenLifetime), nil
}

// safeCode keeps an OAuth error code loggable: short, letters and '_'.
func safeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
}

// resourceResponse is the connector's answer to a send: the new
// activity's id.
type resourceResponse struct {
	ID string `json:"id"`
}

// conversationResource is the connector's answer to a conversation create.
type conversationResource struct {
	ID         string `json:"id"`
	ActivityID string `json:"activityId"`
	ServiceURL string `json:"serviceUrl"`
}

// conversationsURL returns {serviceURL}/v3/conversations[/{id}/activities[/{replyTo}]].
func conversationsURL(serviceURL, conversationID, replyTo string) string {
	u := strings.TrimRight(serviceURL, "/") + "/v3/conversations"
	if conversationID != "" {
		u += "/" + url.PathEscape(conversationID) + "/activities"
		if replyTo != "" {
			u += "/" + url.PathEscape(replyTo)
		}
	}
	return u
}

// sendActivity posts act to a conversation (as a reply to replyTo when
// set) and returns the new activity's id.
func (c *connector) sendActivity(ctx context.Context, serviceURL, conversationID, replyTo string, act outActivity) (string, error) {
	var res resourceResponse
	if err := c.post(ctx, conversationsURL(serviceURL, conversationID, replyTo), act, &res); err != nil {
		return "", err
	}
	return res.ID, nil
}

// createConversation starts a conversation (a new reply chain in a
// channel) with its first activity.
func (c *connector) createConversation(ctx context.Context, serviceURL string, p conversationParameters) (conversationResource, error) {
	var res conversationResource
	err := c.post(ctx, conversationsURL(serviceURL, "", ""), p, &res)
	return res, err
}

// post sends body as JSON to target with the bot's token and decodes a
// 2xx answer into out. It retries network errors and 412, 429, 500, 502,
// 503 and 504 with backoff (Retry-After honoured), and refreshes the token
// once on 401.
// Errors: Unavailable (after the retries, wrapped in a
// conversation.RetryAfterError when the platform named a delay),
// Unauthorized, NotFound, Invalid.
func (c *connector) post(ctx context.Context, target string, body, out any) error {
	if !safeEndpoint(target) {
		return conversation.Errorf(conversation.Invalid, "connector URL %q is not https", target)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "encode activity: %w", err)
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := c.try(ctx, target, payload, out, &refreshed)
		if err == nil {
			return nil
		}
		if status == 0 && ctx.Err() != nil {
			return conversation.Errorf(conversation.Unavailable, "Bot Connector: %w", ctx.Err())
		}
		if status != 0 && !retryable(status) {
			return err
		}
		wait := retryAfter
		if wait <= 0 {
			wait = backoff(attempt)
		}
		if attempt >= c.cfg.maxAttempts || wait > c.cfg.maxWait || !fitsDeadline(ctx, wait) {
			if retryAfter > 0 {
				return &conversation.RetryAfterError{After: retryAfter, Err: err}
			}
			return err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return conversation.Errorf(conversation.Unavailable, "Bot Connector retry: %w", err)
		}
	}
}

// try makes one request. status is 0 when no HTTP answer came.
func (c *connector) try(ctx context.Context, target string, payload []byte, out any, refreshed *bool) (int, time.Duration, error) {
	for {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			if conversation.ErrorCode(err) == conversation.Unavailable {
				return http.StatusServiceUnavailable, 0, err
			}
			return -1, 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
		if err != nil {
			return -1, 0, conversation.Errorf(conversation.Invalid, "connector request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := c.http.Do(req)
		if err != nil {
			return 0, 0, conversation.Errorf(conversation.Unavailable, "Bot Connector: %w", err)
		}
		b, rerr := io.ReadAll(io.LimitReader(res.Body, maxConnectorResponse))
		res.Body.Close()
		switch s := res.StatusCode; {
		case s >= 200 && s < 300:
			if rerr != nil {
				return 0, 0, conversation.Errorf(conversation.Unavailable, "read Bot Connector answer: %w", rerr)
			}
			if out != nil && len(bytes.TrimSpace(b)) > 0 {
				if err := json.Unmarshal(b, out); err != nil {
					return -1, 0, conversation.Errorf(conversation.Internal, "Bot Connector answered malformed JSON: %w", err)
				}
			}
			return s, 0, nil
		case s == http.StatusUnauthorized && !*refreshed:
			*refreshed = true
			c.tokens.invalidate(tok)
			continue
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return s, 0, conversation.Errorf(conversation.Unauthorized, "Bot Connector refused the bot (HTTP %d%s)", s, connectorCode(b))
		case s == http.StatusNotFound:
			return s, 0, conversation.Errorf(conversation.NotFound, "Bot Connector: conversation or activity not found (HTTP 404%s)", connectorCode(b))
		case retryable(s):
			return s, retryAfter(res.Header.Get("Retry-After"), c.cfg.now()), conversation.Errorf(conversation.Unavailable, "Bot Connector: HTTP %d%s", s, connectorCode(b))
		default:
			return s, 0, conversation.Errorf(conversation.Invalid, "Bot Connector rejected the activity (HTTP %d%s)", s, connectorCode(b))
		}
	}
}

// connectorCode returns ", <code>" from the connector's
// {"error":{"code":…}} body, or "".
func connectorCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		return ""
	}
	return ", " + safeCode(e.Error.Code)
}

func retryable(status int) bool {
	switch status {
	case http.StatusPreconditionFailed, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before try attempt+1: 250ms doubled per attempt,
// with up to 25% jitter.
func backoff(attempt int) time.Duration {
	d := baseBackoff << min(attempt-1, 8)
	return d + rand.N(d/4+1)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. It
// returns 0 when absent or malformed.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(h, 64); err == nil {
		if secs <= 0 || secs > 86400 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 && d <= 24*time.Hour {
			return d
		}
	}
	return 0
}

// fitsDeadline reports whether waiting d leaves ctx time for another try.
func fitsDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}
