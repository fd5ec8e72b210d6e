package agentconsole

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation"
)

// CookieName is the session cookie; CSRFHeader the header that must carry
// the CSRF token on state-changing requests.
const (
	CookieName = "tier0_console"
	CSRFHeader = "X-CSRF-Token"
)

// MAC domains separate the session MAC from the CSRF MAC made with the
// same secret.
const (
	sessionDomain = "tier0-console-session-v1\x00"
	csrfDomain    = "tier0-console-csrf-v1\x00"
	maxCookieLen  = 512
	maxLoginIPs   = 10000
)

// session is a verified login.
type session struct {
	account *Account
	cookie  string // the signed cookie value, which the CSRF token is bound to
}

// authenticator issues and verifies session cookies and CSRF tokens and
// checks passwords.
type authenticator struct {
	secret   []byte
	ttl      time.Duration
	now      func() time.Time
	accounts []Account
	secure   bool
	// dummy is a bcrypt hash compared against for unknown usernames, so
	// they take as long as wrong passwords.
	dummy   []byte
	limiter *loginLimiter
}

func newAuthenticator(cfg Config) (authenticator, error) {
	cost := bcrypt.MinCost
	for _, a := range cfg.Accounts {
		if c, err := bcrypt.Cost([]byte(a.PasswordHash)); err == nil && c > cost {
			cost = c
		}
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return authenticator{}, conversation.Errorf(conversation.Internal, "agent console: prepare password check: %w", err)
	}
	return authenticator{
		secret:   append([]byte(nil), cfg.Secret...),
		ttl:      cfg.SessionTTL,
		now:      cfg.Now,
		accounts: cfg.Accounts,
		secure:   cfg.SecureCookie,
		dummy:    dummy,
		limiter:  &loginLimiter{perMinute: cfg.LoginsPerMinute, ips: make(map[string]*window)},
	}, nil
}

func (a *authenticator) mac(domain, msg string) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(domain))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// issue returns the cookie value for username: base64url("username|exp")
// "." base64url(MAC).
func (a *authenticator) issue(username string, exp time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(username + "|" + strconv.FormatInt(exp.Unix(), 10)))
	return payload + "." + base64.RawURLEncoding.EncodeToString(a.mac(sessionDomain, payload))
}

// csrfToken is the CSRF token bound to a session cookie value.
func (a *authenticator) csrfToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac(csrfDomain, cookie))
}

var errNoSession = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: msgLogin}

// verify checks a cookie value: MAC, expiry and a still-configured account.
func (a *authenticator) verify(v string) (*Account, error) {
	if v == "" || len(v) > maxCookieLen {
		return nil, errNoSession
	}
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errNoSession
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(sessionDomain, payload)) {
		return nil, errNoSession
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errNoSession
	}
	user, exp, ok := strings.Cut(string(raw), "|")
	secs, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || !a.now().Before(time.Unix(secs, 0)) {
		return nil, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Msg: "your session has expired; please log in again"}
	}
	acc := a.lookup(user)
	if acc == nil {
		return nil, errNoSession
	}
	return acc, nil
}

// lookup finds an account by username, comparing every one in constant
// time.
func (a *authenticator) lookup(user string) *Account {
	var found *Account
	for i := range a.accounts {
		if subtle.ConstantTimeCompare([]byte(a.accounts[i].Username), []byte(user)) == 1 {
			found = &a.accounts[i]
		}
	}
	return found
}

// authenticate verifies r's session cookie and, when csrf is set, its
// X-CSRF-Token header. Errors: 401 without a valid session, 403 for a
// missing or wrong CSRF token.
func (a *authenticator) authenticate(r *http.Request, csrf bool) (*session, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil, errNoSession
	}
	acc, err := a.verify(ck.Value)
	if err != nil {
		return nil, err
	}
	if csrf {
		tok := r.Header.Get(CSRFHeader)
		if tok == "" || !hmac.Equal([]byte(tok), []byte(a.csrfToken(ck.Value))) {
			return nil, &apiError{Status: http.StatusForbidden, Code: "csrf", Msg: "a valid " + CSRFHeader + " header is required"}
		}
	}
	return &session{account: acc, cookie: ck.Value}, nil
}

