package teams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// status is the small JSON body of successful answers.
type status struct {
	Status string `json:"status"`
}

func (a *Adapter) fail(w http.ResponseWriter, r *http.Request, e *httpjson.Error) {
	lvl := a.log.Debug
	if e.Status >= 500 {
		lvl = a.log.Warn
	} else if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		lvl = a.log.Info
	}
	lvl("teams request failed", "status", e.Status, "code", e.Code, "remote", r.RemoteAddr, "err", e.Err)
	httpjson.WriteError(w, e)
}

func (a *Adapter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		a.fail(w, r, &httpjson.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Msg: "the messaging endpoint accepts POST", Allow: http.MethodPost})
		return
	}
	// Authenticate before reading the body: unauthenticated callers get
	// nothing parsed.
	id, err := a.auth.verify(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		a.fail(w, r, &httpjson.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "a valid Bot Framework token is required", Err: err})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		a.fail(w, r, &httpjson.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: "the activity is too large", Err: err})
		return
	case err != nil:
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "bad_request", Msg: "the request body could not be read", Err: err})
		return
	}
	var act inActivity
	if err := json.Unmarshal(body, &act); err != nil {
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the body is not a Bot Framework activity", Err: err})
		return
	}
	// The token is bound to the connector the activity names.
	if act.ServiceURL != id.serviceURL {
		a.fail(w, r, &httpjson.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "the token was not issued for this serviceUrl",
			Err: errors.New("serviceurl claim does not match the activity's serviceUrl")})
		return
	}
	if !id.allows(act.ChannelID) {
		a.fail(w, r, &httpjson.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "the signing key is not endorsed for this channel",
			Err: errors.New("channelId " + clip(act.ChannelID, 64) + " is not among the key's endorsements")})
		return
	}
	if act.Type != typeMessage {
		a.log.Debug("teams activity ignored", "type", clip(string(act.Type), 64))
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	}
	switch {
	case act.ID == "" || act.Conversation.ID == "" || len(act.Conversation.ID) > 1024:
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_activity", Msg: "a message needs an id and a conversation id (at most 1024 bytes)"})
		return
	case !safeEndpoint(act.ServiceURL):
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_activity", Msg: "the serviceUrl is not an https URL"})
		return
	}
	if a.cfg.TenantID != "" && act.tenant() != a.cfg.TenantID {
		a.fail(w, r, &httpjson.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "this bot serves one tenant only"})
		return
	}
	// The turn is not cut short when the Bot Framework hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.HandleTimeout)
	defer cancel()
	if a.isStaff(&act) {
		a.staffInput(ctx, w, r, &act)
		return
	}
	a.customerMessage(ctx, w, r, &act)
}

// customerMessage stores the conversation reference, hands the message to
// the engine and answers 202 once the engine committed it (503 when it
// did not within Config.CommitWait).
func (a *Adapter) customerMessage(ctx context.Context, w http.ResponseWriter, r *http.Request, act *inActivity) {
	// In channels and group chats the bot answers only when addressed:
	// with the resource-specific permission it sees every message there.
	if _, clicked := submitted(act.Value); shared(act) && !clicked && !mentionsBot(act) {
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	}
	m, ok, err := normalize(act, a.cfg.Now())
	if err != nil {
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_activity", Msg: conversation.ErrorMessage(err), Err: err})
		return
	}
	if !ok {
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	}
	ref := referenceOf(act)
	if err := a.putJSON(ctx, nsRef, m.ConversationKey, ref); err != nil {
		a.fail(w, r, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: "the conversation could not be stored; try again", RetryAfter: time.Second, Err: err})
		return
	}
	res, err, herr := a.commit(r.Context(), func(ctx context.Context) (conversation.Result, error) {
		stop := a.typingAfter(a.cfg.TypingDelay, ref)
		defer stop()
		return a.eng.Handle(ctx, m)
	})
	if herr == nil && err != nil {
		herr = engineError("handle teams message", err)
	}
	if herr != nil {
		a.fail(w, r, herr)
		return
	}
	a.log.Debug("teams message accepted", "conversation", m.ConversationKey, "message_id", m.DedupeKey,
		"duplicate", res.Duplicate, "service_url", act.ServiceURL, "teams_channel", act.channelID())
	httpjson.Write(w, http.StatusAccepted, status{"accepted"})
}

