package doortest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// HTTPAnswer is one HTTP answer a platform gave (or is to give) an adapter's
// client: the request it answered, its status, Retry-After and body.
type HTTPAnswer struct {
	Method, Path string
	Status       int
	RetryAfter   string
	Body         []byte
}

// Recorder is an http.RoundTripper that keeps every answer it carries, so
// the answers of a platform's fake become fuzz seeds. Base carries the
// requests (default http.DefaultTransport). Safe for concurrent use.
type Recorder struct {
	Base http.RoundTripper

	mu      sync.Mutex
	answers []HTTPAnswer
}

// RoundTrip implements http.RoundTripper.
func (rt *Recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	base := rt.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.answers = append(rt.answers, HTTPAnswer{Method: r.Method, Path: r.URL.Path, Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After"), Body: b})
	rt.mu.Unlock()
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res, nil
}

// Answers returns what was recorded so far, oldest first.
func (rt *Recorder) Answers() []HTTPAnswer {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]HTTPAnswer(nil), rt.answers...)
}

// Scripted is an http.Handler that gives every request the answer last
// set (a fuzz input's status, Retry-After and body), after reading the
// request's body. Until Set is called it answers 500. Safe for concurrent
// use.
type Scripted struct {
	answer atomic.Pointer[HTTPAnswer]
}

// Set makes a the answer to the requests from now on (its Method and
// Path are ignored).
func (s *Scripted) Set(a HTTPAnswer) { s.answer.Store(&a) }

// ServeHTTP implements http.Handler.
func (s *Scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 8<<20))
	a := s.answer.Load()
	if a == nil {
		a = &HTTPAnswer{Status: http.StatusInternalServerError}
	}
	w.Header().Set("Content-Type", "application/json")
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// FuzzStatus maps any fuzzed number onto the statuses a client can be
// given, 200..599 (net/http refuses to write others).
func FuzzStatus(code uint16) int { return 200 + int(code)%400 }
