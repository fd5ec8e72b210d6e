package teams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
)

// inboundFrom makes alice write to the bot, which stores her conversation
// reference; it returns the conversation key and the activity.
func (h *harness) inboundFrom(tb testing.TB, u botframework.User) (string, botframework.Activity) {
	tb.Helper()
	a := h.fake.PersonalMessage(u, "hello")
	if got := h.deliver(tb, a); got != http.StatusAccepted {
		tb.Fatalf("inbound: status %d", got)
	}
	return h.personalKey(u), a
}

func (h *harness) send(tb testing.TB, o conversation.Outbound) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	return h.adapter.Sender().Send(ctx, o)
}

func answer(id, key string) conversation.Outbound {
	return conversation.Outbound{
		ID: id, ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindAnswer,
		Text: "Open the VPN portal and choose **Reset token**.",
		Citations: []conversation.Citation{
			{Title: "VPN guide", Source: "it/vpn.md", URL: "https://intranet.example/it/vpn", Section: "Reset"},
			{Title: "Old [notes]", Source: "it/old.md", URL: "javascript:alert(1)"},
		},
		Buttons: []conversation.Button{
			{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
			{Action: conversation.Action{ID: conversation.ActionHuman, Value: "now"}, Label: "Talk to a person"},
		},
	}
}

func TestSenderRendersAnswerCard(t *testing.T) {
	h := newHarness(t, nil)
	key, in := h.inboundFrom(t, alice)
	o := answer("o_card", key)
	o.ReplyTo = in.ID
	if err := h.send(t, o); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.waitActivity(t, "answer card", func(r botframework.Recorded) bool { return r.Card() != nil })
	if r.ConversationID != in.Conversation.ID || r.ReplyTo != in.ID {
		t.Errorf("posted to %q replying to %q, want %q replying to %q", r.ConversationID, r.ReplyTo, in.Conversation.ID, in.ID)
	}
	c := r.Card()
	if c.Version == "" || c.Type != "AdaptiveCard" {
		t.Errorf("card type/version = %q/%q", c.Type, c.Version)
	}
	texts := strings.Join(c.Texts(), "\n")
	for _, want := range []string{
		"Open the VPN portal and choose **Reset token**.",
		"Sources",
		"1. [VPN guide › Reset](https://intranet.example/it/vpn)",
		"2. Old (notes)", // no link for javascript:, no markdown brackets
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("card texts lack %q:\n%s", want, texts)
		}
	}
	if strings.Contains(texts, "javascript") {
		t.Errorf("card carries the unsafe link:\n%s", texts)
	}
	acts := c.AllActions()
	if len(acts) != 2 {
		t.Fatalf("card has %d actions, want 2", len(acts))
	}
	for i, want := range []struct{ title, data string }{
		{"Helpful", `{"tier0_action":"helpful"}`},
		{"Talk to a person", `{"tier0_action":"human","tier0_value":"now"}`},
	} {
		if acts[i].Type != "Action.Submit" || acts[i].Title != want.title || string(acts[i].Data) != want.data {
			t.Errorf("action %d = %s %q %s, want Action.Submit %q %s", i, acts[i].Type, acts[i].Title, acts[i].Data, want.title, want.data)
		}
	}
	// Zero fields stay off the wire (schema.Activity would send them).
	for _, absent := range []string{`"expiration"`, `"timestamp"`, `"relatesTo"`, `"localTimestamp"`} {
		if bytes.Contains(r.Raw, []byte(absent)) {
			t.Errorf("activity carries %s: %s", absent, r.Raw)
		}
	}
	if r.Activity.From.ID != h.fake.Bot().ID || r.Activity.Recipient.ID != alice.ID {
		t.Errorf("from %q to %q, want the bot to alice", r.Activity.From.ID, r.Activity.Recipient.ID)
	}
}