// commit runs one engine call (a turn) on the worker pool and waits up
// to Config.CommitWait for it. It returns the call's result and error,
// or, when the call found no worker or did not return in time, a 503
// answer (the call goes on; the Bot Framework's retry finds it
// committed, or runs it again).
func (a *Adapter) commit(ctx context.Context, call func(ctx context.Context) (conversation.Result, error)) (conversation.Result, error, *httpjson.Error) {
	var res conversation.Result
	out, err := a.pool.Await(ctx, workpool.Wait{Queue: queueWait, Result: a.cfg.CommitWait, Job: a.cfg.HandleTimeout}, func(ctx context.Context) error {
		var err error
		res, err = call(ctx)
		return err
	})
	switch out {
	case workpool.Busy:
		return res, nil, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "busy", Msg: "too many activities in progress; try again", RetryAfter: time.Second}
	case workpool.Late:
		return res, nil, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "not_committed",
			Msg: "the message is not stored yet; retry it (a retry of a stored one is recognised)", RetryAfter: time.Second,
			Err: errors.New("turn not committed within " + a.cfg.CommitWait.String())}
	}
	return res, err, nil
}

// transient reports whether an engine error may go away on its own: the
// store is down, the engine overloaded, the turn timed out, or another
// replica holds the conversation.
func transient(err error) bool {
	return conversation.ErrorCode(err) == conversation.Unavailable || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, conversation.ErrLeaseHeld) || errors.Is(err, conversation.ErrLeaseLost) || errors.Is(err, conversation.ErrStaleVersion)
}

// engineError maps an Engine error to an HTTP answer: a transient one
// (ErrOverloaded included, with its delay as Retry-After) to 503, which
// the Bot Framework retries.
func engineError(what string, err error) *httpjson.Error {
	if transient(err) || conversation.ErrorCode(err) == conversation.Conflict {
		ra := conversation.RetryAfter(err)
		if ra <= 0 {
			ra = time.Second
		}
		return &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: "busy; try again", RetryAfter: ra, Err: err}
	}
	switch conversation.ErrorCode(err) {
	case conversation.Invalid:
		return &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid", Msg: conversation.ErrorMessage(err), Err: err}
	}
	return &httpjson.Error{Status: http.StatusInternalServerError, Code: "internal", Msg: "internal error", Err: errors.Join(errors.New(what), err)}
}

// typingAfter sends a typing activity to ref's conversation when the
// returned stop is not called within d (d < 0: never).
func (a *Adapter) typingAfter(d time.Duration, ref schema.ConversationReference) (stop func()) {
	if d < 0 {
		return func() {}
	}
	t := time.AfterFunc(d, func() {
		a.background("typing", func(ctx context.Context) error {
			return a.sendTyping(ctx, ref)
		})
	})
	return func() { t.Stop() }
}

// Typing shows the typing indicator in the Teams conversation of
// conversationKey (a hook for callers that know a turn will be slow).
// Errors: NotFound when no reference is stored, those of the connector.
func (a *Adapter) Typing(ctx context.Context, conversationKey string) error {
	ref, err := a.reference(ctx, conversationKey)
	if err != nil {
		return err
	}
	return a.sendTyping(ctx, ref)
}

func (a *Adapter) sendTyping(ctx context.Context, ref schema.ConversationReference) error {
	_, err := a.conn.sendActivity(ctx, ref.ServiceURL, ref.Conversation.ID, "", outActivity{Type: typeTyping})
	return err
}

// putJSON stores v as JSON under (ns, key).
func (a *Adapter) putJSON(ctx context.Context, ns, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return conversation.Errorf(conversation.Internal, "encode %s ref: %w", ns, err)
	}
	return a.refs.PutRef(ctx, ns, key, string(b), a.cfg.RefTTL)
}

// getJSON loads (ns, key) into v. Errors: NotFound, those of the store.
func (a *Adapter) getJSON(ctx context.Context, ns, key string, v any) error {
	s, err := a.refs.GetRef(ctx, ns, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return conversation.Errorf(conversation.Internal, "decode %s ref %s: %w", ns, key, err)
	}
	return nil
}

// reference loads the stored conversation reference of a customer
// conversation. Errors: NotFound, Unavailable.
func (a *Adapter) reference(ctx context.Context, key string) (schema.ConversationReference, error) {
	var ref schema.ConversationReference
	if err := a.getJSON(ctx, nsRef, key, &ref); err != nil {
		return ref, err
	}
	if ref.Conversation.ID == "" || !safeEndpoint(ref.ServiceURL) {
		return ref, conversation.Errorf(conversation.Internal, "stored teams reference of %s is incomplete", key)
	}
	return ref, nil
}
