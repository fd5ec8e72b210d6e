package agentconsole_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/agentconsole"
	"github.com/tier0/tier0/conversation"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*agentconsole.Config)
		want string // "" for valid
	}{
		{"valid", func(*agentconsole.Config) {}, ""},
		{"short secret", func(c *agentconsole.Config) { c.Secret = []byte("short") }, "Secret"},
		{"no accounts", func(c *agentconsole.Config) { c.Accounts = nil }, "at least one account"},
		{"bad username", func(c *agentconsole.Config) { c.Accounts[0].Username = "a b" }, "username"},
		{"duplicate username", func(c *agentconsole.Config) { c.Accounts[1].Username = "ada" }, "twice"},
		{"no name", func(c *agentconsole.Config) { c.Accounts[0].Name = "" }, "name"},
		{"plain password", func(c *agentconsole.Config) { c.Accounts[0].PasswordHash = "secret" }, "bcrypt"},
		{"bad team", func(c *agentconsole.Config) { c.Accounts[0].Teams = []string{""} }, "team"},
		{"short ttl", func(c *agentconsole.Config) { c.SessionTTL = time.Second }, "SessionTTL"},
		{"huge body", func(c *agentconsole.Config) { c.MaxBodyBytes = 1 << 30 }, "MaxBodyBytes"},
		{"live settings", func(c *agentconsole.Config) {
			c.StreamHeartbeat, c.QueueCheckInterval, c.MaxStreamsPerAgent = time.Second, 2*time.Second, 3
		}, ""},
		{"queue check off", func(c *agentconsole.Config) { c.QueueCheckInterval = -1 }, ""},
		{"tiny heartbeat", func(c *agentconsole.Config) { c.StreamHeartbeat = time.Microsecond }, "StreamHeartbeat"},
		{"negative heartbeat", func(c *agentconsole.Config) { c.StreamHeartbeat = -time.Second }, "StreamHeartbeat"},
		{"tiny queue check", func(c *agentconsole.Config) { c.QueueCheckInterval = time.Microsecond }, "QueueCheckInterval"},
		{"too many streams", func(c *agentconsole.Config) { c.MaxStreamsPerAgent = 1000 }, "MaxStreamsPerAgent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || conversation.ErrorCode(err) != conversation.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an invalid error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	a := h.login(t, "ada", "correct horse")
	if !a.cookie.HttpOnly || a.cookie.SameSite != http.SameSiteStrictMode || a.cookie.Path != "/console" {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/console", a.cookie)
	}
	if a.csrf == "" {
		t.Error("login returned no csrf_token")
	}
	res := h.do(t, a, http.MethodGet, "/console/api/session", nil)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), a.csrf) || !strings.Contains(string(res.body), "Ada Lovelace") {
		t.Errorf("session = %d %s, want 200 with the same csrf token and the name", res.status, res.body)
	}

	// An unknown user and a wrong password get the same answer.
	wrong := h.do(t, nil, http.MethodPost, "/console/api/login", map[string]string{"username": "ada", "password": "wrong"})
	unknown := h.do(t, nil, http.MethodPost, "/console/api/login", map[string]string{"username": "mallory", "password": "correct horse"})
	if wrong.status != http.StatusUnauthorized || string(wrong.body) != string(unknown.body) || wrong.status != unknown.status {
		t.Errorf("wrong password = %d %s, unknown user = %d %s; want the same 401", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	if wrong.header.Get("Set-Cookie") != "" {
		t.Errorf("failed login set a cookie: %s", wrong.header.Get("Set-Cookie"))
	}
}

func TestLoginRateLimit(t *testing.T) {
	h := newHarness(t, func(c *agentconsole.Config) { c.LoginsPerMinute = 3 })
	for i := range 3 {
		if res := h.do(t, nil, http.MethodPost, "/console/api/login", map[string]string{"username": "ada", "password": "x"}); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, res.status)
		}
	}
	res := h.do(t, nil, http.MethodPost, "/console/api/login", map[string]string{"username": "ada", "password": "correct horse"})
	if res.status != http.StatusTooManyRequests || res.errorCode() != "rate_limited" {
		t.Errorf("attempt 4 = %d %s, want 429 rate_limited even with the right password", res.status, res.body)
	}
	h.clock.Advance(time.Minute)
	h.login(t, "ada", "correct horse")
}

