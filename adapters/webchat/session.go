package webchat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// KeyPrefix starts every web chat conversation key: "webchat:" + session id.
const KeyPrefix = "webchat:"

// Limits on what a visitor may say about themselves when a session starts.
const (
	MaxNameLen   = 64 // characters (runes)
	MaxLocaleLen = 35 // bytes, the longest sensible BCP 47 tag
	maxTokenLen  = 1024
	sessionIDLen = 26 // crypto/rand.Text: 26 base32 characters, 128 bits
)

// tokenDomain separates this MAC from any other use of the same secret.
const tokenDomain = "tier0-webchat-token-v1\x00"

// session is what a verified token says. Nothing about it is stored on the
// server: the token carries it, signed.
type session struct {
	ID      string    // random visitor id; the conversation key is KeyPrefix + ID
	Expires time.Time // the token is refused from then on
	Name    string    // optional display name the visitor gave
	Locale  string    // optional BCP 47 locale
}

// key returns the conversation key of the session.
func (s session) key() string { return KeyPrefix + s.ID }

// tokenPayload is the signed part of a token.
type tokenPayload struct {
	Version int    `json:"v"`
	ID      string `json:"sid"`
	Expires int64  `json:"exp"`
	Name    string `json:"n,omitempty"`
	Locale  string `json:"l,omitempty"`
}

// newSessionID returns a fresh random session id.
func newSessionID() string { return rand.Text() }

// validSessionID reports whether id has the shape newSessionID produces.
func validSessionID(id string) bool {
	if len(id) != sessionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// SessionIDFromKey returns the session id of a web chat conversation key,
// and false when key is not one.
func SessionIDFromKey(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok || !validSessionID(id) {
		return "", false
	}
	return id, true
}

// signer issues and verifies session tokens: base64url(payload) "."
// base64url(HMAC-SHA256(secret, payload)).
type signer struct{ secret []byte }

func (s signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(tokenDomain))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// issue returns the token for sess.
func (s signer) issue(sess session) (string, error) {
	b, err := json.Marshal(tokenPayload{Version: 1, ID: sess.ID, Expires: sess.Expires.Unix(), Name: sess.Name, Locale: sess.Locale})
	if err != nil {
		return "", conversation.Errorf(conversation.Internal, "encode session token: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// verify checks token's signature and expiry at now. Every failure is an
// Unauthorized error; the message does not say which check failed.
func (s signer) verify(token string, now time.Time) (session, error) {
	bad := conversation.Errorf(conversation.Unauthorized, "invalid or expired session token")
	if token == "" || len(token) > maxTokenLen {
		return session{}, bad
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return session{}, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return session{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return session{}, bad
	}
	var p tokenPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.Version != 1 || !validSessionID(p.ID) {
		return session{}, bad
	}
	exp := time.Unix(p.Expires, 0)
	if !now.Before(exp) {
		return session{}, bad
	}
	return session{ID: p.ID, Expires: exp, Name: p.Name, Locale: p.Locale}, nil
}

// cleanName validates a visitor's display name: trimmed, at most
// MaxNameLen characters, no control characters.
func cleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return "", conversation.Errorf(conversation.Invalid, "name must be valid text of at most %d characters", MaxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", conversation.Errorf(conversation.Invalid, "name must not contain control characters")
		}
	}
	return name, nil
}

// cleanLocale validates a BCP 47-shaped tag: letters, digits and hyphens.
func cleanLocale(loc string) (string, error) {
	if loc != "" && !isWord(loc, MaxLocaleLen, "-") {
		return "", conversation.Errorf(conversation.Invalid, "locale must be a BCP 47 tag such as en-GB (at most %d characters)", MaxLocaleLen)
	}
	return loc, nil
}

// isWord reports whether s is 1..max bytes of ASCII letters, digits and
// the bytes in extra.
func isWord(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
