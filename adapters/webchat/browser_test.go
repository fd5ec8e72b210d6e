package webchat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/adapters/webchat/browsertest"
	"github.com/tier0/tier0/conversation"
)

// shownMessage is a message as the browser renders it.
type shownMessage struct {
	Class string `json:"class"`
	Text  string `json:"text"`
}

const readMessages = `Array.from(document.querySelectorAll('.tier0-msg')).map(e => ({
	class: e.className, text: e.querySelector('.tier0-text').textContent }))`

// waitReady waits until the widget has a session, an open stream and its
// history.
var waitReady = chromedp.Poll[chromedp.Void](`document.querySelector('#tier0-chat[data-state="ready"]') !== null`)

// askAndCheck types a question, sends it and checks the answer with its
// citation link, then clicks the first reply button and checks that the
// handler receives the action.
func askAndCheck(t *testing.T, ctx context.Context, h *harness, wantHref string) {
	t.Helper()
	run := func(a chromedp.Action[string]) (string, error) { return chromedp.Run(ctx, a) }
	const question = "How do I reset my VPN?"
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#tier0-input"), question),
		chromedp.Click(chromedp.CSS("#tier0-send")),
		chromedp.WaitVisible(chromedp.CSS(".tier0-msg-bot a.tier0-cite")),
	); err != nil {
		t.Fatalf("ask: %v", err)
	}
	if m := h.eng.next(t); m.Text != question {
		t.Errorf("handler got text %q, want %q", m.Text, question)
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(".tier0-msg-bot a.tier0-cite"), "href"))
	if err != nil {
		t.Fatalf("read citation: %v", err)
	}
	if href.Value != wantHref {
		t.Errorf("citation href = %q, want %q", href.Value, wantHref)
	}
	cite, err := run(chromedp.Evaluate[string](`(() => { const a = document.querySelector('a.tier0-cite');
		return [a.textContent, a.target, a.rel, document.querySelectorAll('a.tier0-cite').length].join('|') })()`))
	if err != nil {
		t.Fatalf("read citation: %v", err)
	}
	if want := "Source: VPN guide|_blank|noopener noreferrer|1"; cite != want {
		t.Errorf("citation text|target|rel|links = %q, want %q (the javascript: link must not be a link)", cite, want)
	}
	answer, err := run(chromedp.Evaluate[string](`document.querySelector('.tier0-msg-bot:not(.tier0-msg-welcome) .tier0-text').textContent`))
	if err != nil || answer != "To reset your VPN, open the portal." {
		t.Errorf("answer text = %q, %v", answer, err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button.tier0-action"))); err != nil {
		t.Fatalf("click button: %v", err)
	}
	m := h.eng.next(t)
	if m.Action == nil || m.Action.ID != conversation.ActionHelpful || m.Text != "" {
		t.Errorf("handler got action %+v text %q, want the helpful action alone", m.Action, m.Text)
	}
}

func TestBrowserChatPage(t *testing.T) {
	ctx := browsertest.NewContext(t)
	h := newHarness(t, func(c *webchat.Config) { c.Welcome = "Hi! Ask me anything about IT." })
	do := func(steps ...chromedp.Action[chromedp.Void]) error { return chromedp.Do(ctx, steps...) }
	run := func(a chromedp.Action[string]) (string, error) { return chromedp.Run(ctx, a) }

	if err := do(chromedp.Navigate(h.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#tier0-input")), waitReady); err != nil {
		t.Fatalf("open page: %v", err)
	}
	title, err := run(chromedp.Evaluate[string](`document.title + '|' + document.querySelector('#tier0-title').textContent + '|' +
		document.querySelector('.tier0-msg-welcome').textContent`))
	if err != nil || !strings.HasPrefix(title, "Northwind IT help|Northwind IT help|") || !strings.Contains(title, "Hi! Ask me anything about IT.") {
		t.Errorf("title|header|welcome = %q, %v", title, err)
	}
	askAndCheck(t, ctx, h, "https://docs.example/vpn")

	// Text is never parsed as HTML.
	const hostile = `<img src=x id=pwned onerror="document.title='pwned'">`
	if err := do(chromedp.SendKeys(chromedp.CSS("#tier0-input"), hostile), chromedp.Click(chromedp.CSS("#tier0-send"))); err != nil {
		t.Fatalf("send hostile text: %v", err)
	}
	if m := h.eng.next(t); m.Text != hostile {
		t.Errorf("handler got %q, want the text as typed", m.Text)
	}
	if got, err := run(chromedp.Evaluate[string](`(document.querySelector('#pwned') ? 'element' : 'none') + '|' +
		Array.from(document.querySelectorAll('.tier0-msg-user .tier0-text')).pop().textContent`)); err != nil || got != "none|"+hostile {
		t.Errorf("hostile text rendered as %q, %v; want plain text", got, err)
	}

	// Reopening the page keeps the session and loads the history.
	if err := do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#tier0-input")), waitReady); err != nil {
		t.Fatalf("reload: %v", err)
	}
	msgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]shownMessage](readMessages))
	if err != nil {
		t.Fatalf("read messages: %v", err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, " / "); !strings.Contains(got, "How do I reset my VPN? / To reset your VPN, open the portal.") {
		t.Errorf("messages after reload = %q, want the history of the session", got)
	}
}

