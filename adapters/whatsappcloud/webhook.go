package whatsappcloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// maxChallengeLen bounds the hub.challenge echoed in the handshake.
const maxChallengeLen = 256

// WebhookHandler returns the handler of the webhook path: GET for Meta's
// subscription handshake, POST for notifications (see the package
// documentation for statuses). Mount it on one path, e.g.
// /whatsapp/webhook, and enter that URL in the app's WhatsApp settings.
func (a *Adapter) WebhookHandler() http.Handler { return http.HandlerFunc(a.serveWebhook) }

func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		a.verify(w, r)
	case http.MethodPost:
		a.receive(w, r)
	default:
		a.fail(w, r, &httpjson.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Msg: "the WhatsApp webhook accepts GET and POST", Allow: "GET, POST"})
	}
}

// verify answers the subscription handshake: the challenge, as text,
// when hub.mode is subscribe and hub.verify_token matches; 403 otherwise.
func (a *Adapter) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if q.Get("hub.mode") != "subscribe" || !secretEqual(q.Get("hub.verify_token"), a.cfg.VerifyToken) ||
		!validChallenge(challenge) {
		a.log.Warn("whatsapp webhook verification refused", "mode", clip(q.Get("hub.mode"), 32))
		httpjson.WriteError(w, &httpjson.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "verification failed"})
		return
	}
	a.log.Info("whatsapp webhook verified")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, challenge)
}

// validChallenge reports whether c is a plausible hub.challenge: 1..256
// letters, digits, '-', '_' or '.' (Meta sends digits), so the echo can
// never carry markup.
func validChallenge(c string) bool {
	if c == "" || len(c) > maxChallengeLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// secretEqual compares two secrets in constant time, whatever their
// lengths.
func secretEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return hmac.Equal(g[:], w[:]) && got != ""
}

// validSignature checks an X-Hub-Signature-256 header against body.
func validSignature(header string, body []byte, secret string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// receive handles one notification POST: verify, parse, log statuses and
// hand every message to the engine; 200 only when all were committed
// (or dropped as invalid) within Config.CommitWait.
func (a *Adapter) receive(w http.ResponseWriter, r *http.Request) {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		a.fail(w, r, &httpjson.Error{Status: http.StatusUnauthorized, Code: "missing_signature", Msg: "the X-Hub-Signature-256 header is required"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		a.fail(w, r, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: "the notification is too large", Err: err})
		return
	case err != nil:
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "bad_request", Msg: "the notification could not be read", Err: err})
		return
	}
	if !validSignature(sig, body, a.cfg.AppSecret) {
		a.fail(w, r, &httpjson.Error{Status: http.StatusUnauthorized, Code: "bad_signature", Msg: "the X-Hub-Signature-256 signature does not match"})
		return
	}
	p, err := decodePayload(body)
	if err != nil {
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the notification is not the expected JSON", Err: err})
		return
	}
	if p.Object != "whatsapp_business_account" {
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "unsupported_object",
			Msg: "this webhook only takes whatsapp_business_account notifications"})
		return
	}
	now := a.cfg.Now()
	var msgs []inbound
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			if ch.Field != "messages" {
				a.log.Debug("whatsapp webhook field ignored", "field", clip(ch.Field, 64))
				continue
			}
			v := ch.Value
			if v.Metadata.PhoneNumberID != a.cfg.PhoneNumberID {
				a.log.Info("whatsapp notification for another phone number ignored",
					"phone_number_id", clip(v.Metadata.PhoneNumberID, 32), "messages", len(v.Messages), "statuses", len(v.Statuses))
				continue
			}
			a.logStatuses(v.Statuses)
			msgs = append(msgs, a.normalize(v, now)...)
		}
	}
	if len(msgs) > 0 {
		// The turns run on the pool, in order, not cut short when Meta
		// hangs up: they are committed or not, and a retry is
		// deduplicated either way.
		out, err := a.pool.Await(r.Context(), workpool.Wait{Queue: time.Second, Result: a.cfg.CommitWait, Job: a.cfg.HandleTimeout},
			func(ctx context.Context) error {
				for _, in := range msgs {
					if err := a.accept(ctx, in); err != nil {
						return err
					}
				}
				return nil
			})
		switch out {
		case workpool.Busy:
			err = &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "busy", Msg: "too many notifications in progress; retry later", RetryAfter: time.Second}
		case workpool.Late:
			err = &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "not_committed", Msg: "the messages are not stored yet; retry (stored ones are recognised)",
				RetryAfter: time.Second, Err: errors.New("not committed within " + a.cfg.CommitWait.String())}
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
	}
	httpjson.Write(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"ok"})
}

