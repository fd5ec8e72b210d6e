package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tier0/tier0/adapters/webchat/browsertest"
)

// TestBrowserAsk asks the whole server a question from the chat page in a
// headless Chromium and reads the cited answer the page shows.
func TestBrowserAsk(t *testing.T) {
	ctx := browsertest.NewContext(t)
	m, _ := startMain(t, t.TempDir(), nil)

	const answer = `.tier0-msg-bot:not(.tier0-msg-welcome)`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL(m)+"/"),
		chromedp.WaitVisible(chromedp.CSS("#tier0-input")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#tier0-chat[data-state="ready"]') !== null`),
		chromedp.SendKeys(chromedp.CSS("#tier0-input"), passwordQ),
		chromedp.Click(chromedp.CSS("#tier0-send")),
		chromedp.WaitVisible(chromedp.CSS(answer+" a.tier0-cite")),
	); err != nil {
		t.Fatalf("ask in the browser: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+answer+` .tier0-text').textContent`))
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	if !strings.Contains(text, passwordPhrase) {
		t.Errorf("answer shown = %q, want the password article's passage (mentioning %q)", text, passwordPhrase)
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(answer+" a.tier0-cite"), "href"))
	if err != nil {
		t.Fatalf("read the citation link: %v", err)
	}
	if href.Value != passwordURL {
		t.Errorf("citation href = %q, want %q", href.Value, passwordURL)
	}
}
