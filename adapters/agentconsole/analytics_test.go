package agentconsole_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tier0/tier0/adapters/agentconsole"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
)

// analyticsOf fetches the report of the last days days as a.
func (h *harness) analyticsOf(tb testing.TB, a *agent, days string) analytics.Report {
	tb.Helper()
	res := h.do(tb, a, http.MethodGet, "/console/api/analytics?days="+days, nil)
	if res.status != http.StatusOK {
		tb.Fatalf("GET analytics?days=%s: %d %s", days, res.status, res.body)
	}
	var rep analytics.Report
	res.decode(tb, &rep)
	return rep
}

func TestAnalyticsAPI(t *testing.T) {
	h := newHarness(t)
	h.handOff(t)                              // "My printer is broken" (not sure), then asks for a person
	h.customerSays(t, "m3", "something else") // relayed to the ticket
	other := "webchat:CUSTOMER2"
	if _, err := h.engine.Handle(t.Context(), conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: other,
		DedupeKey: "v1", User: conversation.Identity{ID: "visitor-2"}, Text: "my vpn is slow"}); err != nil {
		t.Fatalf("second customer: %v", err)
	}

	if res := h.do(t, nil, http.MethodGet, "/console/api/analytics", nil); res.status != http.StatusUnauthorized || res.errorCode() != "unauthorized" {
		t.Errorf("without a session: %d %s, want 401 unauthorized", res.status, res.body)
	}
	ada := h.login(t, "ada", "correct horse")
	res := h.do(t, ada, http.MethodGet, "/console/api/analytics", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET analytics: %d %s", res.status, res.body)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if got := res.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var rep analytics.Report
	res.decode(t, &rep)
	f := rep.Totals
	if len(rep.Days) != agentconsole.DefaultAnalyticsDays || f.Conversations != 2 || f.Messages != 4 || f.Answered != 1 || f.NotSure != 1 || f.Handoffs != 1 {
		t.Errorf("default report: %d days, totals %+v; want 7 days, 2 conversations, 4 messages, 1 answer, 1 not sure, 1 handoff", len(rep.Days), f)
	}
	if len(rep.HandoffReasons) != 1 || rep.HandoffReasons[0].Label != "customer_request" {
		t.Errorf("handoff reasons = %+v, want customer_request", rep.HandoffReasons)
	}
	if len(rep.KnowledgeGaps) != 1 || rep.KnowledgeGaps[0].Examples[0] != "my printer is broken" {
		t.Errorf("knowledge gaps = %+v, want the printer question", rep.KnowledgeGaps)
	}
	if got := h.analyticsOf(t, ada, "90"); len(got.Days) != 90 || got.Totals.Conversations != 2 {
		t.Errorf("90-day report: %d days, %d conversations; want 90 and 2", len(got.Days), got.Totals.Conversations)
	}

	for _, bad := range []string{"0", "-1", "367", "seven", "7.5", "1e3"} {
		if res := h.do(t, ada, http.MethodGet, "/console/api/analytics?days="+bad, nil); res.status != http.StatusBadRequest || res.errorCode() != "invalid" {
			t.Errorf("days=%s: %d %s, want 400 invalid", bad, res.status, res.body)
		}
	}
	if res := h.do(t, ada, http.MethodPost, "/console/api/analytics", map[string]string{}); res.status != http.StatusMethodNotAllowed {
		t.Errorf("POST analytics: %d, want 405", res.status)
	}
}

// Without an analytics source the API says so and the page still loads.
func TestAnalyticsNotConfigured(t *testing.T) {
	h := newHarness(t)
	c, err := agentconsole.New(testConfig(t), agentconsole.Deps{Queue: h.store, Agents: h.engine}, discard())
	if err != nil {
		t.Fatalf("new console: %v", err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	bare := &harness{srv: srv, store: h.store, engine: h.engine, clock: h.clock}
	ada := bare.login(t, "ada", "correct horse")
	res := bare.do(t, ada, http.MethodGet, "/console/api/analytics?days=30", nil)
	if res.status != http.StatusNotFound || res.errorCode() != "not_configured" {
		t.Errorf("analytics without a source: %d %s, want 404 not_configured", res.status, res.body)
	}
	if page := bare.do(t, nil, http.MethodGet, "/console/analytics", nil); page.status != http.StatusOK || !strings.Contains(string(page.body), `id="report"`) {
		t.Errorf("analytics page: %d, want 200 with the report section", page.status)
	}
}

func TestAnalyticsPage(t *testing.T) {
	h := newHarness(t)
	page := h.do(t, nil, http.MethodGet, "/console/analytics", nil)
	if page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), `src="analytics.js"`) {
		t.Fatalf("GET /console/analytics: %d %q, want the HTML page loading analytics.js", page.status, page.header.Get("Content-Type"))
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q, want own scripts only", csp)
	}
	js := h.do(t, nil, http.MethodGet, "/console/analytics.js", nil)
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET analytics.js: %d %q", js.status, js.header.Get("Content-Type"))
	}
	body := string(js.body)
	for _, banned := range []string{"innerHTML", "http://", "https://", "eval("} {
		if banned == "http://" && strings.Contains(body, "http://www.w3.org/2000/svg") {
			body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
		}
		if strings.Contains(body, banned) {
			t.Errorf("analytics.js contains %q: it must draw with textContent and load nothing from elsewhere", banned)
		}
	}
	index := h.do(t, nil, http.MethodGet, "/console/", nil)
	if !strings.Contains(string(index.body), `href="analytics"`) {
		t.Error("the console page has no link to the analytics page")
	}
}
