package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/doortest"
	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

// The Bot Framework endpoints whose answers the adapter parses, by the
// fake's paths.
const (
	routeToken    = iota // POST {tenant}/oauth2/v2.0/token
	routeSend            // POST /v3/conversations/{id}/activities[/{replyTo}]
	routeCreate          // POST /v3/conversations (a staff reply chain)
	routeMetadata        // GET the OpenID metadata document
	routeKeys            // GET the JWKS it names
	routes
)

func routeOf(path string) int {
	switch {
	case strings.HasSuffix(path, "/oauth2/v2.0/token"):
		return routeToken
	case strings.HasPrefix(path, "/v3/conversations/"):
		return routeSend
	case path == "/v3/conversations":
		return routeCreate
	case strings.HasSuffix(path, "/openidconfiguration"):
		return routeMetadata
	case strings.HasSuffix(path, "/keys"):
		return routeKeys
	}
	return -1
}

// answerSeeds drives an adapter against the fake Bot Framework (a token
// check, which loads the keys; a reply, which fetches a token; a handoff
// card, which opens a staff chain; a 429 with Retry-After and a 500 the
// retry gets past; a revoked token) and returns the fake's answers, with
// the fake's own URL in them as urlMarker.
func answerSeeds(tb testing.TB) []doortest.HTTPAnswer {
	tb.Helper()
	h := newHarness(tb, nil)
	rec := &doortest.Recorder{}
	teams.SetTransport(h.adapter, rec)
	key, _ := h.inboundFrom(tb, alice)
	for i, fail := range []func(){nil, func() { h.fake.FailNext(http.StatusTooManyRequests, 1, "3") },
		func() { h.fake.FailNext(http.StatusInternalServerError, 1, "") }, h.fake.RevokeTokens} {
		if fail != nil {
			fail()
		}
		if err := h.send(tb, answer("o-seed-"+strconv.Itoa(i), key)); err != nil {
			tb.Fatalf("seed send %d: %v", i, err)
		}
	}
	if err := h.staffSend(tb, conversation.Outbound{ID: "o-seed-h", ConversationKey: key, Kind: conversation.KindHandoff, Text: handoffText}); err != nil {
		tb.Fatalf("seed handoff: %v", err)
	}
	answers := rec.Answers()
	for i := range answers {
		answers[i].Body = bytes.ReplaceAll(answers[i].Body, []byte(h.fake.URL()), []byte(urlMarker))
	}
	return answers
}

// urlMarker stands for the server's URL in seeds; the fuzz server puts
// its own there.
const urlMarker = "http://bf.invalid"

// answerServer answers every route with the fake's real answer except
// the route a fuzz input is for, which gets the fuzzed one.
type answerServer struct {
	*httptest.Server
	fuzzed doortest.Scripted
	target atomic.Int32
	real   [routes]doortest.HTTPAnswer
	bearer atomic.Pointer[string] // the Authorization of the last connector call
}

// withURL puts the server's URL where b has urlMarker.
func (s *answerServer) withURL(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte(urlMarker), []byte(s.URL))
}

func newAnswerServer(tb testing.TB, seeds []doortest.HTTPAnswer) *answerServer {
	tb.Helper()
	s := &answerServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := routeOf(r.URL.Path)
		if route == routeSend || route == routeCreate {
			auth := r.Header.Get("Authorization")
			s.bearer.Store(&auth)
		}
		switch {
		case route < 0:
			http.NotFound(w, r)
		case route == int(s.target.Load()):
			s.fuzzed.ServeHTTP(w, r)
		default:
			real := s.real[route]
			real.Body = s.withURL(real.Body)
			var good doortest.Scripted
			good.Set(real)
			good.ServeHTTP(w, r)
		}
	}))
	tb.Cleanup(s.Close)
	for _, a := range seeds {
		if r := routeOf(a.Path); r >= 0 && a.Status/100 == 2 && s.real[r].Status == 0 {
			s.real[r] = a
		}
	}
	for r, a := range s.real {
		if a.Status == 0 {
			tb.Fatalf("the fake gave no successful answer on route %d", r)
		}
	}
	return s
}

