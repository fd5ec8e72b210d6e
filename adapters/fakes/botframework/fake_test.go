package botframework_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tier0/tier0/adapters/fakes/botframework"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(tb testing.TB) (*botframework.Server, *clock) {
	tb.Helper()
	c := &clock{t: time.Now().Truncate(time.Second)}
	s, err := botframework.Start(botframework.Config{Now: c.now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s, c
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(tb testing.TB, method, u, auth, contentType string, body []byte) answer {
	tb.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}
}

func getToken(tb testing.TB, s *botframework.Server, secret string) (int, map[string]any) {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.Config().AppID}, "client_secret": {secret}, "scope": {botframework.BotFrameworkScope}}
	a := do(tb, http.MethodPost, s.TokenURL(), "", "application/x-www-form-urlencoded", []byte(form.Encode()))
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return a.status, m
}

func TestTokenEndpoint(t *testing.T) {
	s, _ := start(t)
	status, m := getToken(t, s, "wrong")
	if status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", status, m)
	}
	status, m = getToken(t, s, s.Config().AppPassword)
	if status != http.StatusOK || m["access_token"] == "" || m["expires_in"] != float64(3600) || m["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", status, m)
	}
	bad := do(t, http.MethodPost, s.TokenURL(), "", "application/x-www-form-urlencoded", []byte("grant_type=password"))
	if bad.status != http.StatusBadRequest {
		t.Fatalf("password grant: %d", bad.status)
	}
	if s.TokenRequests() != 1 {
		t.Fatalf("TokenRequests = %d, want 1", s.TokenRequests())
	}
}

// jwksKey finds kid in the fake's JWKS, found through its metadata.
func jwksKey(tb testing.TB, s *botframework.Server, kid string) (*rsa.PublicKey, []string) {
	tb.Helper()
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(do(tb, http.MethodGet, s.MetadataURL(), "", "", nil).body, &meta); err != nil {
		tb.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid, N, E    string
			Endorsements []string
		}
	}
	if err := json.Unmarshal(do(tb, http.MethodGet, meta.JWKSURI, "", "", nil).body, &set); err != nil {
		tb.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			n, _ := base64.RawURLEncoding.DecodeString(k.N)
			e, _ := base64.RawURLEncoding.DecodeString(k.E)
			return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, k.Endorsements
		}
	}
	return nil, nil
}

func TestSignedTokensVerifyAgainstTheJWKS(t *testing.T) {
	s, c := start(t)
	tok, err := s.SignToken(botframework.Claims{ServiceURL: s.ServiceURL()})
	if err != nil {
		t.Fatal(err)
	}
	pub, endorsements := jwksKey(t, s, s.KeyID())
	if pub == nil || len(endorsements) != 1 || endorsements[0] != "msteams" {
		t.Fatalf("JWKS key for %s: %v %v", s.KeyID(), pub, endorsements)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(c.now), jwt.WithAudience(s.Config().AppID), jwt.WithIssuer("https://api.botframework.com"))
	if err != nil || parsed.Header["kid"] != s.KeyID() || claims["serviceurl"] != s.ServiceURL() {
		t.Fatalf("token: %v header=%v claims=%v", err, parsed.Header, claims)
	}
	old := s.KeyID()
	if _, err := s.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if k, _ := jwksKey(t, s, old); k != nil {
		t.Fatal("the rotated-out key is still served")
	}
	if meta, keys := s.KeyFetches(); meta != 2 || keys != 2 {
		t.Fatalf("KeyFetches = %d, %d; want 2, 2", meta, keys)
	}
}

