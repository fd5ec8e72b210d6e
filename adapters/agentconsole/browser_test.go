package agentconsole_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tier0/tier0/adapters/webchat/browsertest"
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
