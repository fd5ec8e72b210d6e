package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/adapters/workpool"
)

// EventsHandler returns the handler for the Events API request URL (e.g.
// POST /slack/events). Answers: 200 (accepted, ignored, or the
// url_verification challenge), 400 malformed, 401 bad or stale signature,
// 404 without a SigningSecret, 405 not POST, 413 too large, 503 not
// started, closing or busy (Slack retries). Errors are JSON:
// {"error":{"code","message"}}.
func (a *Adapter) EventsHandler() http.Handler { return http.HandlerFunc(a.serveEvents) }

// InteractiveHandler returns the handler for the interactivity request
// URL (e.g. POST /slack/interactive): block_actions clicks and the "Send
// to customer" message shortcut, form-encoded as payload=<json>. Answers
// as EventsHandler.
func (a *Adapter) InteractiveHandler() http.Handler { return http.HandlerFunc(a.serveInteractive) }

// acceptResult says what became of an inbound event.
type acceptResult int

const (
	accepted    acceptResult = iota // queued for processing (committed, when the caller waited)
	ignored                         // nothing to do; acknowledge it
	busy                            // no room (or closing): let Slack retry
	unready                         // Start has not succeeded yet
	uncommitted                     // the turn failed or is not committed yet: let Slack retry
)

// handledEvents are the inner event types the adapter acts on.
var handledEvents = map[string]bool{"message": true, "app_mention": true}

func (a *Adapter) writeError(w http.ResponseWriter, r *http.Request, e *httpjson.Error) {
	level := slog.LevelDebug // bad requests are the sender's problem
	if e.Status >= 500 {
		level = slog.LevelWarn
	}
	a.log.Log(r.Context(), level, "slack request refused", "path", r.URL.Path, "status", e.Status, "code", e.Code, "err", e.Err)
	httpjson.WriteError(w, e)
}

// readVerified reads a bounded body and checks Slack's signature over it.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, *httpjson.Error) {
	if a.cfg.SigningSecret == "" {
		return nil, &httpjson.Error{Status: http.StatusNotFound, Code: "not_found", Msg: "Slack HTTP events are not configured (no signing secret)"}
	}
	if r.Method != http.MethodPost {
		return nil, &httpjson.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Msg: "this endpoint accepts POST", Allow: http.MethodPost}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: "the request body is too large", Err: err}
		}
		return nil, &httpjson.Error{Status: http.StatusBadRequest, Code: "bad_request", Msg: "the request body could not be read", Err: err}
	}
	sv, err := slack.NewSecretsVerifier(r.Header, a.cfg.SigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		msg := "the request signature is missing or invalid"
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			msg = "the request timestamp is more than 5 minutes away"
		}
		return nil, &httpjson.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: msg, Err: err}
	}
	return body, nil
}

// outerEvent is the part of an Events API body looked at before parsing.
type outerEvent struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     *struct {
		Type string `json:"type"`
	} `json:"event"`
}

func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, herr := a.readVerified(w, r)
	if herr != nil {
		a.writeError(w, r, herr)
		return
	}
	var outer outerEvent
	if err := json.Unmarshal(body, &outer); err != nil {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the request body is not a JSON object", Err: err})
		return
	}
	switch outer.Type {
	case slackevents.URLVerification:
		if outer.Challenge == "" || len(outer.Challenge) > 512 {
			a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid", Msg: "url_verification needs a challenge"})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"challenge": outer.Challenge})
		return
	case slackevents.CallbackEvent:
	case slackevents.AppRateLimited:
		a.log.Warn("slack is dropping events: app rate limited")
		httpjson.Write(w, http.StatusOK, okBody)
		return
	default:
		a.log.Debug("slack event ignored", "type", outer.Type)
		httpjson.Write(w, http.StatusOK, okBody)
		return
	}
	if outer.Event == nil || outer.Event.Type == "" {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid", Msg: "event_callback without an event"})
		return
	}
	if !handledEvents[outer.Event.Type] {
		a.log.Debug("slack event ignored", "type", outer.Event.Type, "event_id", outer.EventID)
		httpjson.Write(w, http.StatusOK, okBody)
		return
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the event does not have the expected fields", Err: err})
		return
	}
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		a.log.Debug("slack event retry", "event_id", outer.EventID, "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	a.answer(w, r, a.acceptEvent(r.Context(), ev, a.cfg.CommitWait))
}

var okBody = map[string]bool{"ok": true}

// answer writes the HTTP answer of an accept result.
func (a *Adapter) answer(w http.ResponseWriter, r *http.Request, res acceptResult) {
	switch res {
	case accepted, ignored:
		httpjson.Write(w, http.StatusOK, okBody)
	case unready:
		a.writeError(w, r, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: "the Slack adapter is starting", RetryAfter: 5 * time.Second})
	case uncommitted:
		a.writeError(w, r, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "not_committed", Msg: "the message is not stored yet; retry it (a retry of a stored one is recognised)", RetryAfter: time.Second})
	default:
		a.writeError(w, r, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "busy", Msg: "too many events queued; retry later", RetryAfter: time.Second})
	}
}

