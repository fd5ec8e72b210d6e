package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tier0/tier0/conversation"
)

// apiError is an HTTP error answer: status, a stable machine-readable code,
// a sentence safe to show the visitor, and the cause for the log.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration
	allow      string // Allow header for 405
	err        error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.code + ": " + e.msg + ": " + e.err.Error()
	}
	return e.code + ": " + e.msg
}

func (e *apiError) Unwrap() error { return e.err }

// errorBody is the JSON of every error answer: {"error":{"code","message"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

const (
	msgBusy    = "The assistant is busy right now. Please try again in a moment."
	msgGeneric = "Something went wrong on our side. Please try again."
)

// toAPIError maps any error to an HTTP answer. *apiError passes through;
// errors with a conversation code map by code: Invalid → 400, Unauthorized
// → 401, the transient conflicts (lease held or lost, stale version) and
// Unavailable → 503 with Retry-After, other conflicts → 409, everything
// else → 500 with a generic sentence.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: "timeout", msg: msgBusy, retryAfter: 2 * time.Second, err: err}
	case errors.Is(err, conversation.ErrLeaseHeld), errors.Is(err, conversation.ErrLeaseLost), errors.Is(err, conversation.ErrStaleVersion):
		return &apiError{status: http.StatusServiceUnavailable, code: "busy", msg: msgBusy, retryAfter: time.Second, err: err}
	}
	switch conversation.ErrorCode(err) {
	case conversation.Invalid:
		return &apiError{status: http.StatusBadRequest, code: "invalid", msg: conversation.ErrorMessage(err), err: err}
	case conversation.Unauthorized:
		return &apiError{status: http.StatusUnauthorized, code: "unauthorized", msg: "a valid session token is required", err: err}
	case conversation.Conflict:
		return &apiError{status: http.StatusConflict, code: "conflict", msg: "This message conflicts with another one. Please try again.", retryAfter: time.Second, err: err}
	case conversation.Unavailable:
		ra := conversation.RetryAfter(err)
		if ra <= 0 {
			ra = 2 * time.Second
		}
		return &apiError{status: http.StatusServiceUnavailable, code: "unavailable", msg: msgBusy, retryAfter: ra, err: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: msgGeneric, err: err}
}

// writeError answers r with err as JSON and logs it: the cause chain at
// error level for 5xx, at debug level otherwise. Visitor text is never in
// the error chain this package builds, so nothing personal is logged.
func (a *Adapter) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	level := slog.LevelDebug
	if e.status >= 500 {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "webchat request failed",
		"method", r.Method, "path", r.URL.Path, "status", e.status, "code", e.code, "err", err)
	h := w.Header()
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.retryAfter.Seconds()))))
	}
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="webchat"`)
	}
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	writeJSON(w, e.status, errorBody{Error: errorDetail{Code: e.code, Message: e.msg}})
}

// writeJSON answers with v as JSON and the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"` + msgGeneric + `"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
