package webchat

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// MaxClientMsgIDLen bounds the client's dedupe key.
const MaxClientMsgIDLen = 128

// messageRequest is the body of POST /api/webchat/sessions/{id}/messages.
type messageRequest struct {
	Text        string      `json:"text"`
	Action      *wireAction `json:"action"`
	ClientMsgID string      `json:"client_msg_id"`
}

// sessionRequest is the optional body of POST /api/webchat/sessions.
type sessionRequest struct {
	Name   string `json:"name"`
	Locale string `json:"locale"`
}

// decodeJSON reads one JSON value of at most limit bytes from r's body
// into v. An empty body leaves v alone when allowEmpty is set. Errors are
// *apiError: 413 for a body over the limit, 400 for anything malformed.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any, allowEmpty bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Msg: "the request body is too large", Err: err}
	case err != nil:
		return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Msg: "the request body could not be read", Err: err}
	case allowEmpty && len(strings.TrimSpace(string(body))) == 0:
		return nil
	}
	if !json.Valid(body) {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the request body is not valid JSON"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Msg: "the request body does not have the expected fields", Err: err}
	}
	return nil
}

// newMessageID returns a server-generated message id (the dedupe key when
// the client sent none).
func newMessageID() string { return "m_" + rand.Text() }

// validClientMsgID reports whether id is 1..MaxClientMsgIDLen characters of
// letters, digits and "-_.:".
func validClientMsgID(id string) bool { return isWord(id, MaxClientMsgIDLen, "-_.:") }

// normalize turns a visitor's request into the message the engine handles.
// Errors: Invalid, naming the problem.
func normalize(s session, req messageRequest, now time.Time) (conversation.Message, error) {
	id := req.ClientMsgID
	if id == "" {
		id = newMessageID()
	} else if !validClientMsgID(id) {
		return conversation.Message{}, conversation.Errorf(conversation.Invalid,
			"client_msg_id must be 1..%d letters, digits or -_.:", MaxClientMsgIDLen)
	}
	if req.Action == nil && strings.TrimSpace(req.Text) == "" {
		return conversation.Message{}, conversation.Errorf(conversation.Invalid, "text must not be empty")
	}
	if n := utf8.RuneCountInString(req.Text); n > conversation.MaxTextLen {
		return conversation.Message{}, conversation.Errorf(conversation.Invalid,
			"text is %d characters long; the limit is %d", n, conversation.MaxTextLen)
	}
	m := conversation.Message{
		Channel:         conversation.ChannelWebChat,
		ConversationKey: s.key(),
		PlatformMsgID:   id,
		DedupeKey:       id,
		User:            conversation.Identity{ID: s.ID, DisplayName: s.Name, Locale: s.Locale},
		Text:            req.Text,
		ReceivedAt:      now,
	}
	if req.Action != nil {
		m.Action = &conversation.Action{ID: req.Action.ID, Value: req.Action.Value}
	}
	if err := m.Validate(); err != nil {
		return conversation.Message{}, err
	}
	return m, nil
}