// fuzzHarness is an adapter whose token endpoint, connector (customer and
// staff) and key documents are the answer server, with alice's
// conversation reference pointing at it. Its HTTP client dials only the
// answer server, whatever URL a fuzzed document names. The key
// documents' real answers are its own fake's, whose tokens h.token signs.
func fuzzHarness(tb testing.TB) (*harness, *answerServer, string, []doortest.HTTPAnswer) {
	tb.Helper()
	seeds := answerSeeds(tb)
	srv := newAnswerServer(tb, seeds)
	h := newHarness(tb, func(c *teams.Config) {
		c.TokenURL = srv.URL + "/botframework.com/oauth2/v2.0/token"
		c.OpenIDMetadataURL = srv.URL + "/v1/.well-known/openidconfiguration"
		c.StaffServiceURL = srv.URL + "/"
		c.HTTPTimeout = 5 * time.Second
		c.Workers, c.QueueSize = 1, 1
	})
	addr := srv.Listener.Addr().String()
	teams.SetTransport(h.adapter, &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}})
	rec := &doortest.Recorder{}
	c := &http.Client{Transport: rec}
	for _, u := range []string{h.fake.MetadataURL(), h.fake.URL() + "/v1/.well-known/keys"} {
		res, err := c.Get(u)
		if err != nil {
			tb.Fatal(err)
		}
		res.Body.Close()
	}
	for _, a := range rec.Answers() {
		a.Body = bytes.ReplaceAll(a.Body, []byte(h.fake.URL()), []byte(urlMarker))
		srv.real[routeOf(a.Path)] = a
		seeds = append(seeds, a)
	}
	key := h.personalKey(alice)
	ref, err := json.Marshal(map[string]any{
		"serviceUrl":   srv.URL + "/",
		"conversation": map[string]string{"id": botframework.PersonalConversationID(alice), "tenantId": h.fake.Config().TenantID},
		"bot":          h.fake.Bot(),
		"user":         map[string]string{"id": alice.ID, "name": alice.Name},
		"channelId":    "msteams",
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.refs.PutRef(context.Background(), "teams.ref", key, string(ref), 0); err != nil {
		tb.Fatal(err)
	}
	return h, srv, key, seeds
}

// forget drops every ref of namespace ns (the sent marks a long fuzz run
// would pile up).
func (r *memRefs) forget(ns string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.m {
		if strings.HasPrefix(k, ns+"\x00") {
			delete(r.m, k)
		}
	}
}

// truncated returns the first half of b: a body cut off mid-answer.
func truncated(b []byte) []byte { return b[:len(b)/2] }

// documented are the conversation error codes the senders document.
var documented = map[conversation.Code]bool{conversation.Invalid: true, conversation.Unavailable: true,
	conversation.Unauthorized: true, conversation.NotFound: true, conversation.Internal: true}

// checkDocumented fails t when err is neither a RetryAfterError around an
// Unavailable error nor an error with a documented code.
func checkDocumented(t *testing.T, what string, err error) {
	t.Helper()
	var ra *conversation.RetryAfterError
	if errors.As(err, &ra) {
		if c := conversation.ErrorCode(ra.Err); c != conversation.Unavailable || ra.After <= 0 {
			t.Errorf("%s: RetryAfterError %v (after %s) wraps code %q, want Unavailable", what, err, ra.After, c)
		}
		return
	}
	if c := conversation.ErrorCode(err); !documented[c] {
		t.Errorf("%s: error %v has code %q, not a documented one", what, err, c)
	}
}

// FuzzConnectorAnswer gives the adapter's outbound client an arbitrary
// answer (status, Retry-After, body) from one endpoint, the others
// answering as the fake Bot Framework does: the token endpoint (before a
// reply), the connector's send-activity (a reply), or its create
// conversation (a handoff card opening a staff chain). There is no
// update-activity call in the adapter. Properties: no panic; every
// failure is an error with a documented code; any non-2xx answer is an
// error (a 401 from the connector after one token refresh); a token
// endpoint answer without an access token or a valid expires_in is an
// error, and a success sent the connector exactly the token answered; a
// staff chain is only opened with a conversation id. A 2xx to a send is a
// success even without an activity id: the connector took the message
// (the sent mark then says "sent"), and a retry would post it twice.
func FuzzConnectorAnswer(f *testing.F) {
	h, srv, key, seeds := fuzzHarness(f)
	for _, s := range seeds {
		if r := routeOf(s.Path); r >= 0 && r < routeMetadata {
			f.Add(uint8(r), uint16(s.Status-200), s.RetryAfter, s.Body)
			if len(s.Body) > 1 {
				f.Add(uint8(r), uint16(s.Status-200), "", truncated(s.Body))
			}
		}
	}
	for _, s := range []struct {
		route      int
		status     int
		retryAfter string
		body       string
	}{
		{routeToken, 401, "", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`},
		{routeToken, 429, "7", `{"error":"temporarily_unavailable"}`},
		{routeToken, 500, "", ``},
		{routeToken, 200, "", `{"token_type":"Bearer","expires_in":3600}`},
		{routeToken, 200, "", `{"access_token":"","expires_in":"3600"}`},
		{routeToken, 200, "", `{"access_token":"abc","expires_in":"-1"}`},
		{routeToken, 200, "", `{"access_token":"abc","expires_in":"3600"}`},
		{routeSend, 401, "", `{"error":{"code":"Unauthorized","message":"Authorization has been denied for this request."}}`},
		{routeSend, 429, "Wed, 21 Oct 2015 07:28:00 GMT", `{"error":{"code":"ServiceError","message":"Too Many Requests"}}`},
		{routeSend, 404, "", `{"error":{"code":"ConversationNotFound","message":"Conversation not found."}}`},
		{routeSend, 201, "", ``},
		{routeSend, 200, "", `{"id":`},
		{routeCreate, 201, "", `{"id":"","activityId":""}`},
		{routeCreate, 201, "", `{"id":"19:x@thread.tacv2;messageid=","serviceUrl":"http://evil.example/"}`},
		{routeCreate, 503, "120", `{"error":{"code":"ServiceUnavailable"}}`},
	} {
		f.Add(uint8(s.route), uint16(s.status-200), s.retryAfter, []byte(s.body))
	}

	var n atomic.Int64 // a new outbound id each time: no "sent already"
	f.Fuzz(func(t *testing.T, which uint8, code uint16, retryAfter string, body []byte) {
		if len(body) > 64<<10 || len(retryAfter) > 64 || strings.ContainsAny(retryAfter, "\r\n\x00") {
			return
		}
		route := int(which) % routeMetadata
		st := doortest.FuzzStatus(code)
		srv.target.Store(int32(route))
		srv.fuzzed.Set(doortest.HTTPAnswer{Status: st, RetryAfter: retryAfter, Body: srv.withURL(body)})
		srv.bearer.Store(nil)
		teams.ForgetToken(h.adapter)
		h.refs.forget("teams-sent")
		h.refs.forget("teams.staff")
		h.refs.forget("teams.staff.chain")
		id := "o-fuzz-" + strconv.FormatInt(n.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		if route == routeCreate {
			err = h.adapter.StaffSender().Send(ctx, conversation.Outbound{ID: id, ConversationKey: key, Channel: teams.StaffChannel, Kind: conversation.KindHandoff, Text: handoffText})
		} else {
			err = h.adapter.Sender().Send(ctx, answer(id, key))
		}
		if err != nil {
			checkDocumented(t, "route "+strconv.Itoa(route), err)
		}
		if st/100 != 2 && err == nil {
			t.Fatalf("route %d: status %d %q answered without an error", route, st, body)
		}
		if err != nil {
			return
		}
		switch route {
		case routeToken:
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal(body, &tok)
			if b := srv.bearer.Load(); tok.AccessToken == "" || b == nil || *b != "Bearer "+tok.AccessToken {
				t.Fatalf("token answer %q: the send succeeded with Authorization %v", body, b)
			}
		case routeCreate:
			raw, ok := h.refs.get("teams.staff", key)
			var th struct {
				ConversationID string `json:"conversationId"`
			}
			if !ok || json.Unmarshal([]byte(raw), &th) != nil || th.ConversationID == "" {
				t.Fatalf("create answer %d %q: a chain was opened without a conversation id (%q)", st, body, raw)
			}
		}
	})
}

// FuzzSigningKeys gives the inbound token check an arbitrary OpenID
// metadata document or JWKS answer (status and body; the other document
// is the fake's), fetches the keys and verifies a token the fake signed.
// Properties: no panic; a non-200 answer, a metadata document without an
// https (or loopback http) jwks_uri, and a key set without a usable RSA
// key (at least 2048 bits, odd exponent >= 3) are errors that load no
// key; a success loads only usable keys; a token verifies only after a
// successful fetch.
func FuzzSigningKeys(f *testing.F) {
	h, srv, _, seeds := fuzzHarness(f)
	for _, s := range seeds {
		if r := routeOf(s.Path); r >= routeMetadata {
			f.Add(uint8(r-routeMetadata), uint16(s.Status-200), s.Body)
			f.Add(uint8(r-routeMetadata), uint16(s.Status-200), truncated(s.Body))
		}
	}
	realKeys := srv.real[routeKeys].Body
	for _, s := range []struct {
		route  int
		status int
		body   string
	}{
		{routeMetadata, 404, `{"error":"not found"}`},
		{routeMetadata, 200, `{"jwks_uri":"http://login.botframework.example/keys"}`},
		{routeMetadata, 200, `{"jwks_uri":""}`},
		{routeMetadata, 200, `[]`},
		{routeKeys, 500, ``},
		{routeKeys, 200, `{"keys":[]}`},
		{routeKeys, 200, `{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`},
		{routeKeys, 200, `{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"AQAB","y":"AQAB"}]}`},
		{routeKeys, 200, string(bytes.Replace(realKeys, []byte(`"e":"AQAB"`), []byte(`"e":"AAAAAAE"`), 1))},
		{routeKeys, 200, string(bytes.Replace(realKeys, []byte(`"use":"sig"`), []byte(`"use":"enc"`), 1))},
	} {
		f.Add(uint8(s.route-routeMetadata), uint16(s.status-200), []byte(s.body))
	}
	auth := "Bearer " + h.token(f, botframework.Claims{})

	f.Fuzz(func(t *testing.T, which uint8, code uint16, body []byte) {
		if len(body) > 2<<20 {
			return
		}
		route := routeMetadata + int(which)%2
		st := doortest.FuzzStatus(code)
		srv.target.Store(int32(route))
		srv.fuzzed.Set(doortest.HTTPAnswer{Status: st, Body: srv.withURL(body)})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		keys, err := teams.FetchSigningKeys(h.adapter, ctx)
		if err != nil && len(keys) != 0 {
			t.Fatalf("route %d: status %d %q: the fetch failed (%v) but %d keys are cached", route, st, body, err, len(keys))
		}
		if st != http.StatusOK && err == nil {
			t.Fatalf("route %d: status %d %q loaded keys without an error", route, st, body)
		}
		if err == nil && len(keys) == 0 {
			t.Fatalf("route %d: %q: the fetch succeeded with no key", route, body)
		}
		for kid, k := range keys {
			if k.Bits < 2048 || k.E < 3 || k.E%2 == 0 {
				t.Fatalf("route %d: %q: key %q (%d bits, e=%d) is not usable but was loaded", route, body, kid, k.Bits, k.E)
			}
		}
		if verr := teams.Verify(h.adapter, ctx, auth); verr == nil && err != nil {
			t.Fatalf("route %d: %q: the token verified although the key fetch failed (%v)", route, body, err)
		}
	})
}
