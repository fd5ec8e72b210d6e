package teams

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Limits of the inbound token check.
const (
	maxTokenLen      = 16 << 10
	maxMetadataBytes = 64 << 10
	maxJWKSBytes     = 1 << 20
	minKeyBits       = 2048
	clockSkew        = 5 * time.Minute
	// unknownKidInterval is the least time between two key fetches caused
	// by tokens with an unknown kid; coldRetryInterval the same while no
	// keys were ever loaded.
	unknownKidInterval = time.Minute
	coldRetryInterval  = 5 * time.Second
)

// errUnauthorized is what every token failure is reported as to the caller;
// the cause goes to the logs.
var errUnauthorized = errors.New("unauthorized")

// botClaims are the claims of a Bot Framework token.
type botClaims struct {
	jwt.RegisteredClaims
	ServiceURL string `json:"serviceurl"`
}

// identity is what a valid token says.
type identity struct {
	serviceURL   string
	endorsements []string // of the signing key; nil when it lists none
}

// allows reports whether the signing key is endorsed for channelID: keys
// without endorsements allow any channel.
func (id identity) allows(channelID string) bool {
	return id.endorsements == nil || slices.Contains(id.endorsements, channelID)
}

type validatorConfig struct {
	metadataURL string
	appID       string
	issuers     []string
	maxAge      time.Duration
	http        *http.Client
	now         func() time.Time
	log         *slog.Logger
}

// signingKey is one RSA key of the Bot Framework's JWKS.
type signingKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// validator checks Bot Framework tokens against keys fetched from the
// OpenID metadata document's jwks_uri. Safe for concurrent use.
type validator struct {
	cfg    validatorConfig
	parser *jwt.Parser

	mu      sync.RWMutex
	keys    map[string]signingKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt

	fetchMu sync.Mutex // one fetch at a time
}

func newValidator(cfg validatorConfig) *validator {
	return &validator{
		cfg: cfg,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithLeeway(clockSkew),
			jwt.WithAudience(cfg.appID),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(cfg.now),
		),
	}
}

// verify checks the Authorization header of a request: a Bearer token,
// RS256, a known key, issuer, audience and times. The serviceurl claim and
// the endorsements are checked by the caller against the activity. All
// failures are errUnauthorized, wrapping the cause.
func (v *validator) verify(ctx context.Context, header string) (identity, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	raw = strings.TrimSpace(raw)
	if !ok || raw == "" {
		return identity{}, fmt.Errorf("%w: no bearer token", errUnauthorized)
	}
	if len(raw) > maxTokenLen {
		return identity{}, fmt.Errorf("%w: token longer than %d bytes", errUnauthorized, maxTokenLen)
	}
	var claims botClaims
	var key signingKey
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > 256 {
			return nil, errors.New("token has no usable kid")
		}
		k, err := v.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		key = k
		return k.pub, nil
	})
	if err != nil {
		return identity{}, fmt.Errorf("%w: %w", errUnauthorized, err)
	}
	if !slices.Contains(v.cfg.issuers, claims.Issuer) {
		return identity{}, fmt.Errorf("%w: issuer %q is not accepted", errUnauthorized, claims.Issuer)
	}
	if claims.ServiceURL == "" {
		return identity{}, fmt.Errorf("%w: token has no serviceurl claim", errUnauthorized)
	}
	return identity{serviceURL: claims.ServiceURL, endorsements: key.endorsements}, nil
}

// key returns the signing key kid, fetching the keys when kid is unknown
// or the cache is older than maxAge, at most once per unknownKidInterval
// (coldRetryInterval while none were ever loaded). A failed refresh keeps
// the keys it had, so a stale key still verifies.
func (v *validator) key(ctx context.Context, kid string) (signingKey, error) {
	if k, ok, fresh := v.lookup(kid); ok && fresh {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	k, ok, fresh := v.lookup(kid) // another request may have fetched meanwhile
	if ok && fresh {
		return k, nil
	}
	v.mu.RLock()
	now, loaded, tried := v.cfg.now(), !v.fetched.IsZero(), v.tried
	v.mu.RUnlock()
	wait := unknownKidInterval
	if !loaded {
		wait = coldRetryInterval
	}
	if tried.IsZero() || now.Sub(tried) >= wait {
		v.mu.Lock()
		v.tried = now
		v.mu.Unlock()
		if err := v.fetch(ctx); err != nil {
			v.cfg.log.Warn("teams: fetching the Bot Framework signing keys failed", "err", err)
		}
		k, ok, _ = v.lookup(kid)
	}
	if !ok {
		return signingKey{}, fmt.Errorf("signing key %q is not in the Bot Framework key set", kid)
	}
	return k, nil
}

// lookup returns the cached key kid and whether the cache is fresh.
func (v *validator) lookup(kid string) (signingKey, bool, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[kid]
	fresh := !v.fetched.IsZero() && v.cfg.now().Sub(v.fetched) < v.cfg.maxAge
	return k, ok, fresh
}

// fetch loads the metadata document, then the JWKS it names, and replaces
// the cached keys when at least one usable key came back.
func (v *validator) fetch(ctx context.Context) error {
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := v.getJSON(ctx, v.cfg.metadataURL, maxMetadataBytes, &meta); err != nil {
		return fmt.Errorf("openid metadata: %w", err)
	}
	if !safeEndpoint(meta.JWKSURI) {
		return fmt.Errorf("openid metadata: jwks_uri %q is not an https URL", meta.JWKSURI)
	}
	var set struct {
		Keys []struct {
			Kty          string   `json:"kty"`
			Use          string   `json:"use"`
			Kid          string   `json:"kid"`
			N            string   `json:"n"`
			E            string   `json:"e"`
			Endorsements []string `json:"endorsements"`
		} `json:"keys"`
	}
	if err := v.getJSON(ctx, meta.JWKSURI, maxJWKSBytes, &set); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	keys := make(map[string]signingKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			v.cfg.log.Warn("teams: skipping a malformed signing key", "kid", k.Kid, "err", err)
			continue
		}
		sk := signingKey{pub: pub}
		if len(k.Endorsements) > 0 {
			sk.endorsements = slices.Clone(k.Endorsements)
		}
		keys[k.Kid] = sk
	}
	if len(keys) == 0 {
		return errors.New("signing keys: the key set has no usable RSA key")
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, v.cfg.now()
	v.mu.Unlock()
	v.cfg.log.Debug("teams: Bot Framework signing keys loaded", "keys", len(keys))
	return nil
}

// rsaKey decodes a JWK's base64url modulus and exponent.
func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n64, "="))
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e64, "="))
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("exponent out of range")
	}
	n := new(big.Int).SetBytes(nb)
	e := int(new(big.Int).SetBytes(eb).Int64())
	if n.BitLen() < minKeyBits || e < 3 || e%2 == 0 {
		return nil, fmt.Errorf("key too weak (%d bits, e=%d)", n.BitLen(), e)
	}
	return &rsa.PublicKey{N: n, E: e}, nil
}

// getJSON GETs url and decodes a JSON body of at most limit bytes.
func (v *validator) getJSON(ctx context.Context, url string, limit int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.cfg.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
		return fmt.Errorf("GET %s: HTTP %d", url, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("GET %s: document larger than %d bytes", url, limit)
	}
	return json.Unmarshal(b, out)
}