// accept finishes one message (button ids, numbered choices) and hands it
// to the engine. A message the engine finds invalid is logged and
// dropped (Meta would send it again and again); other failures are
// returned as an HTTP error so Meta retries the payload.
func (a *Adapter) accept(ctx context.Context, in inbound) error {
	m := in.msg
	if in.choiceID != "" {
		if act, ok := a.decodeChoice(ctx, in.choiceID); ok {
			m.Action = &act
		} else if in.kind == "button" {
			// A template quick reply made elsewhere: keep its payload.
			act := conversation.Action{ID: ActionQuickReply, Value: in.choiceID}
			if validAction(act) {
				m.Action = &act
			}
		}
		if m.Action == nil && strings.TrimSpace(m.Text) == "" {
			a.log.Info("whatsapp reply with an unknown id and no title ignored", "message_id", m.PlatformMsgID, "type", in.kind)
			return nil
		}
	} else if m.Text != "" && len(m.Attachments) == 0 {
		a.pickNumbered(ctx, &m)
	}

	stop := a.startTyping(m.PlatformMsgID)
	res, err := a.eng.Handle(ctx, m)
	typed := stop()
	if err != nil {
		if conversation.ErrorCode(err) == conversation.Invalid {
			a.log.Warn("whatsapp message rejected by the engine", "message_id", m.PlatformMsgID, "type", in.kind, "err", err)
			return nil
		}
		return err
	}
	a.log.Debug("whatsapp message accepted", "conversation", m.ConversationKey, "message_id", m.PlatformMsgID,
		"type", in.kind, "duplicate", res.Duplicate)
	if a.cfg.MarkRead && !typed && !res.Duplicate {
		a.markRead(m.PlatformMsgID, false)
	}
	return nil
}

// startTyping arranges for the message to be marked read with a typing
// indicator if the turn outlasts TypingAfter. The returned stop waits
// for an indicator in flight and reports whether one was sent.
func (a *Adapter) startTyping(messageID string) (stop func() bool) {
	if a.cfg.TypingAfter <= 0 {
		return func() bool { return false }
	}
	done := make(chan struct{})
	t := time.AfterFunc(a.cfg.TypingAfter, func() {
		defer close(done)
		a.markRead(messageID, true)
	})
	return func() bool {
		if t.Stop() {
			return false
		}
		<-done
		return true
	}
}

// markRead marks a message read (with a typing indicator when typing),
// best effort: failures are logged.
func (a *Adapter) markRead(messageID string, typing bool) {
	ctx, cancel := context.WithTimeout(context.Background(), min(a.cfg.HTTPTimeout, 5*time.Second))
	defer cancel()
	if err := a.graph.markRead(ctx, messageID, typing); err != nil {
		a.log.Debug("whatsapp read receipt failed", "message_id", messageID, "typing", typing, "err", err)
	}
}

// logStatuses logs delivery statuses of sent messages: failures at warn
// with Meta's error codes, the rest at debug. Recipients are not logged.
func (a *Adapter) logStatuses(ss []waStatus) {
	for _, s := range ss {
		id, st := clip(s.ID, maxMessageID), clip(s.Status, 32)
		if st != "failed" {
			a.log.Debug("whatsapp message status", "wamid", id, "status", st)
			continue
		}
		attrs := []any{"wamid", id}
		for i, e := range s.Errors {
			if i == 3 {
				break
			}
			attrs = append(attrs, "error_code", e.Code, "error_title", clip(e.Title, 200), "error_details", clip(e.ErrorData.Details, 300))
			if e.Code == codeReengagement {
				attrs = append(attrs, "hint", "the 24-hour customer service window was closed; only a template message can reach the shopper")
			}
		}
		a.log.Warn("whatsapp message delivery failed", attrs...)
	}
}

// fail answers with err as JSON and logs it. Engine errors map to 503
// (Unavailable, busy, timeout: Meta retries) or 500.
func (a *Adapter) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *httpjson.Error
	if !errors.As(err, &e) {
		switch code := conversation.ErrorCode(err); {
		case code == conversation.Unavailable || code == conversation.Conflict || errors.Is(err, context.DeadlineExceeded):
			ra := conversation.RetryAfter(err)
			if ra <= 0 {
				ra = 2 * time.Second
			}
			e = &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: "the helpdesk is busy; retry later", RetryAfter: ra, Err: err}
		default:
			e = &httpjson.Error{Status: http.StatusInternalServerError, Code: "internal", Msg: "something went wrong; retry later", Err: err}
		}
	}
	switch {
	case e.Status >= 500:
		a.log.Error("whatsapp webhook failed", "status", e.Status, "code", e.Code, "err", e.Err)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusRequestEntityTooLarge:
		a.log.Warn("whatsapp webhook refused", "status", e.Status, "code", e.Code, "remote", r.RemoteAddr)
	default:
		a.log.Info("whatsapp webhook refused", "status", e.Status, "code", e.Code, "err", e.Err)
	}
	httpjson.WriteError(w, e)
}