func TestSenderPlainNoticeAndRefusals(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := h.inboundFrom(t, alice)
	notice := conversation.Outbound{ID: "o_notice", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "Bob has joined the conversation."}
	if err := h.send(t, notice); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.waitActivity(t, "notice", func(r botframework.Recorded) bool { return r.Activity.Text == notice.Text })
	if r.Card() != nil || r.Activity.TextFormat != "markdown" {
		t.Errorf("notice rendered as %s", r.Raw)
	}

	tests := []struct {
		name string
		o    conversation.Outbound
		code conversation.Code
	}{
		{"staff kind", conversation.Outbound{ID: "o1", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindStaff, Text: "x"}, conversation.Invalid},
		{"note kind", conversation.Outbound{ID: "o2", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNote, Text: "x"}, conversation.Invalid},
		{"other channel", conversation.Outbound{ID: "o3", ConversationKey: key, Channel: conversation.ChannelSlack, Kind: conversation.KindNotice, Text: "x"}, conversation.Invalid},
		{"no id", conversation.Outbound{ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"}, conversation.Invalid},
		{"no stored reference", conversation.Outbound{ID: "o4", ConversationKey: "teams:t:unknown", Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"}, conversation.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.send(t, tt.o); conversation.ErrorCode(err) != tt.code {
				t.Fatalf("Send: %v, want code %s", err, tt.code)
			}
		})
	}
	if n := len(h.fake.Activities()); n != 1 {
		t.Fatalf("%d activities posted, want only the notice", n)
	}
}

func TestSenderProactiveFromStoredReference(t *testing.T) {
	h := newHarness(t, nil)
	key, in := h.inboundFrom(t, alice)
	// Hours later, from another adapter (a restart, another replica): only
	// the stored reference says where alice is.
	h.clock.Advance(5 * time.Hour)
	other, err := teams.New(h.cfg, h.eng, h.refs)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	o := conversation.Outbound{ID: "o_agent", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindAgent, Text: "Please restart the VPN client."}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := other.Sender().Send(ctx, o); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.waitActivity(t, "agent reply", func(r botframework.Recorded) bool { return r.Activity.Text == o.Text })
	if r.ConversationID != in.Conversation.ID || r.ReplyTo != "" {
		t.Fatalf("posted to %q (reply to %q), want %q as a new message", r.ConversationID, r.ReplyTo, in.Conversation.ID)
	}
}

func TestSenderIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := h.inboundFrom(t, alice)
	o := conversation.Outbound{ID: "o_once", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "once"}
	for i := 0; i < 3; i++ {
		if err := h.send(t, o); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if n := len(h.fake.Activities()); n != 1 {
		t.Fatalf("%d activities for one outbound id, want 1", n)
	}
}

func TestTokenCachingAndRefresh(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := h.inboundFrom(t, alice)
	n := 0
	sendOne := func() {
		t.Helper()
		n++
		o := conversation.Outbound{ID: fmt.Sprintf("o_%d", n), ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"}
		if err := h.send(t, o); err != nil {
			t.Fatalf("Send %d: %v", n, err)
		}
	}
	for i := 0; i < 3; i++ {
		sendOne()
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("token requests after 3 sends = %d, want 1 (cached)", got)
	}
	// The fake's tokens live 1h; the adapter renews 5 minutes early.
	h.clock.Advance(54 * time.Minute)
	sendOne()
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("token requests at 54m = %d, want 1", got)
	}
	h.clock.Advance(2 * time.Minute)
	sendOne()
	if got := h.fake.TokenRequests(); got != 2 {
		t.Fatalf("token requests at 56m = %d, want 2 (refreshed before expiry)", got)
	}
	// A token the connector no longer accepts: 401, one refresh, success.
	h.fake.RevokeTokens()
	sendOne()
	if got := h.fake.TokenRequests(); got != 3 {
		t.Fatalf("token requests after a revoked token = %d, want 3", got)
	}
	if got := len(h.fake.Activities()); got != n {
		t.Fatalf("%d activities posted, want %d", got, n)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := h.inboundFrom(t, alice)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			o := conversation.Outbound{ID: fmt.Sprintf("o_par_%d", i), ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"}
			errs <- h.send(t, o)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if got := h.fake.TokenRequests(); got != 1 {
		t.Fatalf("token requests for 20 concurrent sends = %d, want 1", got)
	}
	if got := len(h.fake.Activities()); got != 20 {
		t.Fatalf("%d activities, want 20", got)
	}
}

func TestConnectorRetries(t *testing.T) {
	tests := []struct {
		name       string
		faults     func(f *botframework.Server)
		attempts   int
		wantErr    conversation.Code
		wantAfter  time.Duration // RetryAfter of the error
		wantDelays []time.Duration
		wantCalls  int
	}{
		{name: "429 retried after the advertised delay",
			faults:     func(f *botframework.Server) { f.FailNext(http.StatusTooManyRequests, 1, "2") },
			wantDelays: []time.Duration{2 * time.Second}, wantCalls: 2},
		{name: "412 and 502 retried with backoff",
			faults: func(f *botframework.Server) {
				f.FailNext(http.StatusPreconditionFailed, 1, "")
				f.FailNext(http.StatusBadGateway, 1, "")
			},
			wantDelays: []time.Duration{-1, -1}, wantCalls: 3},
		{name: "504 until the attempts run out",
			faults:   func(f *botframework.Server) { f.FailNext(http.StatusGatewayTimeout, 10, "") },
			attempts: 3, wantErr: conversation.Unavailable, wantDelays: []time.Duration{-1, -1}, wantCalls: 3},
		{name: "a long Retry-After goes back to the dispatcher",
			faults:  func(f *botframework.Server) { f.FailNext(http.StatusTooManyRequests, 10, "120") },
			wantErr: conversation.Unavailable, wantAfter: 120 * time.Second, wantCalls: 1},
		{name: "400 is permanent",
			faults:  func(f *botframework.Server) { f.FailNext(http.StatusBadRequest, 1, "") },
			wantErr: conversation.Invalid, wantCalls: 1},
		{name: "404 is permanent",
			faults:  func(f *botframework.Server) { f.FailNext(http.StatusNotFound, 1, "") },
			wantErr: conversation.NotFound, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *teams.Config) {
				if tt.attempts > 0 {
					c.MaxAttempts = tt.attempts
				}
			})
			key, _ := h.inboundFrom(t, alice)
			tt.faults(h.fake)
			before := h.fake.ConnectorCalls()
			err := h.send(t, conversation.Outbound{ID: "o_retry", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"})
			if code := conversation.ErrorCode(err); code != tt.wantErr {
				t.Fatalf("Send: %v (code %q), want code %q", err, code, tt.wantErr)
			}
			if got := conversation.RetryAfter(err); got != tt.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantAfter)
			}
			if got := h.fake.ConnectorCalls() - before; got != tt.wantCalls {
				t.Errorf("connector calls = %d, want %d", got, tt.wantCalls)
			}
			delays := h.retryDelays()
			if len(delays) != len(tt.wantDelays) {
				t.Fatalf("retry waits = %v, want %d", delays, len(tt.wantDelays))
			}
			for i, d := range delays {
				switch want := tt.wantDelays[i]; {
				case want >= 0 && d != want:
					t.Errorf("wait %d = %v, want %v", i, d, want)
				case want < 0 && (d <= 0 || d > teams.DefaultMaxRetryWait):
					t.Errorf("backoff wait %d = %v, want within (0, %v]", i, d, teams.DefaultMaxRetryWait)
				}
			}
			delivered := len(h.fake.Activities()) == 1
			if delivered != (tt.wantErr == "") {
				t.Errorf("delivered = %v, want %v", delivered, tt.wantErr == "")
			}
		})
	}
}

func TestWrongCredentialsArePermanent(t *testing.T) {
	h := newHarness(t, func(c *teams.Config) { c.AppPassword = "wrong" })
	key, _ := h.inboundFrom(t, alice)
	err := h.send(t, conversation.Outbound{ID: "o_x", ConversationKey: key, Channel: conversation.ChannelTeams, Kind: conversation.KindNotice, Text: "x"})
	if conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("Send with a wrong secret: %v, want Unauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the error leaks the secret: %v", err)
	}
}

// decodeData reads an Action.Submit's data.
func decodeData(tb testing.TB, raw json.RawMessage) map[string]string {
	tb.Helper()
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("action data %s: %v", raw, err)
	}
	return m
}
