package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tier0/tier0/adapters/webchat/browsertest"
)

// TestBrowserCustomerAndAgent is the helpdesk end to end in one headless
// Chromium with two tabs: a customer in the web chat asks something the
// knowledge base cannot answer, answers the consulting questions and is
// handed off; an agent in the console sees the ticket, claims it and
// replies; the customer sees the agent join and the reply; the agent
// resolves; the customer gets the satisfaction question and the bot
// answers the next question again.
func TestBrowserCustomerAndAgent(t *testing.T) {
	customer := browsertest.NewContext(t)
	agent, cancel := chromedp.NewContext(customer) // a second tab of the same browser
	t.Cleanup(cancel)
	m, _ := startMain(t, t.TempDir(), map[string]string{"TIER0_CONSOLE_PASSWORD": "correct horse battery"})

	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// botSays waits for the newest bot message in the chat to contain s.
	botSays := func(s string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`(() => { const m = document.querySelectorAll('.tier0-msg-bot'); return m.length > 0 && m[m.length-1].textContent.includes(` + jsString(s) + `); })()`)
	}
	say := func(text, wantReply string) {
		t.Helper()
		do(customer, "customer says "+text,
			chromedp.SendKeys(chromedp.CSS("#tier0-input"), text),
			chromedp.Click(chromedp.CSS("#tier0-send")),
			botSays(wantReply),
		)
	}

	do(customer, "open the chat",
		chromedp.Navigate(baseURL(m)+"/"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#tier0-chat[data-state="ready"]') !== null`),
	)
	say("my printer makes a strange grinding noise", "Which printer is it")
	say("the one on floor 3", "What happens when you print")
	say("nothing at all", "IT-1001")

	do(agent, "agent logs in and sees the ticket",
		chromedp.Navigate(baseURL(m)+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#login-user")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(".queue-item")),
		chromedp.Click(chromedp.CSS(".queue-item")),
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.turn')).some(e => e.textContent.includes('grinding noise'))`),
		chromedp.Click(chromedp.CSS("#claim")),
	)
	do(customer, "customer sees the agent join", botSays("has joined"))

	do(agent, "agent replies",
		chromedp.SendKeys(chromedp.CSS("#reply-text"), "A technician is on the way to floor 3."),
		chromedp.Click(chromedp.CSS("#send-reply")),
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.turn-agent:not(.turn-internal)')).some(e => e.textContent.includes('technician'))`),
	)
	do(customer, "customer sees the reply",
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.tier0-msg')).some(e => e.textContent.includes('A technician is on the way to floor 3.'))`),
	)

	do(agent, "agent resolves", chromedp.Click(chromedp.CSS("#resolve")))
	do(customer, "customer is asked for satisfaction", botSays("How satisfied"))
	n, err := chromedp.Run(customer, chromedp.Evaluate[int](`document.querySelectorAll('button.tier0-action').length`))
	if err != nil || n < 5 {
		t.Fatalf("satisfaction buttons: %d (%v), want 1–5", n, err)
	}
	say(passwordQ, passwordPhrase) // the bot answers again
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
