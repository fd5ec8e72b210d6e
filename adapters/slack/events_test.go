package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
)

// rawPost sends body to path with the given signing: "good" signs now,
// "stale" signs 10 minutes ago, "bad" sends a wrong signature, "none"
// sends no signature headers.
func (fx *fixture) rawPost(tb testing.TB, method, path, contentType, signing string, body []byte) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	secret := fx.fake.Config().SigningSecret
	switch signing {
	case "good":
		slackfake.SignRequest(req, secret, time.Now(), body)
	case "stale":
		slackfake.SignRequest(req, secret, time.Now().Add(-10*time.Minute), body)
	case "bad":
		slackfake.SignRequest(req, "not-the-secret", time.Now(), body)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestEventsBadInput(t *testing.T) {
	const jsonCT = "application/json"
	const formCT = "application/x-www-form-urlencoded"
	fx := newFixture(t, func(c *slack.Config) { c.MaxBodyBytes = 4096 })
	dm := fx.fake.EventCallback("Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hi", TS: "1700000000.000100"})
	reaction := fx.fake.EventCallback("Ev2", json.RawMessage(`{"type":"reaction_added","user":"UEMP","reaction":"thumbsup","item":{"type":"message","channel":"C1","ts":"1700000000.000100"},"event_ts":"1700000001.000200"}`))
	form := func(payload string) []byte { return []byte(url.Values{"payload": {payload}}.Encode()) }
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		signing     string
		body        []byte
		wantStatus  int
		wantBody    string // substring
	}{
		{"bad signature", http.MethodPost, "/slack/events", jsonCT, "bad", dm, 401, `"code":"unauthorized"`},
		{"stale timestamp", http.MethodPost, "/slack/events", jsonCT, "stale", dm, 401, "5 minutes"},
		{"no signature", http.MethodPost, "/slack/events", jsonCT, "none", dm, 401, `"code":"unauthorized"`},
		{"malformed JSON", http.MethodPost, "/slack/events", jsonCT, "good", []byte(`{"type":"event_callback",`), 400, `"code":"invalid_json"`},
		{"event_callback without event", http.MethodPost, "/slack/events", jsonCT, "good", []byte(`{"type":"event_callback","event_id":"Ev3"}`), 400, `"code":"invalid"`},
		{"malformed event", http.MethodPost, "/slack/events", jsonCT, "good", []byte(`{"type":"event_callback","event":{"type":"message","ts":42}}`), 400, `"code":"invalid_json"`},
		{"oversized", http.MethodPost, "/slack/events", jsonCT, "good", []byte(`{"type":"event_callback","pad":"` + strings.Repeat("x", 5000) + `"}`), 413, `"code":"too_large"`},
		{"GET", http.MethodGet, "/slack/events", jsonCT, "good", nil, 405, `"code":"method_not_allowed"`},
		{"unknown event type", http.MethodPost, "/slack/events", jsonCT, "good", reaction, 200, `"ok":true`},
		{"unknown outer type", http.MethodPost, "/slack/events", jsonCT, "good", []byte(`{"type":"something_new"}`), 200, `"ok":true`},
		{"url_verification", http.MethodPost, "/slack/events", jsonCT, "good", slackfake.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"), 200, `"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"`},
		{"interactive bad signature", http.MethodPost, "/slack/interactive", formCT, "bad", form(`{"type":"block_actions"}`), 401, `"code":"unauthorized"`},
		{"interactive without payload", http.MethodPost, "/slack/interactive", formCT, "good", []byte("foo=bar"), 400, `"code":"invalid"`},
		{"interactive payload not JSON", http.MethodPost, "/slack/interactive", formCT, "good", form(`{"type":`), 400, `"code":"invalid_json"`},
		{"interactive unknown type", http.MethodPost, "/slack/interactive", formCT, "good", form(`{"type":"view_closed"}`), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fx.rawPost(t, tt.method, tt.path, tt.contentType, tt.signing, tt.body)
			if code != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("got %d %s, want %d with %s", code, body, tt.wantStatus, tt.wantBody)
			}
			if code >= 400 && !strings.Contains(body, `"error"`) {
				t.Fatalf("error answer %s is not a JSON error", body)
			}
		})
	}
	fx.close(t)
	if got := fx.eng.messages(); len(got) != 0 {
		t.Fatalf("the engine got %d messages from bad or ignored input: %+v", len(got), got)
	}
}

func TestEventsBeforeStartAndAfterClose(t *testing.T) {
	f := startFake(t)
	a, err := slack.New(testConfig(f), newRecorder(), openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(a)
	defer srv.Close()
	body := f.EventCallback("Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hi", TS: "1700000000.000100"})
	post := func() int {
		res, err := f.PostEvent(context.Background(), srv.URL+"/slack/events", body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("before Start: status %d, want 503", code)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := post(); code != http.StatusOK {
		t.Fatalf("after Start: status %d, want 200", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: status %d, want 503", code)
	}
}

func TestConfigValidate(t *testing.T) {
	good := slack.Config{BotToken: "xoxb-123-abc", SigningSecret: "0123456789abcdef"}
	tests := []struct {
		name string
		edit func(*slack.Config)
		ok   bool
	}{
		{"minimal", func(*slack.Config) {}, true},
		{"socket mode only", func(c *slack.Config) { c.SigningSecret, c.AppToken = "", "xapp-1-abc" }, true},
		{"no bot token", func(c *slack.Config) { c.BotToken = "" }, false},
		{"user token", func(c *slack.Config) { c.BotToken = "xoxp-123" }, false},
		{"neither secret nor app token", func(c *slack.Config) { c.SigningSecret = "" }, false},
		{"bad app token", func(c *slack.Config) { c.AppToken = "xoxb-1" }, false},
		{"bad staff channel", func(c *slack.Config) { c.StaffChannelID = "#it-staff" }, false},
		{"ack timeout beyond slack's 3s", func(c *slack.Config) { c.AckTimeout = 3 * time.Second }, false},
		{"bad api url", func(c *slack.Config) { c.APIURL = "ftp://x" }, false},
		{"negative workers", func(c *slack.Config) { c.Workers = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := slack.New(good, nil, nil); err == nil {
		t.Fatal("New without an engine and refs succeeded")
	}
}
