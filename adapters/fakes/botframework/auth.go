package botframework

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BotFrameworkScope is the scope a bot asks for its connector token.
const BotFrameworkScope = "https://api.botframework.com/.default"

// RotateKey replaces the signing key with a fresh one under a new kid and
// returns the kid. The JWKS serves only the new key from now on, so a bot
// must fetch the keys again to accept new tokens. Errors: key generation.
func (s *Server) RotateKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, s.cfg.KeyBits)
	if err != nil {
		return "", fmt.Errorf("botframework fake: generate key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyGen++
	s.key, s.kid = k, "fake-key-"+strconv.Itoa(s.keyGen)+"-"+rand.Text()[:8]
	return s.kid, nil
}

// KeyID returns the kid of the current signing key.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kid
}

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.metaFetches++
	s.mu.Unlock()
	base := s.URL()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.cfg.Issuer,
		"authorization_endpoint":                base + "/v1/.well-known/authorize",
		"jwks_uri":                              base + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

// jwk is one key of the JWKS, with the Bot Framework's endorsements.
type jwk struct {
	Kty          string   `json:"kty"`
	Use          string   `json:"use"`
	Kid          string   `json:"kid"`
	N            string   `json:"n"`
	E            string   `json:"e"`
	Endorsements []string `json:"endorsements,omitempty"`
}

func (s *Server) keys(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.keyFetches++
	pub, kid := s.key.PublicKey, s.kid
	s.mu.Unlock()
	b64 := base64.RawURLEncoding.EncodeToString
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{{
		Kty:          "RSA",
		Use:          "sig",
		Kid:          kid,
		N:            b64(pub.N.Bytes()),
		E:            b64(big.NewInt(int64(pub.E)).Bytes()),
		Endorsements: s.cfg.Endorsements,
	}}})
}

// token is the Azure AD v2 token endpoint for the client credentials
// grant, with its error shape ({"error","error_description"}).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "the request body must be form-encoded")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	case f.Get("client_id") != s.cfg.AppID || f.Get("client_secret") != s.cfg.AppPassword:
		oauthErr(http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	case f.Get("scope") != BotFrameworkScope:
		oauthErr(http.StatusBadRequest, "invalid_scope", "AADSTS70011: The provided value for scope is not valid.")
	default:
		tok := randomToken("fake-access-")
		s.mu.Lock()
		s.tokens[tok] = s.cfg.Now().Add(s.cfg.TokenTTL)
		s.tokenReqs++
		s.mu.Unlock()
		secs := int(s.cfg.TokenTTL / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     secs,
			"ext_expires_in": secs,
			"access_token":   tok,
		})
	}
}

// Claims are what [Server.SignToken] puts into a token. Zero fields take
// the defaults: the configured issuer and app id, NotBefore and IssuedAt
// five minutes ago, ExpiresAt in one hour, the current key and its kid.
type Claims struct {
	Issuer     string
	Audience   string
	ServiceURL string // the serviceurl claim; must equal the activity's serviceUrl
	IssuedAt   time.Time
	NotBefore  time.Time
	ExpiresAt  time.Time
	// KeyID is the kid header; Key signs the token. Set both to sign with
	// a key the JWKS does not have.
	KeyID string
	Key   *rsa.PrivateKey
}

// SignToken returns an RS256 token as the Bot Framework sends it to a
// bot's messaging endpoint. Errors: signing.
func (s *Server) SignToken(c Claims) (string, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	key, kid := s.key, s.kid
	s.mu.Unlock()
	if c.Key != nil {
		key = c.Key
	}
	if c.KeyID != "" {
		kid = c.KeyID
	}
	if c.Issuer == "" {
		c.Issuer = s.cfg.Issuer
	}
	if c.Audience == "" {
		c.Audience = s.cfg.AppID
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now.Add(-5 * time.Minute)
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = now.Add(-5 * time.Minute)
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = now.Add(time.Hour)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":        c.Issuer,
		"aud":        c.Audience,
		"serviceurl": c.ServiceURL,
		"iat":        c.IssuedAt.Unix(),
		"nbf":        c.NotBefore.Unix(),
		"exp":        c.ExpiresAt.Unix(),
	})
	t.Header["kid"] = kid
	signed, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("botframework fake: sign token: %w", err)
	}
	return signed, nil
}