func TestSessionRequired(t *testing.T) {
	h := newHarness(t)
	h.handOff(t)
	good := h.login(t, "ada", "correct horse")
	payload, sig, _ := strings.Cut(good.cookie.Value, ".")
	forge := func(v string) *agent {
		return &agent{cookie: &http.Cookie{Name: agentconsole.CookieName, Value: v}, csrf: good.csrf}
	}
	tests := []struct {
		name string
		as   *agent
	}{
		{"no session", nil},
		{"garbage", forge("garbage")},
		{"forged signature", forge(payload + "." + strings.Repeat("A", len(sig)))},
		{"other payload", forge("YWRtaW58OTk5OTk5OTk5OQ." + sig)},
		{"oversized", forge(strings.Repeat("a", 2000))},
	}
	paths := []struct{ method, path string }{
		{http.MethodGet, "/console/api/session"},
		{http.MethodGet, "/console/api/tickets"},
		{http.MethodGet, ticketPath(customerKey)},
		{http.MethodPost, ticketPath(customerKey) + "/actions"},
		{http.MethodPost, "/console/api/logout"},
		{http.MethodGet, "/console/api/analytics?days=7"},
		{http.MethodGet, "/console/api/stream"},
	}
	for _, tt := range tests {
		for _, p := range paths {
			t.Run(tt.name+" "+p.method+" "+p.path, func(t *testing.T) {
				var body any
				if p.method == http.MethodPost {
					body = map[string]string{"kind": "claim", "action_id": "x1"}
				}
				res := h.do(t, tt.as, p.method, p.path, body)
				if res.status != http.StatusUnauthorized || res.errorCode() != "unauthorized" {
					t.Errorf("got %d %s, want 401 unauthorized", res.status, res.body)
				}
			})
		}
	}
	t.Run("expired", func(t *testing.T) {
		h.clock.Advance(12*time.Hour + time.Second)
		if res := h.do(t, good, http.MethodGet, "/console/api/tickets", nil); res.status != http.StatusUnauthorized {
			t.Errorf("after the session TTL: %d %s, want 401", res.status, res.body)
		}
	})
	c, err := h.store.Load(context.Background(), customerKey)
	if err != nil || c.Phase != conversation.PhaseAwaitingAgent {
		t.Errorf("phase = %v, %v; want nothing changed by unauthenticated requests", c.Phase, err)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	h.handOff(t)
	a := h.login(t, "ada", "correct horse")
	other := h.login(t, "sam", "sales pass")
	tests := []struct {
		name  string
		token string
	}{
		{"missing", ""},
		{"wrong", "AAAA"},
		{"another session's", other.csrf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := &agent{cookie: a.cookie, csrf: tt.token}
			res := h.do(t, as, http.MethodPost, ticketPath(customerKey)+"/actions", map[string]string{"kind": "claim", "action_id": "c1"})
			if res.status != http.StatusForbidden || res.errorCode() != "csrf" {
				t.Errorf("action: %d %s, want 403 csrf", res.status, res.body)
			}
			if res := h.do(t, as, http.MethodPost, "/console/api/logout", nil); res.status != http.StatusForbidden {
				t.Errorf("logout: %d %s, want 403", res.status, res.body)
			}
		})
	}
	c, err := h.store.Load(context.Background(), customerKey)
	if err != nil || c.Phase != conversation.PhaseAwaitingAgent {
		t.Errorf("phase = %v, %v; want no claim without a CSRF token", c.Phase, err)
	}
	res := h.do(t, a, http.MethodPost, "/console/api/logout", nil)
	if res.status != http.StatusNoContent || !strings.Contains(res.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout = %d, Set-Cookie %q; want 204 clearing the cookie", res.status, res.header.Get("Set-Cookie"))
	}
}

