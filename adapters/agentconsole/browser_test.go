package agentconsole_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tier0/tier0/adapters/webchat/browsertest"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
)

func TestBrowserConsole(t *testing.T) {
	ctx := browsertest.NewContext(t)
	h := newHarness(t)
	h.handOff(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}

	do("open the console", chromedp.Navigate(h.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#login-user")))
	do("log in",
		chromedp.SendKeys(chromedp.CSS("#login-user"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), "correct horse"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(".queue-item")),
	)
	if got := text(`document.querySelector('.queue-item .ticket-id').textContent`); !strings.HasPrefix(got, "IT-") {
		t.Errorf("queue item ticket = %q, want IT-…", got)
	}
	do("open the ticket", chromedp.Click(chromedp.CSS(".queue-item")), chromedp.WaitVisible(chromedp.CSS(".turn")))
	if got := text(`Array.from(document.querySelectorAll('.turn .text')).map(e => e.textContent).join(' / ')`); !strings.Contains(got, "I want to talk to a human") {
		t.Errorf("transcript = %q, want the customer's request", got)
	}

	// Hostile text is shown as text, and the default action is a note.
	const hostile = `<img src=x id=pwned onerror="document.title='pwned'">`
	do("add a note",
		chromedp.SendKeys(chromedp.CSS("#reply-text"), hostile),
		chromedp.Click(chromedp.CSS("#add-note")),
		chromedp.WaitVisible(chromedp.CSS(".turn-internal")),
	)
	if got := text(`(document.querySelector('#pwned') ? 'element' : 'none') + '|' + document.querySelector('.turn-internal .text').textContent`); got != "none|"+hostile {
		t.Errorf("note rendered as %q, want plain text", got)
	}
	do("send a reply",
		chromedp.SendKeys(chromedp.CSS("#reply-text"), "Your VPN account is reset."),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.turn-agent:not(.turn-internal) .text')).some(e => e.textContent === 'Your VPN account is reset.')`),
	)
	sent := strings.Join(h.customerOutbox(t), " / ")
	if !strings.Contains(sent, "Your VPN account is reset.") || strings.Contains(sent, "pwned") {
		t.Errorf("customer outbox = %q, want the reply and not the note", sent)
	}
}

// After real traffic, an agent logs in, sees the console go live, sees
// a new handoff arrive in the queue, opens the analytics page from the
// header and finds the figures in the charts; the range selector
// reloads them.
func TestBrowserAnalytics(t *testing.T) {
	ctx := browsertest.NewContext(t)
	h := newHarness(t)
	h.handOff(t) // "My printer is broken" goes unanswered, then a handoff
	ada := h.login(t, "ada", "correct horse")
	h.clock.Advance(2 * time.Minute)
	h.actOK(t, ada, "reply", "Which printer?", "r-1")
	h.clock.Advance(time.Hour)
	h.actOK(t, ada, "resolve", "", "r-2")
	h.customerClicks(t, "m3", conversation.Action{ID: conversation.ActionCSAT, Value: "5"})

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return s
	}
	do("log in",
		chromedp.Navigate(h.srv.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "ada"),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), "correct horse"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#live').textContent === 'live'`),
	)
	// A second customer asks for a person while the agent watches.
	if _, err := h.engine.Handle(context.Background(), conversation.Message{Channel: conversation.ChannelWebChat,
		ConversationKey: "webchat:CUSTOMER2", DedupeKey: "c2-1", User: conversation.Identity{ID: "visitor-2", DisplayName: "Dora"},
		Text: "I want to talk to a human"}); err != nil {
		t.Fatalf("second customer: %v", err)
	}
	do("see the new ticket", chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.queue-item td')).some(e => e.textContent === 'Dora')`))

	do("open analytics",
		chromedp.Click(chromedp.CSS("#analytics-link")),
		chromedp.WaitVisible(chromedp.CSS("#report")),
	)
	kpi := func(id string) string {
		t.Helper()
		return text(`document.querySelector('#kpi-` + id + ` .value').textContent`)
	}
	for id, want := range map[string]string{"conversations": "2", "handoffs": "2", "not-sure": "1", "csat": "5 / 5", "first-reply": "≤ 5 min", "resolution": "≤ 2 h"} {
		if got := kpi(id); got != want {
			t.Errorf("KPI %s = %q, want %q", id, got, want)
		}
	}
	if got := text(`Array.from(document.querySelectorAll('#chart-reasons .bar-label')).map(e => e.textContent).join('|') + '=' + Array.from(document.querySelectorAll('#chart-reasons .bar-value')).map(e => e.textContent).join('|')`); got != "Customer asked for a person=2" {
		t.Errorf("handoff reasons chart = %q, want one bar: Customer asked for a person, 2", got)
	}
	if got := text(`Array.from(document.querySelectorAll('#chart-conversations .bar-value')).map(e => e.textContent).join('|')`); got != "2" {
		t.Errorf("conversations chart values = %q, want today's bar at 2", got)
	}
	if got := text(`document.querySelector('#chart-first-reply rect') ? document.querySelector('#chart-first-reply rect').getAttribute('data-value') : 'none'`); got != "1" {
		t.Errorf("first reply chart = %q, want a bar of 1 ticket", got)
	}
	if got := text(`Array.from(document.querySelectorAll('#gaps-body tr')).map(r => r.children[0].textContent + ':' + r.children[1].textContent + ':' + r.children[2].textContent).join('|')`); got != "printer broken:1:my printer is broken" {
		t.Errorf("knowledge gaps table = %q, want printer broken:1:my printer is broken", got)
	}

	from := analytics.DayOf(h.clock.Now().AddDate(0, 0, -29))
	do("choose 30 days",
		chromedp.Evaluate[chromedp.Void](`(() => { const r = document.querySelector('#range'); r.value = '30'; r.dispatchEvent(new Event('change')); })()`),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent.includes('`+from+`')`),
	)
	if got := kpi("conversations"); got != "2" || !strings.HasSuffix(text(`location.search`), "days=30") {
		t.Errorf("30 days: conversations %q, location %q; want 2 and ?days=30", got, text(`location.search`))
	}
}

// customerClicks hands a button click of customerKey's customer to the
// engine.
func (h *harness) customerClicks(tb testing.TB, id string, a conversation.Action) {
	tb.Helper()
	_, err := h.engine.Handle(context.Background(), conversation.Message{
		Channel: conversation.ChannelWebChat, ConversationKey: customerKey, DedupeKey: id,
		User: conversation.Identity{ID: "visitor-1", DisplayName: "Carla Customer"}, Action: &a,
	})
	if err != nil {
		tb.Fatalf("customer click %s: %v", a.ID, err)
	}
}