func TestConnector(t *testing.T) {
	s, c := start(t)
	_, m := getToken(t, s, s.Config().AppPassword)
	bearer := "Bearer " + m["access_token"].(string)
	conv := "a:1xyz"
	send := s.ServiceURL() + "v3/conversations/" + url.PathEscape(conv) + "/activities"
	msg := []byte(`{"type":"message","text":"hi"}`)

	if a := do(t, http.MethodPost, send, "", "application/json", msg); a.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", a.status)
	}
	if a := do(t, http.MethodPost, send, "Bearer forged", "application/json", msg); a.status != http.StatusUnauthorized {
		t.Fatalf("forged token: %d", a.status)
	}
	a := do(t, http.MethodPost, send, bearer, "application/json", msg)
	if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"id"`)) {
		t.Fatalf("send: %d %s", a.status, a.body)
	}
	reply := do(t, http.MethodPost, send+"/1700000000042", bearer, "application/json", msg)
	if reply.status != http.StatusOK {
		t.Fatalf("reply: %d %s", reply.status, reply.body)
	}
	recs := s.InConversation(conv)
	if len(recs) != 2 || recs[0].Activity.Text != "hi" || recs[1].ReplyTo != "1700000000042" {
		t.Fatalf("recorded: %+v", recs)
	}

	tests := []struct {
		name string
		body string
		want int
	}{
		{"malformed", `{"type":`, http.StatusBadRequest},
		{"empty message", `{"type":"message"}`, http.StatusBadRequest},
		{"unknown type", `{"type":"telepathy","text":"x"}`, http.StatusBadRequest},
		{"card without version", `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","body":[]}}]}`, http.StatusBadRequest},
		{"oversized", `{"type":"message","text":"` + strings.Repeat("x", 300<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"typing", `{"type":"typing"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := do(t, http.MethodPost, send, bearer, "application/json", []byte(tt.body)); a.status != tt.want {
				t.Fatalf("status %d, want %d: %s", a.status, tt.want, a.body)
			}
		})
	}

	t.Run("faults", func(t *testing.T) {
		s.FailNext(http.StatusTooManyRequests, 2, "3")
		s.FailNext(http.StatusBadGateway, 1, "")
		for i, want := range []int{429, 429, 502, 200} {
			a := do(t, http.MethodPost, send, bearer, "application/json", msg)
			if a.status != want {
				t.Fatalf("call %d: %d, want %d", i, a.status, want)
			}
			if want == 429 && a.header.Get("Retry-After") != "3" {
				t.Fatalf("call %d: Retry-After %q", i, a.header.Get("Retry-After"))
			}
		}
	})
	t.Run("create a reply chain", func(t *testing.T) {
		body := `{"isGroup":true,"channelData":{"channel":{"id":"19:c@thread.tacv2"},"tenant":{"id":"` + s.Config().TenantID + `"}},"activity":{"type":"message","text":"ticket"}}`
		a := do(t, http.MethodPost, s.ServiceURL()+"v3/conversations", bearer, "application/json", []byte(body))
		var res struct{ ID, ActivityID string }
		_ = json.Unmarshal(a.body, &res)
		if a.status != http.StatusCreated || res.ID != "19:c@thread.tacv2;messageid="+res.ActivityID {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		noChannel := do(t, http.MethodPost, s.ServiceURL()+"v3/conversations", bearer, "application/json", []byte(`{"isGroup":true,"activity":{"type":"message","text":"x"}}`))
		if noChannel.status != http.StatusBadRequest {
			t.Fatalf("create without channel: %d", noChannel.status)
		}
	})
	t.Run("revoked and expired tokens", func(t *testing.T) {
		s.RevokeTokens()
		if a := do(t, http.MethodPost, send, bearer, "application/json", msg); a.status != http.StatusUnauthorized {
			t.Fatalf("revoked: %d", a.status)
		}
		_, m := getToken(t, s, s.Config().AppPassword)
		fresh := "Bearer " + m["access_token"].(string)
		c.advance(61 * time.Minute)
		if a := do(t, http.MethodPost, send, fresh, "application/json", msg); a.status != http.StatusUnauthorized {
			t.Fatalf("expired: %d", a.status)
		}
	})
}

func TestDeliverSignsAndPosts(t *testing.T) {
	s, _ := start(t)
	type got struct {
		auth string
		act  botframework.Activity
	}
	ch := make(chan got, 1)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a botframework.Activity
		_ = json.NewDecoder(r.Body).Decode(&a)
		ch <- got{r.Header.Get("Authorization"), a}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer bot.Close()
	u := botframework.User{ID: "29:1u", Name: "U", AADObjectID: "aad-u"}
	msg := s.ChannelMessage("19:c@thread.tacv2", "", u, "hello")
	status, err := s.Deliver(context.Background(), bot.URL, msg)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Deliver: %d %v", status, err)
	}
	g := <-ch
	if !strings.HasPrefix(g.auth, "Bearer ") {
		t.Fatalf("Authorization = %q", g.auth)
	}
	a := g.act
	if a.Text != "<at>tier0</at> hello" || len(a.Entities) != 1 || a.Entities[0].Mentioned.ID != s.Bot().ID ||
		a.Conversation.ID != "19:c@thread.tacv2;messageid="+a.ID || a.ServiceURL != s.ServiceURL() || a.ChannelData.Channel.ID != "19:c@thread.tacv2" {
		t.Fatalf("channel message = %+v", a)
	}
	sub := s.Submit(a.Conversation.ID, a.ID, u, json.RawMessage(`{"tier0_action":"claim"}`))
	if sub.Text != "" || string(sub.Value) != `{"tier0_action":"claim"}` || sub.ReplyToID != a.ID || !sub.Conversation.IsGroup {
		t.Fatalf("submit = %+v", sub)
	}
}