// queue returns the queue as agent a sees it.
func (h *harness) queue(tb testing.TB, a *agent, query string) []conversation.TicketSummary {
	tb.Helper()
	res := h.do(tb, a, http.MethodGet, "/console/api/tickets"+query, nil)
	if res.status != http.StatusOK {
		tb.Fatalf("queue: %d %s", res.status, res.body)
	}
	var q struct {
		Tickets []conversation.TicketSummary `json:"tickets"`
	}
	res.decode(tb, &q)
	return q.Tickets
}

// ticketView is the part of GET /console/api/tickets/{key} the tests read.
type ticketView struct {
	Phase        conversation.Phase       `json:"phase"`
	Language     string                   `json:"language"`
	LanguageName string                   `json:"language_name"`
	Ticket       conversation.TicketState `json:"ticket"`
	History      []conversation.Turn      `json:"history"`
	Slots        []conversation.Slot      `json:"slots"`
	Suggest      *struct {
		Text string `json:"text"`
	} `json:"suggestion"`
}

func (h *harness) ticket(tb testing.TB, a *agent) ticketView {
	tb.Helper()
	res := h.do(tb, a, http.MethodGet, ticketPath(customerKey), nil)
	if res.status != http.StatusOK {
		tb.Fatalf("ticket: %d %s", res.status, res.body)
	}
	var v ticketView
	res.decode(tb, &v)
	return v
}

// customerOutbox returns the texts queued for the customer's channel.
func (h *harness) customerOutbox(tb testing.TB) []string {
	tb.Helper()
	out, err := h.store.Pending(context.Background(), customerKey, 100)
	if err != nil {
		tb.Fatalf("pending: %v", err)
	}
	var texts []string
	for _, o := range out {
		if o.Channel == conversation.ChannelWebChat {
			texts = append(texts, o.Text)
		}
	}
	return texts
}

