package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
)

const thread1 = "1700000001.000100"

func answer(id string) conversation.Outbound {
	return conversation.Outbound{
		ID:              id,
		ConversationKey: "slack:T0FAKE:C1:" + thread1,
		Channel:         conversation.ChannelSlack,
		ThreadKey:       thread1,
		Kind:            conversation.KindAnswer,
		Text:            "Open <Settings> & choose *Reset*.",
		Citations: []conversation.Citation{
			{Title: "Password guide", URL: "https://kb.example/pw?a=1|2"},
			{Title: "Local note", Source: "notes/pw.md"},
			{Title: "Sneaky", URL: "javascript:alert(1)"},
		},
		Buttons: []conversation.Button{
			{Label: "Helpful", Action: conversation.Action{ID: conversation.ActionHelpful}},
			{Label: "Not helpful", Action: conversation.Action{ID: conversation.ActionNotHelpful}},
			{Label: "Talk to a person", Action: conversation.Action{ID: conversation.ActionHuman}},
			{Label: strings.Repeat("Very long consulting option ", 5), Action: conversation.Action{ID: conversation.ActionConsult, Value: strings.Repeat("q", 3000)}},
		},
	}
}

func TestSenderBlocks(t *testing.T) {
	fx := newFixture(t)
	if err := fx.adapter.Sender().Send(context.Background(), answer("o1")); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := fx.fake.Messages()
	if len(msgs) != 1 || msgs[0].Channel != "C1" || msgs[0].ThreadTS != thread1 {
		t.Fatalf("posted %+v, want one message in C1's thread", msgs)
	}
	bs := blocksOf(t, msgs[0])
	if len(bs) != 3 || bs[0].Type != "section" || bs[1].Type != "context" || bs[2].Type != "actions" {
		t.Fatalf("blocks = %s, want section, context, actions", msgs[0].Blocks)
	}
	if got, want := bs[0].Text.Text, "Open &lt;Settings&gt; &amp; choose *Reset*."; got != want || bs[0].Text.Type != "mrkdwn" {
		t.Errorf("section = %q, want %q (mrkdwn, escaped)", got, want)
	}
	var cites []string
	for _, e := range bs[1].Elements {
		cites = append(cites, textOf(e.Text))
	}
	joined := strings.Join(cites, " ")
	for _, want := range []string{"<https://kb.example/pw?a=1%7C2|Password guide>", "Local note", "Sneaky"} {
		if !strings.Contains(joined, want) {
			t.Errorf("citations %s lack %q", joined, want)
		}
	}
	if strings.Contains(joined, "javascript") {
		t.Errorf("citations %s link a javascript: URL", joined)
	}
	wantIDs := []string{conversation.ActionHelpful, conversation.ActionNotHelpful, conversation.ActionHuman, conversation.ActionConsult}
	if len(bs[2].Elements) != len(wantIDs) {
		t.Fatalf("buttons = %+v", bs[2].Elements)
	}
	for i, e := range bs[2].Elements {
		var v struct{ ID, V string }
		if err := json.Unmarshal([]byte(e.Value), &v); err != nil || v.ID != wantIDs[i] || len(e.Value) > 2000 || e.Type != "button" {
			t.Errorf("button %d = %+v (%v), want action %s in a value of at most 2000 bytes", i, e, err, wantIDs[i])
		}
	}
	if msgs[0].Text == "" {
		t.Error("no notification text")
	}
}

func TestSenderRetryAfter(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.fake.RateLimit("chat.postMessage", 1, 7)
	err := fx.adapter.Sender().Send(ctx, answer("o1"))
	var ra *conversation.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 7*time.Second || conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send on 429 = %v, want a RetryAfterError of 7s with code unavailable", err)
	}
	// The channel is held back for the Retry-After: the next send does
	// not even reach Slack.
	err = fx.adapter.Sender().Send(ctx, answer("o1"))
	if conversation.RetryAfter(err) <= 0 || conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send during Retry-After = %v, want a RetryAfterError", err)
	}
	if n := len(fx.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("Slack got %d posts, want 1 (the rate-limited one)", n)
	}
	// Other channels are not held back.
	other := answer("o2")
	other.ConversationKey, other.ThreadKey = "slack:T0FAKE:D2", ""
	if err := fx.adapter.Sender().Send(ctx, other); err != nil {
		t.Fatalf("send to another channel: %v", err)
	}
}

func TestSenderErrors(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(f *slackfake.Server)
		edit     func(o *conversation.Outbound)
		wantCode conversation.Code
	}{
		{"5xx is unavailable", func(f *slackfake.Server) { f.Fail("chat.postMessage", 1, http.StatusServiceUnavailable) }, nil, conversation.Unavailable},
		{"unknown channel is permanent", nil, func(o *conversation.Outbound) { o.ConversationKey = "slack:T0FAKE:X1:" + thread1 }, conversation.Invalid},
		{"staff message to a customer", nil, func(o *conversation.Outbound) { o.Kind = conversation.KindStaff }, conversation.Invalid},
		{"other channel", nil, func(o *conversation.Outbound) { o.Channel = conversation.ChannelWebChat }, conversation.Invalid},
		{"not a slack key", nil, func(o *conversation.Outbound) { o.ConversationKey = "webchat:abc" }, conversation.Invalid},
		{"no id", nil, func(o *conversation.Outbound) { o.ID = "" }, conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if tt.prepare != nil {
				tt.prepare(fx.fake)
			}
			o := answer("o1")
			if tt.edit != nil {
				tt.edit(&o)
			}
			err := fx.adapter.Sender().Send(context.Background(), o)
			if got := conversation.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("send = %v (code %s), want code %s", err, got, tt.wantCode)
			}
		})
	}
}

