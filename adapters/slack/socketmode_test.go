package slack_test

import (
	"context"
	"encoding/json"
	"testing"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
)

// helpfulClick sends an answer with a Helpful button to D1 over a and
// returns the fake's block_actions payload of UEMP clicking it.
func helpfulClick(tb testing.TB, a *slack.Adapter, fake *slackfake.Server, outboundID string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o := conversation.Outbound{ID: outboundID, ConversationKey: "slack:T0FAKE:D1", Channel: conversation.ChannelSlack, Kind: conversation.KindAnswer, Text: "Done?",
		Buttons: []conversation.Button{{Label: "Helpful", Action: conversation.Action{ID: conversation.ActionHelpful}}}}
	if err := a.Sender().Send(ctx, o); err != nil {
		tb.Fatal(err)
	}
	posted := waitMessage(tb, fake, "the answer", func(m slackfake.Message) bool { return m.Channel == "D1" })
	click, err := fake.Click(posted, "tier0_btn_0", "UEMP")
	if err != nil {
		tb.Fatal(err)
	}
	return click
}

func TestSocketMode(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fx.adapter.RunSocketMode(runCtx) }()
	if err := fx.fake.WaitSocket(ctx); err != nil {
		t.Fatal(err)
	}
	send := func(typ string, payload []byte) {
		t.Helper()
		id, err := fx.fake.SendEnvelope(typ, payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.fake.WaitAck(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	// An events_api envelope is acknowledged and handled like the HTTP
	// event, with the same dedupe key: a message arriving both ways is
	// handled once by the engine.
	const ts = "1700000001.000100"
	dm := slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hello over socket", TS: ts}
	send(slackfake.EnvelopeEventsAPI, fx.fake.EventCallback("Ev1", dm))
	fx.event(t, "Ev1", dm)
	fx.eng.waitFor(t, "both deliveries", func(m []conversation.Message, _ []conversation.AgentAction) bool { return len(m) == 2 })
	got := fx.eng.messages()
	if got[0].DedupeKey != "D1:"+ts || got[1].DedupeKey != got[0].DedupeKey || got[0].ConversationKey != "slack:T0FAKE:D1" || got[0].Text != "hello over socket" {
		t.Fatalf("socket and HTTP deliveries = %+v, want the same message and dedupe key", got)
	}

	// Unknown event types and slash commands are acknowledged and ignored.
	send(slackfake.EnvelopeEventsAPI, fx.fake.EventCallback("Ev2", json.RawMessage(`{"type":"reaction_added","user":"UEMP","reaction":"tada","event_ts":"1700000002.000100"}`)))
	send(slackfake.EnvelopeSlash, []byte(`{"command":"/it","text":"help","user_id":"UEMP","channel_id":"C1","team_id":"T0FAKE"}`))

	// An interactive envelope: a click on a button the bot posted.
	send(slackfake.EnvelopeInteractive, helpfulClick(t, fx.adapter, fx.fake, "o1"))
	fx.eng.waitFor(t, "the click", func(m []conversation.Message, _ []conversation.AgentAction) bool { return len(m) == 3 })
	if a := fx.eng.messages()[2].Action; a == nil || a.ID != conversation.ActionHelpful {
		t.Fatalf("click = %+v, want the helpful action", fx.eng.messages()[2])
	}

	// Slack asks the app to reconnect: it opens a new connection.
	fx.fake.Disconnect()
	if err := fx.fake.WaitHellos(ctx, 2); err != nil {
		t.Fatal(err)
	}
	send(slackfake.EnvelopeEventsAPI, fx.fake.EventCallback("Ev3", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "after reconnect", TS: "1700000003.000100"}))
	fx.eng.waitFor(t, "the message after reconnecting", func(m []conversation.Message, _ []conversation.AgentAction) bool { return len(m) == 4 })

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunSocketMode = %v, want nil after cancel", err)
		}
	case <-ctx.Done():
		t.Fatal("RunSocketMode did not return after cancel")
	}
	fx.close(t)
	if n := len(fx.eng.messages()); n != 4 {
		t.Fatalf("engine got %d messages, want 4 (ignored envelopes must not reach it)", n)
	}
}

func TestSocketModeErrors(t *testing.T) {
	f := startFake(t)
	cfg := testConfig(f)
	cfg.AppToken = ""
	a, err := slack.New(cfg, newRecorder(), openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunSocketMode(context.Background()); conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("without an app token = %v, want invalid", err)
	}
	cfg = testConfig(f)
	cfg.AppToken = "xapp-wrong-token"
	a, err = slack.New(cfg, newRecorder(), openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunSocketMode(context.Background()); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("before Start = %v, want unavailable", err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.RunSocketMode(ctx); conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("with a rejected app token = %v, want unauthorized", err)
	}
}
