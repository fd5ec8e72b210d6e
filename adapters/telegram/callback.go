package telegram

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Telegram limits callback_data to 64 bytes. Customer buttons encode
// their action compactly:
//
//	"a" + code + value   a known action id (one letter) and its value
//	"x" + id + ":" + value   any other action id without ':'
//	"r" + token          longer actions: {id, value} stored in refs under
//	                     "cb:<token>"
//
// Staff buttons are "s" + kind code + the conversation's tag (a short
// hash of its key), so a button acts only on the conversation it was
// made for.
const maxCallbackData = 64

var actionCodes = map[string]byte{
	conversation.ActionHelpful:    'h',
	conversation.ActionNotHelpful: 'n',
	conversation.ActionHuman:      'u',
	conversation.ActionCSAT:       'c',
	conversation.ActionConsult:    'o',
}

var codeActions = func() map[byte]string {
	m := make(map[byte]string, len(actionCodes))
	for id, c := range actionCodes {
		m[c] = id
	}
	return m
}()

// storedAction is an action kept in refs for a long button.
type storedAction struct {
	ID    string `json:"id"`
	Value string `json:"value,omitempty"`
}

// encodeAction returns the callback_data of a customer button, storing
// the action in refs when it does not fit. Errors: those of PutRef.
func (a *Adapter) encodeAction(ctx context.Context, act conversation.Action) (string, error) {
	if c, ok := actionCodes[act.ID]; ok {
		if d := "a" + string(c) + act.Value; len(d) <= maxCallbackData {
			return d, nil
		}
	} else if !strings.Contains(act.ID, ":") {
		if d := "x" + act.ID + ":" + act.Value; len(d) <= maxCallbackData {
			return d, nil
		}
	}
	b, err := json.Marshal(storedAction(act))
	if err != nil {
		return "", fmt.Errorf("encode button action: %w", err)
	}
	token := strings.TrimRight(base64.RawURLEncoding.EncodeToString(randomBytes(12)), "=")
	if err := a.refs.PutRef(ctx, refsNamespace, "cb:"+token, string(b), 0); err != nil {
		return "", fmt.Errorf("store button action: %w", err)
	}
	return "r" + token, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

// errExpiredButton is a customer button whose stored action is gone.
var errExpiredButton = errors.New("button expired")

// decodeAction returns the action of a customer button's callback_data.
// ok is false for data that is not a customer button. Errors:
// errExpiredButton for a stored action that is gone, those of GetRef.
func (a *Adapter) decodeAction(ctx context.Context, data string) (act conversation.Action, ok bool, err error) {
	if data == "" || len(data) > maxCallbackData || !utf8.ValidString(data) {
		return act, false, nil
	}
	switch data[0] {
	case 'a':
		if len(data) < 2 {
			return act, false, nil
		}
		id, known := codeActions[data[1]]
		if !known {
			return act, false, nil
		}
		return conversation.Action{ID: id, Value: data[2:]}, true, nil
	case 'x':
		id, value, found := strings.Cut(data[1:], ":")
		if !found || id == "" {
			return act, false, nil
		}
		return conversation.Action{ID: id, Value: value}, true, nil
	case 'r':
		token := data[1:]
		if token == "" || strings.ContainsAny(token, ":/ ") {
			return act, false, nil
		}
		v, err := a.refs.GetRef(ctx, refsNamespace, "cb:"+token)
		if errors.Is(err, conversation.ErrNotFound) {
			return act, false, errExpiredButton
		}
		if err != nil {
			return act, false, fmt.Errorf("load button action: %w", err)
		}
		var sa storedAction
		if err := json.Unmarshal([]byte(v), &sa); err != nil || sa.ID == "" {
			return act, false, errExpiredButton
		}
		return conversation.Action(sa), true, nil
	}
	return act, false, nil
}

// Staff button kinds.
var staffCodes = map[byte]conversation.AgentActionKind{
	'c': conversation.AgentClaim,
	'r': conversation.AgentResolve,
	'b': conversation.AgentHandBack,
	'e': conversation.AgentEscalate,
	'1': conversation.AgentPriority,
	'2': conversation.AgentPriority,
	'3': conversation.AgentPriority,
	'4': conversation.AgentPriority,
}

// convTag is a short, stable tag of a conversation key for staff buttons.
func convTag(key string) string {
	h := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// staffData is the callback_data of a staff button.
func staffData(code byte, key string) string { return "s" + string(code) + convTag(key) }

// decodeStaff parses a staff button: the action kind, its text (the
// priority for P1..P4) and the conversation tag.
func decodeStaff(data string) (kind conversation.AgentActionKind, text, tag string, ok bool) {
	if len(data) < 3 || data[0] != 's' {
		return "", "", "", false
	}
	kind, ok = staffCodes[data[1]]
	if !ok {
		return "", "", "", false
	}
	if kind == conversation.AgentPriority {
		text = "P" + string(data[1])
	}
	return kind, text, data[2:], true
}
