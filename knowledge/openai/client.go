package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// maxErrorBody bounds what is read of an error response, and
// maxProviderMessage what is quoted of it.
const (
	maxErrorBody       = 64 << 10
	maxProviderMessage = 300
)

// client sends JSON requests to one OpenAI-compatible API with the retry
// policy of the package.
type client struct {
	cfg Config
}

func newClient(cfg Config) (*client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &client{cfg: cfg.withDefaults()}, nil
}

// reader consumes a successful response. touch restarts the attempt's
// timeout (for streams, where it bounds the gap between events). It reports
// whether anything was handed on to the caller: after that a request is
// not retried.
type reader func(ctx context.Context, resp *http.Response, touch func()) (delivered bool, err error)

// coded returns an error with code whose message is msg and whose cause,
// for logs and errors.Is, is err.
func coded(code conversation.Code, msg string, err error) error {
	return &conversation.Error{Code: code, Message: msg, Err: err}
}

// retryable marks an error that a new attempt may cure.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// post sends body to path, hands a 2xx response to read and retries as
// the package describes. op names the call in errors ("embeddings").
func (c *client) post(ctx context.Context, op, path string, body any, read reader) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // prompts are full of <source> tags
	if err := enc.Encode(body); err != nil {
		return coded(conversation.Invalid, op+": encode request", err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	for retry := 0; ; retry++ {
		wait, err := c.attempt(ctx, op, path, data, read)
		if err == nil {
			return nil
		}
		var r retryable
		if !errors.As(err, &r) {
			return err
		}
		err = r.err
		if retry >= c.cfg.MaxRetries {
			return err
		}
		if wait == 0 {
			wait = backoff(retry)
		}
		if wait > c.cfg.MaxRetryWait {
			return fmt.Errorf("%w (the provider asks to wait %s)", err, wait)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err
		}
		c.cfg.Logger.Warn("openai: retrying", "op", op, "retry", retry+1, "wait", wait, "err", err)
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(retry+1, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return coded(conversation.Unavailable, op, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt makes one request. A retryable error comes wrapped in retryable,
// with the wait the provider asked for (0 when it did not).
func (c *client) attempt(ctx context.Context, op, path string, body []byte, read reader) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, coded(conversation.Unavailable, op, err)
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.cfg.Timeout, func() {
		timedOut.Store(true)
		cancel()
	})
	defer timer.Stop()
	// Once fired, a reset fires again and cancels a cancelled context.
	touch := func() { timer.Reset(c.cfg.Timeout) }
	// failed maps an error of the transport or of reading to the error to
	// return: the caller's context, a timeout, or a network error.
	failed := func(err error, delivered bool) error {
		switch {
		case ctx.Err() != nil:
			return coded(conversation.Unavailable, op, ctx.Err())
		case timedOut.Load():
			err = conversation.Errorf(conversation.Unavailable, "%s: no response within %s", op, c.cfg.Timeout)
		case conversation.ErrorCode(err) == conversation.Internal:
			err = coded(conversation.Unavailable, op, err)
		default:
			var r retryable
			if !errors.As(err, &r) {
				return err // already classified: not retried
			}
			err = r.err
		}
		if delivered {
			return err
		}
		return retryable{err}
	}

	req, err := c.request(actx, path, body)
	if err != nil {
		return 0, coded(conversation.Invalid, op, err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, failed(err, false)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(op, resp)
	}
	delivered, err := read(actx, resp, touch)
	if err != nil {
		return 0, failed(err, delivered)
	}
	return 0, nil
}

// request builds the POST request of one attempt.
func (c *client) request(ctx context.Context, path string, body []byte) (*http.Request, error) {
	u := strings.TrimRight(c.cfg.BaseURL, "/") + path
	if c.cfg.AzureAPIVersion != "" {
		u += "?api-version=" + url.QueryEscape(c.cfg.AzureAPIVersion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tier0")
	if c.cfg.APIKey != "" {
		if c.cfg.AzureAPIVersion != "" {
			req.Header.Set("api-key", c.cfg.APIKey)
		} else {
			req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
		}
	}
	for name, value := range c.cfg.Headers {
		req.Header.Set(name, value)
	}
	return req, nil
}

// statusError turns a non-2xx response into an error quoting the
// provider's message, retryable for overload and server errors.
func (c *client) statusError(op string, resp *http.Response) (time.Duration, error) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := c.providerMessage(data)
	if msg == "" {
		msg = "no error message"
	}
	code := conversation.Unavailable
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		code = conversation.Unauthorized
	case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		code = conversation.Invalid
	}
	err := conversation.Errorf(code, "%s: provider returned %s: %s", op, resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retryAfter(resp.Header, time.Now()), retryable{err}
	}
	return 0, err
}

// providerMessage returns the error message of an error body, in any of
// the shapes OpenAI-compatible servers use ({"error":{"message":…}},
// {"error":"…"}, {"message":…}), or the start of a plain-text body;
// shortened, on one line, with the API key blanked out.
func (c *client) providerMessage(data []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	msg := ""
	if json.Unmarshal(data, &body) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var flat string
		switch {
		case json.Unmarshal(body.Error, &nested) == nil && nested.Message != "":
			msg = nested.Message
		case json.Unmarshal(body.Error, &flat) == nil && flat != "":
			msg = flat
		case body.Message != "":
			msg = body.Message
		default:
			msg = body.Detail
		}
	} else if utf8.Valid(data) {
		msg = string(data)
	}
	return c.clean(msg)
}

// clean makes provider text safe to quote: the API key and header values
// blanked out, control characters replaced, at most maxProviderMessage
// characters.
func (c *client) clean(msg string) string {
	if c.cfg.APIKey != "" {
		msg = strings.ReplaceAll(msg, c.cfg.APIKey, "[redacted]")
	}
	for _, v := range c.cfg.Headers {
		if len(v) >= 8 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == ' '
	}), " ")
	if r := []rune(msg); len(r) > maxProviderMessage {
		msg = string(r[:maxProviderMessage]) + "…"
	}
	return msg
}

// retryAfter returns the wait a response asks for: OpenAI's retry-after-ms,
// or Retry-After in seconds or as an HTTP date; 0 when there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 && ms < 1e9 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 1e6 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry number retry+1 when the provider
// did not ask for one.
func backoff(retry int) time.Duration {
	d := maxBackoff
	if retry < 5 {
		d = min(maxBackoff, baseBackoff<<retry)
	}
	return d/2 + rand.N(d/2+1)
}

// boundedReader reads at most limit bytes and then fails with a clear
// error instead of silently cutting the body.
type boundedReader struct {
	r     io.Reader
	n     int64
	limit int64
	op    string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, b.tooLarge()
	}
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, b.tooLarge()
	}
	return n, err
}

func (b *boundedReader) tooLarge() error {
	return conversation.Errorf(conversation.Unavailable, "%s: response is larger than %d bytes", b.op, b.limit)
}

// readJSON decodes a whole bounded response body into v.
func (c *client) readJSON(op string, resp *http.Response, v any) error {
	data, err := io.ReadAll(&boundedReader{r: resp.Body, limit: c.cfg.MaxResponseBytes, op: op})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return coded(conversation.Unavailable, op+": malformed response", err)
	}
	return nil
}