// checkPassword reports whether password is user's. An unknown user costs
// as much as a wrong password.
func (a *authenticator) checkPassword(user, password string) *Account {
	acc := a.lookup(user)
	hash := a.dummy
	if acc != nil {
		hash = []byte(acc.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || acc == nil {
		return nil
	}
	return acc
}

func (a *authenticator) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: strings.TrimSuffix(Prefix, "/"), MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// loginLimiter counts login attempts per client IP in one-minute windows;
// at most maxLoginIPs windows are held.
type loginLimiter struct {
	perMinute int
	mu        sync.Mutex
	ips       map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// allow counts an attempt from ip at now; false when over the limit.
func (l *loginLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.ips[ip]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if w == nil && len(l.ips) >= maxLoginIPs {
			for k, v := range l.ips {
				if now.Sub(v.start) >= time.Minute {
					delete(l.ips, k)
				}
			}
			if len(l.ips) >= maxLoginIPs {
				return false
			}
		}
		w = &window{start: now}
		l.ips[ip] = w
	}
	w.n++
	return w.n <= l.perMinute
}

// clientIP is the address the request came from. Forwarding headers are
// not trusted: a proxy in front should limit logins itself.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginRequest is the body of POST /console/api/login.
type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// sessionResponse answers a login and GET /console/api/session.
type sessionResponse struct {
	CSRFToken string `json:"csrf_token"`
	Name      string `json:"name"`
	Username  string `json:"username"`
}

func (c *Console) login(w http.ResponseWriter, r *http.Request, _ *session, _ string) error {
	if !c.auth.limiter.allow(clientIP(r), c.cfg.Now()) {
		return &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Msg: "too many login attempts; wait a minute", RetryAfter: time.Minute}
	}
	var req loginRequest
	if err := decodeJSON(w, r, c.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var acc *Account
	if len(req.Username) <= MaxUsernameLen && len(req.Password) <= MaxPasswordLen {
		acc = c.auth.checkPassword(req.Username, req.Password)
	}
	if acc == nil {
		c.log.Info("agent login failed")
		return &apiError{Status: http.StatusUnauthorized, Code: "bad_credentials", Msg: "unknown username or wrong password"}
	}
	exp := c.cfg.Now().Add(c.cfg.SessionTTL)
	v := c.auth.issue(acc.Username, exp)
	c.auth.setCookie(w, r, v, int(c.cfg.SessionTTL.Seconds()))
	c.log.Info("agent logged in", "agent", acc.Username)
	httpjson.Write(w, http.StatusOK, sessionResponse{CSRFToken: c.auth.csrfToken(v), Name: acc.Name, Username: acc.Username})
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session, _ string) error {
	c.auth.setCookie(w, r, "", -1)
	c.log.Info("agent logged out", "agent", s.account.Username)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (c *Console) sessionInfo(w http.ResponseWriter, _ *http.Request, s *session, _ string) error {
	httpjson.Write(w, http.StatusOK, sessionResponse{CSRFToken: c.auth.csrfToken(s.cookie), Name: s.account.Name, Username: s.account.Username})
	return nil
}

// apiError is an HTTP error answer (see httpjson.Error).
type apiError = httpjson.Error

// decodeJSON reads one JSON object of at most max bytes into v. Errors:
// 415 for another content type, 413 for a larger body, 400 for malformed
// JSON, unknown fields or trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Msg: "the body must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Msg: "the request body is larger than " + strconv.FormatInt(max, 10) + " bytes", Err: err}
	case err != nil:
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Msg: "the body must be one JSON object with the documented fields", Err: err}
	}
	return nil
}
