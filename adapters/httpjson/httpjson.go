// Package httpjson holds the JSON error plumbing the HTTP adapters share
// (web chat, agent console): one error type that knows its status, and
// answers of the form {"error":{"code","message"}}. It is not an adapter.
package httpjson

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Error is an HTTP answer for a failed request: Msg is safe to show,
// Err (the cause) is only for logs.
type Error struct {
	Status     int
	Code       string
	Msg        string
	RetryAfter time.Duration // sent as Retry-After, rounded up to seconds
	Allow      string        // Allow header for 405
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fallback is sent when a value cannot be encoded.
const fallback = `{"error":{"code":"internal","message":"Something went wrong on our side. Please try again."}}`

// Write answers with v as JSON and status, never cached.
func Write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(fallback)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError answers with e: its Retry-After and Allow headers, and the
// {"error":{"code","message"}} body.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	Write(w, e.Status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Msg}})
}