func TestAgentFlow(t *testing.T) {
	h := newHarness(t)
	a := h.login(t, "ada", "correct horse")
	if q := h.queue(t, a, ""); len(q) != 0 {
		t.Fatalf("queue before any handoff = %+v, want empty", q)
	}
	h.customerSays(t, "m0", "How do I fix my VPN?")
	h.handOff(t)

	q := h.queue(t, a, "")
	if len(q) != 1 || q[0].ConversationKey != customerKey || !strings.HasPrefix(q[0].Ticket.ID, "IT-") || q[0].User.DisplayName != "Carla Customer" {
		t.Fatalf("queue = %+v, want the customer's IT ticket", q)
	}
	if q := h.queue(t, a, "?team=Support&status=open"); len(q) != 1 {
		t.Errorf("queue of Support, open = %d tickets, want 1", len(q))
	}
	if q := h.queue(t, a, "?status=resolved"); len(q) != 0 {
		t.Errorf("resolved queue = %d tickets, want 0", len(q))
	}
	v := h.ticket(t, a)
	if v.Phase != conversation.PhaseAwaitingAgent || len(v.History) == 0 || v.History[0].Text != "How do I fix my VPN?" {
		t.Errorf("ticket view phase %s history %+v, want awaiting_agent with the transcript", v.Phase, v.History)
	}
	if v.Suggest == nil || !strings.Contains(v.Suggest.Text, "VPN client") {
		t.Errorf("suggestion = %+v, want the knowledge base's VPN answer", v.Suggest)
	}

	if res := h.do(t, a, http.MethodGet, ticketPath(customerKey)+"?suggest=0", nil); res.status != http.StatusOK || strings.Contains(string(res.body), `"suggestion"`) {
		t.Errorf("ticket with suggest=0 = %d %s, want 200 without a suggestion", res.status, res.body)
	}

	before := len(h.customerOutbox(t))
	h.actOK(t, a, "claim", "", "a1")
	h.actOK(t, a, "reply", "I will reset your VPN account now.", "a2")
	h.actOK(t, a, "note", "Customer seems to be on the old client.", "a3")
	// A retried action takes effect once.
	res := h.do(t, a, http.MethodPost, ticketPath(customerKey)+"/actions", map[string]string{"kind": "note", "text": "Customer seems to be on the old client.", "action_id": "a3"})
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"duplicate":true`) {
		t.Errorf("repeated action = %d %s, want 200 duplicate", res.status, res.body)
	}
	sent := h.customerOutbox(t)[before:]
	if len(sent) != 2 || !strings.Contains(sent[0], "Ada Lovelace has joined") || sent[1] != "I will reset your VPN account now." {
		t.Errorf("sent to the customer = %q, want the join notice and the reply", sent)
	}
	for _, s := range h.customerOutbox(t) {
		if strings.Contains(s, "old client") {
			t.Errorf("the internal note reached the customer's outbox: %q", s)
		}
	}
	v = h.ticket(t, a)
	notes := 0
	for _, tn := range v.History {
		if tn.Text == "Customer seems to be on the old client." {
			notes++
			if !tn.Internal || tn.AuthorName != "Ada Lovelace" {
				t.Errorf("note turn = %+v, want internal by Ada Lovelace", tn)
			}
		}
	}
	if notes != 1 || v.Ticket.Assignee != "ada" || v.Phase != conversation.PhaseAgentActive {
		t.Errorf("notes %d assignee %q phase %s, want 1 note, ada, agent_active", notes, v.Ticket.Assignee, v.Phase)
	}

	h.actOK(t, a, "resolve", "", "a4")
	if q := h.queue(t, a, ""); len(q) != 0 {
		t.Errorf("queue after resolve = %+v, want empty", q)
	}
	if v := h.ticket(t, a); v.Phase != conversation.PhaseResolved || v.Ticket.Status != conversation.TicketResolved {
		t.Errorf("after resolve: phase %s status %s", v.Phase, v.Ticket.Status)
	}
}

// The agent sees the customer's language in the queue and the ticket.
func TestCustomerLanguage(t *testing.T) {
	h := newHarness(t)
	a := h.login(t, "ada", "correct horse")
	h.customerSays(t, "m0", "Wie richte ich das VPN auf meinem Laptop ein?")
	h.customerSays(t, "m1", "Ich möchte bitte mit einem Mitarbeiter sprechen")
	if q := h.queue(t, a, ""); len(q) != 1 || q[0].Language != "de" {
		t.Fatalf("queue = %+v, want one German ticket", q)
	}
	if v := h.ticket(t, a); v.Language != "de" || v.LanguageName != "German (de)" {
		t.Errorf("ticket language %q %q, want de, German (de)", v.Language, v.LanguageName)
	}
	h.actOK(t, a, "claim", "", "a1")
	if sent := h.customerOutbox(t); !strings.Contains(strings.Join(sent, "\n"), "Ada Lovelace hat Ihr Anliegen übernommen") {
		t.Errorf("sent to the German customer = %q, want the German join notice", sent)
	}
}

func TestTeams(t *testing.T) {
	h := newHarness(t)
	h.handOff(t)
	sam := h.login(t, "sam", "sales pass")
	if q := h.queue(t, sam, ""); len(q) != 0 {
		t.Errorf("a Sales agent sees %+v, want no Support tickets", q)
	}
	if res := h.do(t, sam, http.MethodGet, "/console/api/tickets?team=Support", nil); res.status != http.StatusForbidden {
		t.Errorf("Sales agent asking for Support = %d, want 403", res.status)
	}
	if res := h.do(t, sam, http.MethodGet, ticketPath(customerKey), nil); res.status != http.StatusForbidden {
		t.Errorf("Sales agent opening a Support ticket = %d, want 403", res.status)
	}
	res := h.do(t, sam, http.MethodPost, ticketPath(customerKey)+"/actions", map[string]string{"kind": "claim", "action_id": "s1"})
	if res.status != http.StatusForbidden {
		t.Errorf("Sales agent claiming a Support ticket = %d, want 403", res.status)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t, func(c *agentconsole.Config) { c.MaxBodyBytes = 1 << 10 })
	h.handOff(t)
	if _, err := h.engine.Handle(context.Background(), conversation.Message{Channel: conversation.ChannelWebChat,
		ConversationKey: "webchat:BOTONLY", DedupeKey: "b1", User: conversation.Identity{ID: "v2"}, Text: "VPN help"}); err != nil {
		t.Fatalf("bot-only conversation: %v", err)
	}
	a := h.login(t, "ada", "correct horse")
	actions := ticketPath(customerKey) + "/actions"
	tests := []struct {
		name, method, path string
		body               any
		ctype              string
		status             int
		code               string
	}{
		{"invalid UTF-8 key", "GET", "/console/api/tickets/a%FFb", nil, "", 400, "invalid"},
		{"control character key", "GET", "/console/api/tickets/a%01b", nil, "", 400, "invalid"},
		{"over-long key", "GET", "/console/api/tickets/" + strings.Repeat("k", 300), nil, "", 400, "invalid"},
		{"unknown conversation", "GET", ticketPath("webchat:NOPE"), nil, "", 404, "not_found"},
		{"no ticket", "GET", ticketPath("webchat:BOTONLY"), nil, "", 404, "not_found"},
		{"unknown status", "GET", "/console/api/tickets?status=lost", nil, "", 400, "invalid"},
		{"no action id", "POST", actions, map[string]string{"kind": "claim"}, "", 400, "invalid"},
		{"bad action id", "POST", actions, map[string]string{"kind": "claim", "action_id": "a b"}, "", 400, "invalid"},
		{"unknown kind", "POST", actions, map[string]string{"kind": "delete", "action_id": "e1"}, "", 400, "invalid"},
		{"empty reply", "POST", actions, map[string]string{"kind": "reply", "action_id": "e2"}, "", 400, "invalid"},
		{"unknown field", "POST", actions, map[string]string{"kind": "claim", "action_id": "e3", "admin": "1"}, "", 400, "invalid"},
		{"trailing data", "POST", actions, `{"kind":"claim","action_id":"e4"} {}`, "", 400, "invalid"},
		{"not JSON", "POST", actions, `kind=claim`, "text/plain", 415, "unsupported_media_type"},
		{"oversized body", "POST", actions, map[string]string{"kind": "note", "action_id": "e5", "text": strings.Repeat("x", 2000)}, "", 413, "too_large"},
		{"wrong method", "GET", actions, nil, "", 405, "method_not_allowed"},
		{"unknown endpoint", "GET", "/console/api/nope", nil, "", 404, "not_found"},
		{"action on a bot conversation", "POST", ticketPath("webchat:BOTONLY") + "/actions", map[string]string{"kind": "claim", "action_id": "e6"}, "", 404, "not_found"},
		{"resolve", "POST", actions, map[string]string{"kind": "resolve", "action_id": "e7"}, "", 200, ""},
		{"resolve again", "POST", actions, map[string]string{"kind": "resolve", "action_id": "e8"}, "", 409, "conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.ctype != "" {
				hdr = []string{"Content-Type", tt.ctype}
			}
			res := h.do(t, a, tt.method, tt.path, tt.body, hdr...)
			if res.status != tt.status || res.errorCode() != tt.code {
				t.Errorf("got %d %s, want %d %q", res.status, res.body, tt.status, tt.code)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
		})
	}
}

func TestPage(t *testing.T) {
	h := newHarness(t)
	res := h.do(t, nil, http.MethodGet, "/console/", nil)
	csp := res.header.Get("Content-Security-Policy")
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `id="login-user"`) {
		t.Fatalf("page = %d, want 200 with the login form", res.status)
	}
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q, want own scripts only and no framing", csp)
	}
	if res.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", res.header.Get("X-Content-Type-Options"))
	}
	for _, p := range []string{"/console/console.js", "/console/console.css"} {
		if res := h.do(t, nil, http.MethodGet, p, nil); res.status != http.StatusOK || len(res.body) == 0 {
			t.Errorf("%s = %d", p, res.status)
		}
	}
	js := h.do(t, nil, http.MethodGet, "/console/console.js", nil)
	if strings.Contains(string(js.body), "innerHTML") {
		t.Error("console.js uses innerHTML; it must only set textContent")
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/console", nil)
	r, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET /console: %v", err)
	}
	r.Body.Close()
	if r.StatusCode/100 != 3 || r.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console = %d to %q, want a redirect to /console/", r.StatusCode, r.Header.Get("Location"))
	}
}
