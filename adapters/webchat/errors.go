package webchat

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation"
)

// apiError is an HTTP error answer (see httpjson.Error).
type apiError = httpjson.Error

// The visitor-facing sentences, in English; writeError gives them in the
// browser's language (Accept-Language) when tier0 has it.
var (
	msgBusy    = channelText("en").Busy
	msgGeneric = channelText("en").Generic
)

func channelText(lang string) conversation.ChannelTexts {
	t, _ := conversation.ChannelTextsIn(lang)
	return t
}

// localize returns msg, one of this package's English sentences, in the
// first language of an Accept-Language header that tier0 has sentences
// for; other messages (validation details) stay as they are.
func localize(msg, acceptLanguage string) string {
	en := channelText("en")
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		t, ok := conversation.ChannelTextsIn(tag)
		if !ok {
			continue
		}
		switch msg {
		case en.Busy:
			return t.Busy
		case en.Generic:
			return t.Generic
		}
		return msg
	}
	return msg
}

// toAPIError maps any error to an HTTP answer. *apiError passes through;
// errors with a conversation code map by code: Invalid → 400, Unauthorized
// → 401, an overloaded engine (conversation.ErrOverloaded) → 429 with its
// Retry-After, the transient conflicts (lease held or lost, stale
// version) and Unavailable → 503 with Retry-After, other conflicts → 409, everything
// else → 500 with a generic sentence.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "timeout", Msg: msgBusy, RetryAfter: 2 * time.Second, Err: err}
	case errors.Is(err, conversation.ErrOverloaded):
		ra := conversation.RetryAfter(err)
		if ra <= 0 {
			ra = time.Second
		}
		return &apiError{Status: http.StatusTooManyRequests, Code: "overloaded", Msg: msgBusy, RetryAfter: ra, Err: err}
	case errors.Is(err, conversation.ErrLeaseHeld), errors.Is(err, conversation.ErrLeaseLost), errors.Is(err, conversation.ErrStaleVersion):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "busy", Msg: msgBusy, RetryAfter: time.Second, Err: err}
	}
	switch conversation.ErrorCode(err) {
	case conversation.Invalid:
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Msg: conversation.ErrorMessage(err), Err: err}
	case conversation.Unauthorized:
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "a valid session token is required", Err: err}
	case conversation.Conflict:
		return &apiError{Status: http.StatusConflict, Code: "conflict", Msg: "This message conflicts with another one. Please try again.", RetryAfter: time.Second, Err: err}
	case conversation.Unavailable:
		ra := conversation.RetryAfter(err)
		if ra <= 0 {
			ra = 2 * time.Second
		}
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: msgBusy, RetryAfter: ra, Err: err}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Msg: msgGeneric, Err: err}
}

// writeError answers r with err as JSON and logs it: the cause chain at
// error level for 5xx, at debug level otherwise. Visitor text is never in
// the error chain this package builds, so nothing personal is logged.
func (a *Adapter) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "webchat request failed",
		"method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "err", err)
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webchat"`)
	}
	if al := r.Header.Get("Accept-Language"); al != "" && len(al) < 512 {
		le := *e
		le.Msg = localize(e.Msg, al)
		e = &le
	}
	httpjson.WriteError(w, e)
}
