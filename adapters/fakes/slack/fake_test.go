package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
)

const waitLimit = 20 * time.Second

func startFake(tb testing.TB) *slackfake.Server {
	tb.Helper()
	f, err := slackfake.Start(slackfake.Config{
		Users:        []slackfake.User{{ID: "UADA", Name: "ada", DisplayName: "Ada", Email: "ada@example.test", Locale: "en-GB"}},
		PingInterval: 100 * time.Millisecond,
	})
	if err != nil {
		tb.Fatalf("start fake: %v", err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

func client(f *slackfake.Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(f.APIURL()), slack.OptionAppLevelToken(f.Config().AppToken))
}

func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestAuth(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"no token", "", "not_authed"},
		{"wrong token", "xoxb-wrong", "invalid_auth"},
		{"app token on a bot method", f.Config().AppToken, "not_allowed_token_type"},
		{"bot token", f.Config().BotToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := client(f, tt.token).AuthTestContext(ctx)
			if got := slackCode(err); got != tt.want {
				t.Fatalf("auth.test error = %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == "" && (res.UserID != "U0BOT" || res.TeamID != "T0FAKE" || res.BotID != "B0BOT") {
				t.Fatalf("auth.test = %+v, want the fake bot", res)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	c := client(f, f.Config().BotToken)
	btn := slack.NewButtonBlockElement("b1", `{"id":"helpful"}`, slack.NewTextBlockObject(slack.PlainTextType, "Helpful", false, false))
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "hello &amp; welcome", false, false), nil, nil),
		slack.NewActionBlock("acts", btn),
	}
	ch, ts, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("hello", false), slack.MsgOptionBlocks(blocks...), slack.MsgOptionTS("1700000000.000100"))
	if err != nil || ch != "C1" || ts == "" {
		t.Fatalf("postMessage = %q %q %v", ch, ts, err)
	}
	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].ThreadTS != "1700000000.000100" || !bytes.Contains(msgs[0].Blocks, []byte("welcome")) {
		t.Fatalf("recorded %+v", msgs)
	}
	payload, err := f.Click(msgs[0], "b1", "UADA")
	if err != nil || !bytes.Contains(payload, []byte(`"value":"{\"id\":\"helpful\"}"`)) {
		t.Fatalf("click = %s, %v", payload, err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil || cb.Container.MessageTs != ts || len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("click payload does not parse as an interaction: %+v %v", cb, err)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("updated", false)); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", "1.000001", slack.MsgOptionText("x", false)); slackCode(err) != "message_not_found" {
		t.Fatalf("update of a missing message: %v, want message_not_found", err)
	}
	if _, err := c.PostEphemeralContext(ctx, "C1", "UADA", slack.MsgOptionText("psst", false)); err != nil {
		t.Fatalf("ephemeral: %v", err)
	}
	if _, _, err := c.DeleteMessageContext(ctx, "C1", ts); err != nil {
		t.Fatalf("delete: %v", err)
	}
	msgs = f.Messages()
	if msgs[0].Text != "updated" || msgs[0].Updates != 1 || !msgs[0].Deleted || msgs[1].Method != "chat.postEphemeral" || msgs[1].User != "UADA" {
		t.Fatalf("recorded %+v", msgs)
	}
	u, err := c.GetUserInfoContext(ctx, "UADA")
	if err != nil || u.Profile.DisplayName != "Ada" || u.Profile.Email != "ada@example.test" || u.Locale != "en-GB" {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	if _, err := c.GetUserInfoContext(ctx, "UNOBODY"); slackCode(err) != "user_not_found" {
		t.Fatalf("users.info of a stranger: %v", err)
	}
}