func (a *Adapter) serveInteractive(w http.ResponseWriter, r *http.Request) {
	body, herr := a.readVerified(w, r)
	if herr != nil {
		a.writeError(w, r, herr)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_form", Msg: "the request body is not form-encoded", Err: err})
		return
	}
	payload := strings.TrimSpace(form.Get("payload"))
	if payload == "" {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid", Msg: "the form has no payload"})
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		a.writeError(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the payload is not a valid interaction", Err: err})
		return
	}
	res := a.acceptInteraction(r.Context(), cb)
	if res == accepted || res == ignored {
		w.WriteHeader(http.StatusOK) // Slack wants an empty 200
		return
	}
	a.answer(w, r, res)
}

// acceptEvent routes a parsed Events API event and queues its work. With
// commitWait > 0 it waits that long for a customer turn to be committed
// (see Config.CommitWait).
func (a *Adapter) acceptEvent(ctx context.Context, ev slackevents.EventsAPIEvent, commitWait time.Duration) acceptResult {
	bot := a.identity()
	if bot == nil {
		return unready
	}
	if ev.Type != slackevents.CallbackEvent || !handledEvents[ev.InnerEvent.Type] {
		return ignored
	}
	in, reason := fromEvent(ev, bot)
	if reason != "" {
		a.log.Debug("slack message ignored", "reason", reason)
		return ignored
	}
	var work func(ctx context.Context)
	switch {
	case a.cfg.StaffChannelID != "" && in.channel == a.cfg.StaffChannelID:
		if in.threadTS == "" {
			a.log.Debug("slack message ignored", "reason", "top level of the staff channel")
			return ignored
		}
		work = func(ctx context.Context) { a.staffMessage(ctx, in, bot) }
	case in.isDM(), in.mention, in.threadTS != "":
		if commitWait > 0 {
			return a.queueCommitted(ctx, commitWait, func(ctx context.Context) error { return a.customerEvent(ctx, in, bot, true) })
		}
		work = func(ctx context.Context) { _ = a.customerEvent(ctx, in, bot, false) }
	default:
		a.log.Debug("slack message ignored", "reason", "not addressed to the bot")
		return ignored
	}
	return a.queue(ctx, work)
}

// queueCommitted queues work and waits up to wait for it to return: nil
// (the turn is committed, or the event needs none) is accepted; an
// error, or no answer in time, is uncommitted. The work goes on either
// way; Slack's retry of an event whose turn did commit is a duplicate.
func (a *Adapter) queueCommitted(ctx context.Context, wait time.Duration, work func(ctx context.Context) error) acceptResult {
	if a.closed.Load() {
		return busy
	}
	out, err := a.pool.Await(ctx, workpool.Wait{Queue: a.cfg.AckTimeout, Result: wait, Job: a.cfg.EventTimeout}, work)
	switch {
	case out == workpool.Busy:
		a.log.Warn("slack event refused: worker queue full or closing")
		return busy
	case out == workpool.Late:
		a.log.Warn("slack event not acknowledged: its turn is not committed yet", "wait", wait)
		return uncommitted
	case err != nil:
		return uncommitted
	}
	return accepted
}

// queue submits work to the pool with a job context derived from ctx.
func (a *Adapter) queue(ctx context.Context, work func(ctx context.Context)) acceptResult {
	if a.closed.Load() {
		return busy
	}
	ok := a.pool.Submit(a.cfg.AckTimeout, func(abort <-chan struct{}) {
		jctx, cancel := workpool.JobContext(ctx, abort, a.cfg.EventTimeout)
		defer cancel()
		work(jctx)
	})
	if !ok {
		a.log.Warn("slack event refused: worker queue full or closing")
		return busy
	}
	return accepted
}

// Prefixes of the action ids the adapter puts on buttons.
const (
	customerActionPrefix = "tier0_btn_"
	staffActionPrefix    = "tier0_staff_"
)

// maxActionsPerPayload bounds the actions taken from one interaction.
const maxActionsPerPayload = 5

// acceptInteraction routes an interaction payload and queues its work.
func (a *Adapter) acceptInteraction(ctx context.Context, cb slack.InteractionCallback) acceptResult {
	bot := a.identity()
	if bot == nil {
		return unready
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		res := ignored
		for i, act := range cb.ActionCallback.BlockActions {
			if i == maxActionsPerPayload || act == nil {
				break
			}
			var work func(ctx context.Context)
			switch {
			case strings.HasPrefix(act.ActionID, staffActionPrefix):
				work = func(ctx context.Context) { a.staffAction(ctx, cb, *act, bot) }
			case strings.HasPrefix(act.ActionID, customerActionPrefix):
				work = func(ctx context.Context) { a.customerClick(ctx, cb, *act, bot) }
			default:
				continue
			}
			if r := a.queue(ctx, work); r != accepted {
				return r
			}
			res = accepted
		}
		return res
	case slack.InteractionTypeMessageAction:
		if cb.CallbackID != SendToCustomerCallbackID {
			return ignored
		}
		return a.queue(ctx, func(ctx context.Context) { a.sendToCustomer(ctx, cb, bot) })
	}
	a.log.Debug("slack interaction ignored", "type", string(cb.Type))
	return ignored
}
