package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-telegram/bot"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// SecretHeader carries the webhook secret token in Telegram's requests.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookHandler returns the handler for Telegram's webhook requests
// (mount it at the path given to SetWebhook, e.g. /telegram/webhook). It
// answers:
//
//	405 for anything but POST;
//	401 when X-Telegram-Bot-Api-Secret-Token is missing or wrong (compared
//	    in constant time), or no WebhookSecret is configured;
//	413 for a body over Config.MaxBodyBytes; 400 for a body that is not a
//	    JSON update;
//	200 once the update is durably accepted by the engine (its turn
//	    committed; duplicates and updates the adapter ignores included),
//	    within Config.CommitWait;
//	503 with Retry-After when it was not (store unavailable, engine
//	    overloaded, lease held elsewhere, not committed in time, no worker
//	    free, shutting down): Telegram delivers it again.
//
// Errors are JSON {"error":{"code","message"}}.
func (a *Adapter) WebhookHandler() http.Handler { return http.HandlerFunc(a.serveWebhook) }

func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string, err error) {
		if status >= 500 {
			a.log.Warn("telegram webhook request failed", "status", status, "code", code, "err", err)
		} else {
			a.log.Debug("telegram webhook request failed", "status", status, "code", code, "err", err)
		}
		e := &httpjson.Error{Status: status, Code: code, Msg: msg, Err: err}
		if status == http.StatusServiceUnavailable {
			e.RetryAfter = max(time.Second, conversation.RetryAfter(err))
		}
		if status == http.StatusMethodNotAllowed {
			e.Allow = http.MethodPost
		}
		httpjson.WriteError(w, e)
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint accepts POST", nil)
		return
	}
	if a.cfg.WebhookSecret == "" {
		a.log.Error("telegram webhook called but no webhook secret is configured (set TIER0_TELEGRAM_WEBHOOK_SECRET)")
		fail(http.StatusUnauthorized, "unauthorized", "the webhook secret token is missing or wrong", nil)
		return
	}
	got := r.Header.Get(SecretHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.WebhookSecret)) != 1 {
		fail(http.StatusUnauthorized, "unauthorized", "the webhook secret token is missing or wrong", nil)
		return
	}
	if a.closed() {
		fail(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; try again", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(http.StatusRequestEntityTooLarge, "too_large", "the request body is too large", err)
		return
	case err != nil:
		fail(http.StatusBadRequest, "bad_request", "the request body could not be read", err)
		return
	}
	var head struct {
		UpdateID *int64 `json:"update_id"`
	}
	if !json.Valid(body) {
		fail(http.StatusBadRequest, "invalid_json", "the request body is not valid JSON", nil)
		return
	}
	if err := json.Unmarshal(body, &head); err != nil || head.UpdateID == nil {
		fail(http.StatusBadRequest, "invalid_update", "the request body is not a Telegram update (no update_id)", err)
		return
	}
	// The turn runs on the pool, not cut short by Telegram hanging up:
	// once it started, finishing it is cheaper than a retry.
	out, err := a.webhook.Await(r.Context(), workpool.Wait{Queue: time.Second, Result: a.cfg.CommitWait, Job: a.cfg.HandleTimeout},
		func(ctx context.Context) error { return a.process(ctx, body) })
	switch {
	case out == workpool.Busy:
		fail(http.StatusServiceUnavailable, "busy", "too many updates in progress; Telegram will deliver it again", nil)
	case out == workpool.Late:
		fail(http.StatusServiceUnavailable, "not_committed", "the update is not stored yet; Telegram will deliver it again (a stored one is recognised)",
			errors.New("not committed within "+a.cfg.CommitWait.String()))
	case err != nil:
		fail(http.StatusServiceUnavailable, "unavailable", "the update could not be stored; Telegram will deliver it again", err)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// SetWebhook registers webhookURL (https, reachable by Telegram; the path
// where WebhookHandler is mounted) with Config.WebhookSecret as its
// secret token and the update types the adapter handles. Errors: Invalid
// for a bad URL or no WebhookSecret, Unauthorized, Unavailable.
func (a *Adapter) SetWebhook(ctx context.Context, webhookURL string) error {
	u, err := url.Parse(webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return conversation.Errorf(conversation.Invalid, "telegram: webhook URL %q must be an absolute https URL", webhookURL)
	}
	if a.cfg.WebhookSecret == "" {
		return conversation.Errorf(conversation.Invalid, "telegram: set a WebhookSecret before registering a webhook")
	}
	err = a.api.SetWebhook(ctx, &bot.SetWebhookParams{URL: webhookURL, SecretToken: a.cfg.WebhookSecret, AllowedUpdates: allowedUpdates})
	if err != nil {
		return classify(err)
	}
	a.log.Info("telegram webhook set", "host", u.Host)
	return nil
}

// DeleteWebhook removes the webhook so polling can start; pending updates
// are kept. Errors: Unauthorized, Unavailable.
func (a *Adapter) DeleteWebhook(ctx context.Context) error {
	if err := a.api.DeleteWebhook(ctx); err != nil {
		return classify(err)
	}
	return nil
}