func TestInvalidMessages(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	c := client(f, f.Config().BotToken)
	long := slack.NewButtonBlockElement("b1", "v", slack.NewTextBlockObject(slack.PlainTextType, strings.Repeat("x", 76), false, false))
	tests := []struct {
		name    string
		channel string
		opts    []slack.MsgOption
		want    string
	}{
		{"no text", "C1", nil, "no_text"},
		{"bad channel", "general", []slack.MsgOption{slack.MsgOptionText("hi", false)}, "channel_not_found"},
		{"button label too long", "C1", []slack.MsgOption{slack.MsgOptionBlocks(slack.NewActionBlock("a", long))}, "invalid_blocks"},
		{"too long", "C1", []slack.MsgOption{slack.MsgOptionText(strings.Repeat("x", 40001), false)}, "msg_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.PostMessageContext(ctx, tt.channel, tt.opts...)
			if got := slackCode(err); got != tt.want {
				t.Fatalf("error = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	if n := len(f.Messages()); n != 0 {
		t.Fatalf("%d messages recorded, want none", n)
	}
}

func TestFaults(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	c := client(f, f.Config().BotToken)
	f.RateLimit("chat.postMessage", 1, 7)
	_, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("rate limited post: %v, want RateLimitedError of 7s", err)
	}
	f.Fail("chat.postMessage", 1, http.StatusServiceUnavailable)
	_, _, err = c.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("failing post: %v, want StatusCodeError 503", err)
	}
	if _, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatalf("post after the faults: %v", err)
	}
	calls := f.Calls("chat.postMessage")
	if len(calls) != 3 || calls[0].Error != "http_429" || calls[1].Error != "http_503" || calls[2].Error != "" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestJSONBody(t *testing.T) {
	f := startFake(t)
	body := `{"channel":"C1","text":"json hi","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"json hi"}}]}`
	req, _ := http.NewRequest(http.MethodPost, f.APIURL()+"chat.postMessage", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+f.Config().BotToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"ok":true`)) {
		t.Fatalf("JSON post = %d %s", res.StatusCode, b)
	}
	if m := f.Messages(); len(m) != 1 || m[0].Text != "json hi" || !bytes.Contains(m[0].Blocks, []byte("section")) {
		t.Fatalf("recorded %+v", m)
	}
}

func TestSign(t *testing.T) {
	body := []byte(`{"type":"url_verification"}`)
	ts := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "http://app.test/slack/events", bytes.NewReader(body))
	slackfake.SignRequest(req, "s3cret-signing", ts, body)
	sv, err := slack.NewSecretsVerifier(req.Header, "s3cret-signing")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Fatalf("slack-go rejects the fake's signature: %v", err)
	}
	sv, _ = slack.NewSecretsVerifier(req.Header, "other-secret")
	_, _ = sv.Write(body)
	if sv.Ensure() == nil {
		t.Fatal("a signature with another secret verified")
	}
}

func TestSocketMode(t *testing.T) {
	f := startFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sm := socketmode.New(client(f, f.Config().BotToken))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(runCtx) }()
	if err := f.WaitSocket(ctx); err != nil {
		t.Fatal(err)
	}
	ev := f.EventCallback("Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UADA", Text: "hi", TS: "1700000000.000100"})
	id, err := f.SendEnvelope(slackfake.EnvelopeEventsAPI, ev)
	if err != nil {
		t.Fatal(err)
	}
	var got socketmode.Event
	for got.Type != socketmode.EventTypeEventsAPI {
		select {
		case got = <-sm.Events:
		case <-ctx.Done():
			t.Fatal("no events_api event reached the client")
		}
	}
	if got.Request == nil || got.Request.EnvelopeID != id {
		t.Fatalf("event request = %+v, want envelope %s", got.Request, id)
	}
	if err := sm.AckCtx(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitAck(ctx, id); err != nil {
		t.Fatal(err)
	}
	wrong := slack.New(f.Config().BotToken, slack.OptionAPIURL(f.APIURL()), slack.OptionAppLevelToken("xapp-wrong"))
	if _, _, err := wrong.StartSocketModeContext(ctx); slackCode(err) != "invalid_auth" {
		t.Fatalf("connections.open with a wrong token: %v", err)
	}
	stop()
	for {
		select {
		case <-sm.Events: // drain until the client stops
		case <-done:
			return
		case <-ctx.Done():
			t.Fatal("socket mode client did not stop")
		}
	}
}

func TestClickFindsButtonsBesideContextBlocks(t *testing.T) {
	s := slackfake.New(slackfake.Config{})
	m := slackfake.Message{TS: "1.000001", Channel: "C1", Blocks: json.RawMessage(`[
		{"type":"section","text":{"type":"mrkdwn","text":"answer"}},
		{"type":"context","elements":[{"type":"mrkdwn","text":"Sources: <https://x|X>"}]},
		{"type":"actions","block_id":"b1","elements":[{"type":"button","action_id":"helpful","value":"v","text":{"type":"plain_text","text":"Helpful"}}]}
	]`)}
	payload, err := s.Click(m, "helpful", "U1")
	if err != nil {
		t.Fatalf("Click on a message with a context block: %v", err)
	}
	if !strings.Contains(string(payload), `"action_id":"helpful"`) {
		t.Fatalf("payload %s does not carry the clicked action", payload)
	}
}
