package teams_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tier0/tier0/adapters/fakes/botframework"
)

func TestInboundTokenValidation(t *testing.T) {
	h := newHarness(t, nil)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	claims := func(m jwt.MapClaims) jwt.MapClaims {
		base := jwt.MapClaims{
			"iss": "https://api.botframework.com", "aud": h.fake.Config().AppID,
			"serviceurl": h.fake.ServiceURL(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		for k, v := range m {
			base[k] = v
		}
		return base
	}
	algNone := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"] = h.fake.KeyID()
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs256 := func() string {
		// The classic confusion: HMAC keyed with the public key.
		pub, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header["kid"] = h.fake.KeyID()
		s, err := tok.SignedString(pub)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rs384 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS384, claims(nil))
		tok.Header["kid"] = "x"
		s, err := tok.SignedString(other)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name    string
		auth    func() string
		channel string // activity channelId (default msteams)
		want    int
	}{
		{"valid", func() string { return "Bearer " + h.token(t, botframework.Claims{}) }, "", http.StatusAccepted},
		{"expired within the clock skew", func() string {
			return "Bearer " + h.token(t, botframework.Claims{ExpiresAt: now.Add(-4 * time.Minute)})
		}, "", http.StatusAccepted},
		{"no header", func() string { return "" }, "", http.StatusUnauthorized},
		{"not bearer", func() string { return "Basic dXNlcjpwYXNz" }, "", http.StatusUnauthorized},
		{"empty bearer", func() string { return "Bearer " }, "", http.StatusUnauthorized},
		{"garbage", func() string { return "Bearer not.a.token" }, "", http.StatusUnauthorized},
		{"garbage base64", func() string { return "Bearer ###.$$$.%%%" }, "", http.StatusUnauthorized},
		{"huge", func() string { return "Bearer " + strings.Repeat("a", 20000) }, "", http.StatusUnauthorized},
		{"wrong audience", func() string { return "Bearer " + h.token(t, botframework.Claims{Audience: "some-other-bot"}) }, "", http.StatusUnauthorized},
		{"wrong issuer", func() string { return "Bearer " + h.token(t, botframework.Claims{Issuer: "https://evil.example"}) }, "", http.StatusUnauthorized},
		{"expired", func() string {
			return "Bearer " + h.token(t, botframework.Claims{ExpiresAt: now.Add(-10 * time.Minute)})
		}, "", http.StatusUnauthorized},
		{"not yet valid", func() string {
			return "Bearer " + h.token(t, botframework.Claims{NotBefore: now.Add(10 * time.Minute)})
		}, "", http.StatusUnauthorized},
		{"kid not in JWKS", func() string { return "Bearer " + h.token(t, botframework.Claims{KeyID: "unknown-kid"}) }, "", http.StatusUnauthorized},
		{"signed by another key under a known kid", func() string {
			return "Bearer " + h.token(t, botframework.Claims{Key: other, KeyID: h.fake.KeyID()})
		}, "", http.StatusUnauthorized},
		{"signed by another key under its own kid", func() string {
			return "Bearer " + h.token(t, botframework.Claims{Key: other, KeyID: "attacker"})
		}, "", http.StatusUnauthorized},
		{"serviceurl of another connector", func() string {
			return "Bearer " + h.token(t, botframework.Claims{ServiceURL: "https://smba.trafficmanager.net/emea/"})
		}, "", http.StatusUnauthorized},
		{"alg none", func() string { return "Bearer " + algNone() }, "", http.StatusUnauthorized},
		{"HS256", func() string { return "Bearer " + hs256() }, "", http.StatusUnauthorized},
		{"RS384", func() string { return "Bearer " + rs384() }, "", http.StatusUnauthorized},
		{"channel the key is not endorsed for", func() string { return "Bearer " + h.token(t, botframework.Claims{}) }, "slack", http.StatusUnauthorized},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := h.fake.PersonalMessage(alice, "hello")
			if tt.channel != "" {
				act.ChannelID = tt.channel
			}
			if got := h.post(t, tt.auth(), mustJSON(t, act)); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
			if tt.want == http.StatusAccepted {
				accepted++
			}
			if got := len(h.eng.messages()); got != accepted {
				t.Fatalf("engine got %d messages, want %d (only accepted requests reach it)", got, accepted)
			}
		})
	}
	// Two unknown kids in the same minute: at most one extra key fetch.
	if meta, keys := h.fake.KeyFetches(); meta > 2 || keys > 2 {
		t.Errorf("key fetches = %d metadata, %d JWKS; want at most 2 each (unknown kids are rate-limited)", meta, keys)
	}
}

func TestKeysRefreshedWhenTheFakeRotates(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "first")); got != http.StatusAccepted {
		t.Fatalf("first message: status %d, want 202", got)
	}
	if meta, keys := h.fake.KeyFetches(); meta != 1 || keys != 1 {
		t.Fatalf("after the first message: %d/%d fetches, want 1/1", meta, keys)
	}
	if _, err := h.fake.RotateKey(); err != nil {
		t.Fatal(err)
	}
	// The new kid is unknown; the keys were fetched moments ago, so the
	// adapter may fetch once more now, but not on every request.
	first := h.deliver(t, h.fake.PersonalMessage(alice, "after rotation"))
	_ = h.deliver(t, h.fake.PersonalMessage(alice, "again"))
	_, keys := h.fake.KeyFetches()
	if first == http.StatusAccepted {
		t.Fatalf("a token of the rotated key was accepted without a key fetch (fetches %d)", keys)
	}
	if keys != 1 {
		t.Fatalf("JWKS fetched %d times within a minute of the last fetch, want 1 (rate limit)", keys)
	}
	h.clock.Advance(61 * time.Second)
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "a minute later")); got != http.StatusAccepted {
		t.Fatalf("after the refresh interval: status %d, want 202", got)
	}
	if _, keys := h.fake.KeyFetches(); keys != 2 {
		t.Fatalf("JWKS fetches = %d, want 2", keys)
	}
	// Periodic refresh: a day later the known key is fetched again.
	h.clock.Advance(25 * time.Hour)
	if got := h.deliver(t, h.fake.PersonalMessage(alice, "next day")); got != http.StatusAccepted {
		t.Fatalf("next day: status %d, want 202", got)
	}
	if _, keys := h.fake.KeyFetches(); keys != 3 {
		t.Fatalf("JWKS fetches after a day = %d, want 3 (periodic refresh)", keys)
	}
}