// openWidget opens a site's page and the chat widget on it.
func openWidget(siteURL string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(siteURL + "/"),
		chromedp.WaitVisible(chromedp.CSS("#tier0-launcher")),
		chromedp.Click(chromedp.CSS("#tier0-launcher")),
		chromedp.WaitVisible(chromedp.CSS("#tier0-input")),
		waitReady,
	}
}

func TestBrowserEmbeddedWidget(t *testing.T) {
	ctx := browsertest.NewContext(t)
	var chatURL string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>
<script src="` + chatURL + `/widget.js" defer></script></body></html>`))
	}))
	defer site.Close()
	h := newHarness(t, func(c *webchat.Config) { c.AllowedOrigins = []string{site.URL} })
	chatURL = h.srv.URL
	// A site-relative citation link points at the help desk, not the shop.
	h.eng.citeURL = "/kb/vpn"

	if err := chromedp.Do(ctx, openWidget(site.URL)...); err != nil {
		t.Fatalf("open widget: %v", err)
	}
	askAndCheck(t, ctx, h, h.srv.URL+"/kb/vpn")
}

// A German site embeds the widget with data-lang="de": the widget's own
// words, the welcome and the session's locale are German.
func TestBrowserWidgetInGerman(t *testing.T) {
	ctx := browsertest.NewContext(t)
	var chatURL string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="de"><head><title>Shop</title></head><body><h1>Unser Shop</h1>
<script src="` + chatURL + `/widget.js" data-lang="de" defer></script></body></html>`))
	}))
	defer site.Close()
	h := newHarness(t, func(c *webchat.Config) {
		c.AllowedOrigins = []string{site.URL}
		c.Welcome = "Hi! Ask me anything."
		c.Welcomes = map[string]string{"de": "Hallo! Fragen Sie mich gern."}
	})
	chatURL = h.srv.URL
	run := func(a chromedp.Action[string]) (string, error) { return chromedp.Run(ctx, a) }
	if err := chromedp.Do(ctx, append(openWidget(site.URL),
		chromedp.Poll[chromedp.Void](`document.querySelector('.tier0-msg-welcome') !== null`))...); err != nil {
		t.Fatalf("open widget: %v", err)
	}
	got, err := run(chromedp.Evaluate[string](`[document.querySelector('#tier0-launcher').textContent, document.querySelector('#tier0-input').placeholder,
		document.querySelector('#tier0-send').textContent, document.querySelector('.tier0-msg-welcome .tier0-text').textContent].join('|')`))
	if want := "Chat starten|Ihre Frage…|Senden|Hallo! Fragen Sie mich gern."; err != nil || got != want {
		t.Errorf("launcher|placeholder|send|welcome = %q, %v; want %q", got, err, want)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#tier0-input"), "Wie setze ich mein VPN zurück?"), chromedp.Click(chromedp.CSS("#tier0-send"))); err != nil {
		t.Fatalf("ask: %v", err)
	}
	if m := h.eng.next(t); m.User.Locale != "de" {
		t.Errorf("session locale %q, want de (the widget's language)", m.User.Locale)
	}
}
