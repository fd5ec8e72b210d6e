// Package actions runs tier0 actions against HTTP JSON back ends: the
// [HTTP] runner fills a URL and a JSON body from an action's validated
// parameters, sends the inbound message's idempotency key, bounds time
// and response size, retries only idempotent calls, picks the result
// fields from the JSON response and maps the back end's errors to the
// conversation error codes the engine turns into sentences (404 →
// NotFound, 401/403 → Unauthorized, 5xx, timeouts and unreadable answers
// → Unavailable).
//
// Actions are declared in a deployment's YAML (cmd/tier0 reads it into
// a [Config]), or in code: any [conversation.ActionRunner] works, see the
// package example.
package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Config is one HTTP back-end call. Zero values take the defaults.
type Config struct {
	// Method is GET (default), POST, PUT, PATCH or DELETE.
	Method string
	// URL is the request URL; {param} placeholders are replaced by the
	// URL-escaped parameter values, so a value can never change the host
	// or add query parameters.
	URL string
	// Header is sent with every request (secrets are put in by the
	// caller, e.g. from the environment; they are never logged).
	Header http.Header
	// Body, when set, is sent as a JSON object: each value is a template
	// whose {param} placeholders are replaced by the parameter values and
	// then JSON-encoded as a string.
	Body map[string]string
	// Timeout bounds one attempt (default 5s).
	Timeout time.Duration
	// Retries is how many times a failed idempotent call (GET, PUT,
	// DELETE, or Idempotent) is tried again on a network error, 429 or
	// 5xx (default 0, at most 5). Other calls are never retried here:
	// their retry is the inbound message's retry, with the same key.
	Retries int
	// Idempotent marks a POST or PATCH whose back end honours the
	// Idempotency-Key header, so retrying it is safe.
	Idempotent bool
	// Result maps result field names to dotted paths into the JSON
	// response ("shipment.carrier", "items.0.name").
	Result map[string]string
	// MaxResponse bounds the response body in bytes (default 64 KiB); a
	// larger answer is an Unavailable error.
	MaxResponse int64
	// Client sends the requests (default: a client with no redirects
	// followed to other hosts).
	Client *http.Client
}

// HTTP is an ActionRunner that calls one HTTP JSON endpoint.
type HTTP struct {
	cfg Config
}

var _ conversation.ActionRunner = (*HTTP)(nil)

// Limits.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxResponse = 64 << 10
	MaxRetries         = 5
)

