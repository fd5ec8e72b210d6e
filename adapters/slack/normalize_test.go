package slack_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/conversation"
)

// step is one thing Slack sends: an event, or a click on a button of the
// message the bot posted for outbound (sent first through the Sender).
type step struct {
	id    string
	event slackfake.Event
	click *conversation.Outbound
	// after waits until the engine got this many messages before the
	// step (steps that depend on an earlier one's effect).
	after int
}

// want is what one handled message must look like.
type want struct {
	key, thread, dedupe, text, user, name string
	action                                *conversation.Action
	files                                 []conversation.Attachment
}

func TestNormalize(t *testing.T) {
	const ts1, ts2, ts3 = "1700000001.000100", "1700000002.000200", "1700000003.000300"
	dm := func(text, ts string) slackfake.Event {
		return slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: text, TS: ts}
	}
	mention := func(text, ts, thread string) slackfake.Event {
		return slackfake.Event{Type: "app_mention", Channel: "C1", User: "UEMP", Text: text, TS: ts, ThreadTS: thread}
	}
	chanMsg := func(text, ts, thread string) slackfake.Event {
		return slackfake.Event{Type: "message", ChannelType: "channel", Channel: "C1", User: "UEMP", Text: text, TS: ts, ThreadTS: thread}
	}
	tests := []struct {
		name  string
		steps []step
		// deliveries is how many messages the engine must get (default:
		// len(want)); more when one message arrives as several events.
		deliveries int
		want       []want
	}{
		{
			name:  "direct message",
			steps: []step{{id: "Ev1", event: dm("How do I reset my password &amp; PIN?", ts1)}},
			want:  []want{{key: "slack:T0FAKE:D1", dedupe: "D1:" + ts1, text: "How do I reset my password & PIN?", user: "UEMP", name: "Erin"}},
		},
		{
			name:  "direct message in a thread",
			steps: []step{{id: "Ev1", event: slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "more", TS: ts2, ThreadTS: ts1}}},
			want:  []want{{key: "slack:T0FAKE:D1", thread: ts1, dedupe: "D1:" + ts2, text: "more", user: "UEMP", name: "Erin"}},
		},
		{
			name:  "mention starts a thread",
			steps: []step{{id: "Ev1", event: mention("<@U0BOT> my laptop won't boot, see <https://wiki.example/x|the wiki>", ts1, "")}},
			want:  []want{{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "C1:" + ts1, text: "my laptop won't boot, see the wiki (https://wiki.example/x)", user: "UEMP", name: "Erin"}},
		},
		{
			name: "app_mention and message event of one message share the dedupe key",
			steps: []step{
				{id: "Ev1", event: mention("<@U0BOT> hello", ts1, "")},
				{id: "Ev2", event: mention("<@U0BOT> again", ts2, ts1), after: 1},
				{id: "Ev3", event: chanMsg("<@U0BOT> again", ts2, ts1)},
			},
			deliveries: 3,
			want: []want{
				{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "C1:" + ts1, text: "hello", user: "UEMP", name: "Erin"},
				{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "C1:" + ts2, text: "again", user: "UEMP", name: "Erin"},
			},
		},
		{
			name: "thread reply in a thread the bot is part of",
			steps: []step{
				{id: "Ev1", event: mention("<@U0BOT> printer jammed", ts1, "")},
				{id: "Ev2", event: chanMsg("still jammed", ts2, ts1), after: 1},
			},
			want: []want{
				{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "C1:" + ts1, text: "printer jammed", user: "UEMP", name: "Erin"},
				{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "C1:" + ts2, text: "still jammed", user: "UEMP", name: "Erin"},
			},
		},
		{
			name:  "thread reply in someone else's thread is ignored",
			steps: []step{{id: "Ev1", event: chanMsg("unrelated chatter", ts2, ts1)}},
		},
		{
			name:  "channel message without a mention is ignored",
			steps: []step{{id: "Ev1", event: chanMsg("lunch?", ts1, "")}},
		},
		{
			name: "the bot's own messages are ignored",
			steps: []step{
				{id: "Ev1", event: slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "U0BOT", BotID: "B0BOT", Text: "answer", TS: ts1}},
				{id: "Ev2", event: slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "U0BOT", Text: "answer", TS: ts2}},
			},
		},
		{
			name:  "other bots are ignored",
			steps: []step{{id: "Ev1", event: slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", Subtype: "bot_message", BotID: "BOTHER", Text: "beep", TS: ts1}}},
		},
		{
			name: "irrelevant subtypes are ignored",
			steps: []step{
				{id: "Ev1", event: slackfake.Event{Type: "message", Subtype: "channel_join", ChannelType: "channel", Channel: "C1", User: "UEMP", Text: "<@UEMP> has joined the channel", TS: ts1}},
				{id: "Ev2", event: slackfake.Event{Type: "message", Subtype: "message_deleted", ChannelType: "im", Channel: "D1", TS: ts2}},
				{id: "Ev3", event: slackfake.Event{Type: "message", Subtype: "message_changed", ChannelType: "im", Channel: "D1", TS: ts3}},
			},
		},
		{
			name:  "top-level staff channel chatter is ignored",
			steps: []step{{id: "Ev1", event: slackfake.Event{Type: "message", ChannelType: "channel", Channel: staffChan, User: "UAGENT", Text: "coffee?", TS: ts1}}},
		},
		{
			name: "file attachment",
			steps: []step{{id: "Ev1", event: slackfake.Event{Type: "message", Subtype: "file_share", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "here is the error", TS: ts1,
				Files: []slackfake.File{{ID: "F1", Name: "error.png", Mimetype: "image/png", URLPrivate: "https://files.slack.test/F1/error.png", Size: 2048}}}}},
			want: []want{{key: "slack:T0FAKE:D1", dedupe: "D1:" + ts1, text: "here is the error", user: "UEMP", name: "Erin",
				files: []conversation.Attachment{{Name: "error.png", MIMEType: "image/png", URL: "https://files.slack.test/F1/error.png", Size: 2048}}}},
		},
		{
			name: "block_actions click on a customer button",
			steps: []step{{click: &conversation.Outbound{ID: "o1", ConversationKey: "slack:T0FAKE:C1:" + ts1, Channel: conversation.ChannelSlack, ThreadKey: ts1, Kind: conversation.KindConsulting,
				Text: "Which one?", Buttons: []conversation.Button{{Label: "VPN on Windows", Action: conversation.Action{ID: conversation.ActionConsult, Value: "vpn windows"}}}}}},
			want: []want{{key: "slack:T0FAKE:C1:" + ts1, thread: ts1, dedupe: "act:C1:", user: "UEMP", name: "Erin",
				action: &conversation.Action{ID: conversation.ActionConsult, Value: "vpn windows"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			for _, s := range tt.steps {
				if s.after > 0 {
					fx.eng.waitFor(t, "earlier messages", func(m []conversation.Message, _ []conversation.AgentAction) bool { return len(m) >= s.after })
				}
				if s.click != nil {
					if err := fx.adapter.Sender().Send(context.Background(), *s.click); err != nil {
						t.Fatalf("send: %v", err)
					}
					posted := waitMessage(t, fx.fake, "the message with buttons", inThread("C1", s.click.ThreadKey))
					payload, err := fx.fake.Click(posted, "tier0_btn_0", "UEMP")
					if err != nil {
						t.Fatal(err)
					}
					fx.interact(t, payload)
					continue
				}
				fx.event(t, s.id, s.event)
			}
			fx.close(t) // every accepted event is processed now
			got := fx.eng.messages()
			deliveries := tt.deliveries
			if deliveries == 0 {
				deliveries = len(tt.want)
			}
			if len(got) != deliveries {
				t.Fatalf("engine got %d deliveries, want %d: %+v", len(got), deliveries, got)
			}
			// The recording engine does not dedupe: one logical message
			// delivered twice shows up twice with the same dedupe key.
			slices.SortFunc(got, func(a, b conversation.Message) int { return strings.Compare(a.DedupeKey, b.DedupeKey) })
			got = slices.CompactFunc(got, func(a, b conversation.Message) bool { return a.DedupeKey == b.DedupeKey })
			if len(got) != len(tt.want) {
				t.Fatalf("engine got %d messages, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Channel != conversation.ChannelSlack || g.ConversationKey != w.key || g.ThreadKey != w.thread || !strings.HasPrefix(g.DedupeKey, w.dedupe) ||
					g.Text != w.text || g.User.ID != w.user || g.User.DisplayName != w.name || g.User.TenantID != team {
					t.Errorf("message %d = %+v\nwant %+v", i, g, w)
				}
				if (g.Action == nil) != (w.action == nil) || g.Action != nil && *g.Action != *w.action {
					t.Errorf("message %d action = %+v, want %+v", i, g.Action, w.action)
				}
				if !slices.Equal(g.Attachments, w.files) {
					t.Errorf("message %d attachments = %+v, want %+v", i, g.Attachments, w.files)
				}
				if err := g.Validate(); err != nil {
					t.Errorf("message %d does not validate: %v", i, err)
				}
			}
		})
	}
}

func TestSameMessageDedupeKeyAcrossRetries(t *testing.T) {
	fx := newFixture(t)
	ev := slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hi", TS: "1700000001.000100"}
	body := fx.fake.EventCallback("Ev1", ev)
	fx.event(t, "Ev1", ev)
	res, err := fx.fake.RetryEvent(context.Background(), fx.srv.URL+"/slack/events", body, 1)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("retry: status %d, want 200", res.StatusCode)
	}
	fx.close(t)
	got := fx.eng.messages()
	if len(got) != 2 || got[0].DedupeKey != got[1].DedupeKey || got[0].DedupeKey != "D1:1700000001.000100" {
		t.Fatalf("a retried delivery must carry the same dedupe key: %+v", got)
	}
}