func TestSenderBadToken(t *testing.T) {
	f := startFake(t)
	cfg := testConfig(f)
	cfg.BotToken = "xoxb-revoked"
	a, err := slack.New(cfg, newRecorder(), openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("start with a bad token = %v, want unauthorized", err)
	}
	if err := a.Sender().Send(context.Background(), answer("o1")); conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("send with a bad token = %v, want unauthorized", err)
	}
}

func TestSenderIdempotent(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	for range 2 {
		if err := fx.adapter.Sender().Send(ctx, answer("o1")); err != nil {
			t.Fatal(err)
		}
	}
	// Another replica sharing the store does not post it again either.
	other, err := slack.New(testConfig(fx.fake), newRecorder(), fx.store)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Sender().Send(ctx, answer("o1")); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.fake.Messages()); n != 1 {
		t.Fatalf("%d messages posted for one outbound id, want 1", n)
	}
}

func TestSenderPaced(t *testing.T) {
	fx := newFixture(t, func(c *slack.Config) { c.PostsPerSecond, c.PostBurst = 0.001, 1 })
	ctx := context.Background()
	if err := fx.adapter.Sender().Send(ctx, answer("o1")); err != nil {
		t.Fatal(err)
	}
	err := fx.adapter.Sender().Send(ctx, answer("o2"))
	if ra := conversation.RetryAfter(err); ra < 100*time.Second {
		t.Fatalf("second send into a paced channel = %v, want a long RetryAfter", err)
	}
	if n := len(fx.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("Slack got %d posts, want 1", n)
	}
}

// placeholderFixture is a fixture with a 1ms placeholder delay whose
// engine answers each message with reply, but only once the returned
// channel is closed.
func placeholderFixture(t *testing.T, reply func(m conversation.Message) (conversation.Result, error)) (*fixture, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	// The event is acknowledged on queueing: these turns wait for the test.
	fx := newFixture(t, func(c *slack.Config) { c.PlaceholderAfter = time.Millisecond; c.CommitWait = -1 })
	fx.eng.handle = func(ctx context.Context, m conversation.Message) (conversation.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return conversation.Result{}, ctx.Err()
		}
		return reply(m)
	}
	return fx, release
}

func TestPlaceholderThenUpdate(t *testing.T) {
	var reply conversation.Outbound
	fx, release := placeholderFixture(t, func(m conversation.Message) (conversation.Result, error) {
		reply = conversation.Outbound{ID: "o1", ConversationKey: m.ConversationKey, Channel: conversation.ChannelSlack, ThreadKey: m.ThreadKey,
			Kind: conversation.KindAnswer, Text: "Here is how.", InReplyTo: m.DedupeKey}
		return conversation.Result{Outbound: []conversation.Outbound{reply}}, nil
	})
	fx.event(t, "Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "slow question", TS: thread1})
	ph := waitMessage(t, fx.fake, "the placeholder", func(m slackfake.Message) bool { return m.Channel == "D1" && m.Text == "Looking that up…" })
	close(release)
	fx.close(t) // the turn is over
	if err := fx.adapter.Sender().Send(context.Background(), reply); err != nil {
		t.Fatalf("send: %v", err)
	}
	msgs := fx.fake.Messages()
	if len(msgs) != 1 || msgs[0].TS != ph.TS || msgs[0].Updates != 1 || msgs[0].Text != "Here is how." || !strings.Contains(string(msgs[0].Blocks), "Here is how.") {
		t.Fatalf("messages = %+v, want the placeholder replaced by the answer", msgs)
	}
	if n := len(fx.fake.Calls("chat.update")); n != 1 {
		t.Fatalf("%d chat.update calls, want 1", n)
	}
}

func TestPlaceholderWithoutReply(t *testing.T) {
	tests := []struct {
		name   string
		reply  func(m conversation.Message) (conversation.Result, error)
		check  func(t *testing.T, m slackfake.Message)
		method string
	}{
		{
			name:  "a turn without a reply removes it",
			reply: func(conversation.Message) (conversation.Result, error) { return conversation.Result{}, nil },
			check: func(t *testing.T, m slackfake.Message) {
				t.Helper()
				assert(t, m.Deleted, "placeholder %+v not deleted", m)
			},
			method: "chat.delete",
		},
		{
			name: "a failed turn turns it into an apology",
			reply: func(conversation.Message) (conversation.Result, error) {
				return conversation.Result{}, conversation.Errorf(conversation.Unavailable, "store down")
			},
			check: func(t *testing.T, m slackfake.Message) {
				t.Helper()
				assert(t, strings.Contains(m.Text, "Sorry"), "placeholder %+v not an apology", m)
			},
			method: "chat.update",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx, release := placeholderFixture(t, tt.reply)
			fx.event(t, "Ev1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "slow question", TS: thread1})
			waitMessage(t, fx.fake, "the placeholder", func(m slackfake.Message) bool { return m.Channel == "D1" })
			close(release)
			fx.close(t)
			msgs := fx.fake.Messages()
			if len(msgs) != 1 || len(fx.fake.Calls(tt.method)) != 1 {
				t.Fatalf("messages %+v, %s calls %d; want the placeholder handled with one %s", msgs, tt.method, len(fx.fake.Calls(tt.method)), tt.method)
			}
			tt.check(t, msgs[0])
		})
	}
}

func assert(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