// New validates cfg and returns the runner. Errors: Invalid.
func New(cfg Config) (*HTTP, error) {
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, conversation.Errorf(conversation.Invalid, "action http: method %q: want GET, POST, PUT, PATCH or DELETE", cfg.Method)
	}
	u, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(cfg.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, conversation.Errorf(conversation.Invalid, "action http: url %q must be an absolute http(s) URL", cfg.URL)
	}
	if _, rest, _ := strings.Cut(cfg.URL, "://"); strings.IndexByte(rest, '{') >= 0 && (strings.IndexByte(rest, '/') < 0 || strings.IndexByte(rest, '{') < strings.IndexByte(rest, '/')) {
		return nil, conversation.Errorf(conversation.Invalid, "action http: url %q: placeholders are allowed in the path and query only", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries < 0 || cfg.Retries > MaxRetries {
		return nil, conversation.Errorf(conversation.Invalid, "action http: retries %d must be within 0..%d", cfg.Retries, MaxRetries)
	}
	if !cfg.idempotent() {
		cfg.Retries = 0
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &HTTP{cfg: cfg}, nil
}

func (c Config) idempotent() bool {
	switch c.Method {
	case http.MethodGet, http.MethodPut, http.MethodDelete:
		return true
	}
	return c.Idempotent
}

// Run calls the back end with call's parameters. Errors: NotFound (404),
// Unauthorized (401, 403), Unavailable (5xx, 429, timeouts, network
// errors, a response too large or not JSON), Invalid (other 4xx).
func (h *HTTP) Run(ctx context.Context, call conversation.ActionCall) (conversation.ActionResult, error) {
	// {lang} is the conversation's language unless a parameter has the name.
	extra := map[string]string{"lang": call.Language}
	target := FillURL(h.cfg.URL, call.Params, extra)
	var body []byte
	if h.cfg.Body != nil {
		obj := make(map[string]string, len(h.cfg.Body))
		for k, tmpl := range h.cfg.Body {
			obj[k] = conversation.FillPlaceholders(tmpl, nil, call.Params, extra)
		}
		var err error
		if body, err = json.Marshal(obj); err != nil {
			return conversation.ActionResult{}, conversation.Errorf(conversation.Internal, "action %s: encode body: %w", call.Action, err)
		}
	}
	var lastErr error
	for attempt := 0; attempt <= h.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return conversation.ActionResult{}, ctx.Err()
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		res, retry, err := h.once(ctx, call, target, body)
		if err == nil || !retry {
			return res, err
		}
		lastErr = err
	}
	return conversation.ActionResult{}, lastErr
}

// once is one attempt; retry says whether another attempt may help.
func (h *HTTP) once(ctx context.Context, call conversation.ActionCall, target string, body []byte) (conversation.ActionResult, bool, error) {
	actx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, h.cfg.Method, target, rd)
	if err != nil {
		return conversation.ActionResult{}, false, conversation.Errorf(conversation.Invalid, "action %s: request: %w", call.Action, err)
	}
	for k, vs := range h.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if call.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
	}
	resp, err := h.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return conversation.ActionResult{}, false, ctx.Err()
		}
		var ne net.Error
		what := "unreachable"
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			what = "timed out"
		}
		return conversation.ActionResult{}, true, conversation.Errorf(conversation.Unavailable, "action %s: back end %s: %w", call.Action, what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, h.cfg.MaxResponse+1))
	if err != nil {
		return conversation.ActionResult{}, true, conversation.Errorf(conversation.Unavailable, "action %s: read response: %w", call.Action, err)
	}
	if err := StatusError(call.Action, resp.StatusCode); err != nil {
		return conversation.ActionResult{}, resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, err
	}
	if int64(len(raw)) > h.cfg.MaxResponse {
		return conversation.ActionResult{}, false, conversation.Errorf(conversation.Unavailable, "action %s: response larger than %d bytes", call.Action, h.cfg.MaxResponse)
	}
	fields, err := Pick(raw, h.cfg.Result)
	if err != nil {
		return conversation.ActionResult{}, false, conversation.Errorf(conversation.Unavailable, "action %s: %w", call.Action, err)
	}
	return conversation.ActionResult{Fields: fields}, false, nil
}

// StatusError maps an HTTP status to the error the engine turns into a
// sentence; nil for 2xx.
func StatusError(action string, status int) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusNotFound:
		return conversation.Errorf(conversation.NotFound, "action %s: back end: not found (404)", action)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return conversation.Errorf(conversation.Unauthorized, "action %s: back end refused (%d)", action, status)
	case status == http.StatusTooManyRequests || status >= 500:
		return conversation.Errorf(conversation.Unavailable, "action %s: back end failed (%d)", action, status)
	}
	return conversation.Errorf(conversation.Invalid, "action %s: back end rejected the request (%d)", action, status)
}

// FillURL replaces {param} in tmpl by the escaped value of the first of
// values that has it (unknown placeholders become empty).
func FillURL(tmpl string, values ...map[string]string) string {
	return conversation.FillPlaceholders(tmpl, func(v string) string {
		return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	}, values...)
}

// Pick decodes a JSON response and returns the value at each dotted
// path as text (numbers as written, true/false, nested values as JSON);
// a missing path gives "". Errors: the response is not JSON.
func Pick(raw []byte, paths map[string]string) (map[string]string, error) {
	if len(paths) == 0 {
		return map[string]string{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	out := make(map[string]string, len(paths))
	for field, path := range paths {
		v := doc
		for _, part := range strings.Split(path, ".") {
			switch node := v.(type) {
			case map[string]any:
				v = node[part]
			case []any:
				n, err := strconv.Atoi(part)
				if err != nil || n < 0 || n >= len(node) {
					v = nil
				} else {
					v = node[n]
				}
			default:
				v = nil
			}
		}
		switch x := v.(type) {
		case nil:
			out[field] = ""
		case string:
			out[field] = x
		case json.Number:
			out[field] = x.String()
		case bool:
			out[field] = strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			out[field] = string(b)
		}
	}
	return out, nil
}
