package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

var pnKey = "whatsapp:" + shopperPN.User

var feedback = []conversation.Button{
	{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
	{Action: conversation.Action{ID: conversation.ActionNotHelpful}, Label: "Not helpful"},
	{Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Talk to a person"},
}

// outbound is a reply to the shopper's chat.
func outbound(id, text string) conversation.Outbound {
	return conversation.Outbound{ID: id, ConversationKey: pnKey, Channel: conversation.ChannelWhatsApp,
		Recipient: shopperPN.String(), Kind: conversation.KindAnswer, Text: text, CreatedAt: fixtureTime}
}

// connectedAdapter is an adapter whose fake client counts as logged in.
func connectedAdapter(tb testing.TB, cfg whatsapp.Config, h whatsapp.Handler) (*whatsapp.Adapter, *fakeClient) {
	tb.Helper()
	a, cli, _ := newAdapter(tb, cfg, h)
	cli.setLoggedIn(true)
	return a, cli
}

func TestSendRendersWhatsAppText(t *testing.T) {
	tests := []struct {
		name string
		o    func() conversation.Outbound
		want string
	}{
		{"markdown to whatsapp", func() conversation.Outbound {
			return outbound("o1", "## Shipping\nOrders ship in **2 days**, ~~never~~ see [our page](https://shop.example/shipping) or [this](javascript:void).")
		}, "*Shipping*\nOrders ship in *2 days*, ~never~ see our page (https://shop.example/shipping) or this."},
		{"citations as plain links on their own lines", func() conversation.Outbound {
			o := outbound("o2", "Orders ship in 2 days.")
			o.Citations = []conversation.Citation{
				{Title: "Shipping", Source: "shipping.md", URL: "https://shop.example/shipping"},
				{Title: "Returns", Source: "returns.md"},
				{Title: "Bad", Source: "x.md", URL: "javascript:alert(1)"},
			}
			return o
		}, "Orders ship in 2 days.\n\n*Sources*\nShipping\nhttps://shop.example/shipping\nReturns\nBad"},
		{"buttons as numbered choices", func() conversation.Outbound {
			o := outbound("o3", "Orders ship in 2 days.")
			o.Buttons = feedback
			return o
		}, "Orders ship in 2 days.\n\n1. Helpful\n2. Not helpful\n3. Talk to a person\nReply with the number of your choice."},
		{"rating buttons on one line", func() conversation.Outbound {
			o := outbound("o4", "Ticket SHOP-1001 is resolved. How satisfied are you?")
			for i := 1; i <= 5; i++ {
				v := fmt.Sprint(i)
				o.Buttons = append(o.Buttons, conversation.Button{Action: conversation.Action{ID: conversation.ActionCSAT, Value: v}, Label: v})
			}
			return o
		}, "Ticket SHOP-1001 is resolved. How satisfied are you?\n\nReply with a number from 1 to 5."},
		{"german conversation: hints and sources in German", func() conversation.Outbound {
			o := outbound("o5", "Wir versenden in 2 Tagen.")
			o.Language = "de"
			o.Citations = []conversation.Citation{{Title: "Versand", Source: "shipping.md", URL: "https://shop.example/shipping"}}
			o.Buttons = []conversation.Button{{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Hilfreich"}, {Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Mit einem Menschen sprechen"}}
			return o
		}, "Wir versenden in 2 Tagen.\n\n*Quellen*\nVersand\nhttps://shop.example/shipping\n\n1. Hilfreich\n2. Mit einem Menschen sprechen\nAntworten Sie bitte mit der Nummer Ihrer Wahl."},
		{"german rating", func() conversation.Outbound {
			o := outbound("o6", "Ticket SHOP-1001 ist erledigt.")
			o.Language = "de"
			for i := 1; i <= 5; i++ {
				v := fmt.Sprint(i)
				o.Buttons = append(o.Buttons, conversation.Button{Action: conversation.Action{ID: conversation.ActionCSAT, Value: v}, Label: v})
			}
			return o
		}, "Ticket SHOP-1001 ist erledigt.\n\nAntworten Sie bitte mit einer Zahl von 1 bis 5."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, cli := connectedAdapter(t, whatsapp.Config{}, newRecordingHandler())
			o := tt.o()
			if err := a.Send(context.Background(), o); err != nil {
				t.Fatalf("Send: %v", err)
			}
			s := cli.nextSent(t)
			if s.to != shopperPN {
				t.Errorf("sent to %s, want %s", s.to, shopperPN)
			}
			if got := s.text(); got != tt.want {
				t.Errorf("text:\n%s\nwant:\n%s", got, tt.want)
			}
			if want := whatsapp.MessageID(o.ID + "#text"); string(s.id) != want || !strings.HasPrefix(want, "3EB0") || len(want) != 22 {
				t.Errorf("message id = %s, want %s (3EB0 and 18 hex digits)", s.id, want)
			}
		})
	}
}

func TestSendQuotesReplies(t *testing.T) {
	tests := []struct {
		name      string
		quote     whatsapp.QuoteMode
		threadKey string
		later     bool // the shopper wrote again before the reply
		wantQuote bool
	}{
		{"auto: plain reply in a one-to-one chat", whatsapp.QuoteAuto, "", false, false},
		{"auto: the shopper quoted a message", whatsapp.QuoteAuto, "3EB0EARLIER", false, true},
		{"auto: the shopper wrote again", whatsapp.QuoteAuto, "", true, true},
		{"always", whatsapp.QuoteAlways, "", false, true},
		{"never", whatsapp.QuoteNever, "3EB0EARLIER", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := run(t, whatsapp.Config{Quote: tt.quote}, newRecordingHandler(), true)
			h.cli.emit(dm("Q1", "Do you ship to Austria?"))
			if tt.later {
				h.cli.emit(dm("Q2", "And to Switzerland?"))
			}
			o := outbound("q", "Yes, we ship to Austria.")
			o.ReplyTo, o.ThreadKey = "Q1", tt.threadKey
			if err := h.a.Send(context.Background(), o); err != nil {
				t.Fatalf("Send: %v", err)
			}
			s := h.cli.nextSent(t)
			ci := s.msg.GetExtendedTextMessage().GetContextInfo()
			if got := ci != nil; got != tt.wantQuote {
				t.Fatalf("quoted = %v, want %v (message %v)", got, tt.wantQuote, s.msg)
			}
			if !tt.wantQuote {
				return
			}
			if ci.GetStanzaID() != "Q1" || ci.GetParticipant() != shopperPN.String() {
				t.Errorf("quote = %s by %s, want Q1 by %s", ci.GetStanzaID(), ci.GetParticipant(), shopperPN)
			}
			if got := ci.GetQuotedMessage().GetConversation(); got != "Do you ship to Austria?" {
				t.Errorf("quoted text = %q, want the shopper's message", got)
			}
		})
	}
}

func TestNumberedChoicesBothWays(t *testing.T) {
	h := run(t, whatsapp.Config{}, newRecordingHandler(), true)
	rec := h.a
	o := outbound("c1", "Orders ship in 2 days.")
	o.Buttons = feedback
	if err := rec.Send(context.Background(), o); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if s := h.cli.nextSent(t); !strings.Contains(s.text(), "2. Not helpful") {
		t.Fatalf("text %q does not offer the numbered choices", s.text())
	}
	tests := []struct {
		id, text string
		want     *conversation.Action
		wantText string
	}{
		{"N1", "2", &conversation.Action{ID: conversation.ActionNotHelpful}, ""},
		{"N2", " 3. ", &conversation.Action{ID: conversation.ActionHuman}, ""},
		{"N3", "1️⃣", &conversation.Action{ID: conversation.ActionHelpful}, ""},
		{"N4", "talk to a person", &conversation.Action{ID: conversation.ActionHuman}, ""},
		{"N5", "4", nil, "4"},
		{"N6", "2 days is fine", nil, "2 days is fine"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			h.cli.emit(dm(tt.id, tt.text))
			m := recorded(t, h)
			if fmt.Sprint(m.Action) != fmt.Sprint(tt.want) || m.Text != tt.wantText {
				t.Errorf("%q → action %v text %q, want action %v text %q", tt.text, m.Action, m.Text, tt.want, tt.wantText)
			}
		})
	}
	// A reply without buttons ends the menu: "2" is text again.
	if err := rec.Send(context.Background(), outbound("c2", "Glad that helped!")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	h.cli.nextSent(t)
	h.cli.emit(dm("N7", "2"))
	if m := recorded(t, h); m.Action != nil || m.Text != "2" {
		t.Errorf("after a reply without buttons, \"2\" → action %v text %q, want plain text", m.Action, m.Text)
	}
}

// recorded returns the next message the harness's recording handler got.
func recorded(tb testing.TB, h *harness) conversation.Message {
	tb.Helper()
	return h.handler.next(tb)
}

func TestChoicePolls(t *testing.T) {
	h := run(t, whatsapp.Config{ChoicePolls: true, PollTitle: "Did that help?"}, newRecordingHandler(), true)
	o := outbound("p1", "Orders ship in 2 days.")
	o.Buttons = feedback
	if err := h.a.Send(context.Background(), o); err != nil {
		t.Fatalf("Send: %v", err)
	}
	text, poll := h.cli.nextSent(t), h.cli.nextSent(t)
	if strings.Contains(text.text(), "1. Helpful") {
		t.Errorf("with polls the text %q should not repeat the choices", text.text())
	}
	pc := poll.msg.GetPollCreationMessage()
	var names []string
	for _, opt := range pc.GetOptions() {
		names = append(names, opt.GetOptionName())
	}
	if pc.GetName() != "Did that help?" || pc.GetSelectableOptionsCount() != 1 ||
		strings.Join(names, "|") != "1. Helpful|2. Not helpful|3. Talk to a person" {
		t.Errorf("poll = %q %v (max %d), want the numbered feedback options", pc.GetName(), names, pc.GetSelectableOptionsCount())
	}
	if len(poll.msg.GetMessageContextInfo().GetMessageSecret()) != 32 {
		t.Error("the poll has no 32-byte message secret, so votes could not be decrypted")
	}

	vote := func(id string, pollID string, options ...string) {
		h.cli.mu.Lock()
		h.cli.votes[types.MessageID(id)] = options
		h.cli.mu.Unlock()
		e := dm(id, "")
		e.Message = &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
			PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String(pollID), FromMe: proto.Bool(true)},
			Vote:                   &waE2E.PollEncValue{EncPayload: []byte{1}, EncIV: []byte{2}},
		}}
		h.cli.emit(e)
	}
	vote("V0", "3EB0NOTOURPOLL", "1. Helpful") // ignored: another poll
	vote("V1", string(poll.id))                // ignored: vote withdrawn
	vote("V2", string(poll.id), "2. Not helpful")
	m := recorded(t, h)
	if m.PlatformMsgID != "V2" || m.Action == nil || m.Action.ID != conversation.ActionNotHelpful {
		t.Errorf("poll vote → %+v (action %v), want V2 with action not_helpful", m, m.Action)
	}
	// Typed numbers work alongside the poll.
	h.cli.emit(dm("V3", "1"))
	if m := recorded(t, h); m.Action == nil || m.Action.ID != conversation.ActionHelpful {
		t.Errorf("typed 1 → action %v, want helpful", m.Action)
	}
}

func TestChoicesSurviveRestartThroughRefs(t *testing.T) {
	refs := newMapRefs()
	first, cli := connectedAdapter(t, whatsapp.Config{Refs: refs}, newRecordingHandler())
	o := outbound("r1", "Which size?")
	o.Buttons = []conversation.Button{
		{Action: conversation.Action{ID: conversation.ActionConsult, Value: "size S"}, Label: "Small"},
		{Action: conversation.Action{ID: conversation.ActionConsult, Value: "size M"}, Label: "Medium"},
	}
	if err := first.Send(context.Background(), o); err != nil {
		t.Fatalf("Send: %v", err)
	}
	cli.nextSent(t)

	// A new leader (empty memory, same store) understands "2", and can
	// reach the chat for an agent's reply with no recipient.
	h := run(t, whatsapp.Config{Refs: refs}, newRecordingHandler(), true)
	h.cli.emit(dm("R2", "2"))
	if m := recorded(t, h); m.Action == nil || m.Action.Value != "size M" {
		t.Errorf("\"2\" on the new leader → action %v, want consult size M", m.Action)
	}
	agent := outbound("r3", "Medium is in stock.")
	agent.Recipient, agent.Kind = "", conversation.KindAgent
	if err := h.a.Send(context.Background(), agent); err != nil {
		t.Fatalf("Send without recipient: %v", err)
	}
	if s := h.cli.nextSent(t); s.to != shopperPN {
		t.Errorf("sent to %s, want %s", s.to, shopperPN)
	}
}

func TestSendIdempotentAndRetrySafe(t *testing.T) {
	a, cli := connectedAdapter(t, whatsapp.Config{ChoicePolls: true}, newRecordingHandler())
	o := outbound("i1", "Pick one")
	o.Buttons = feedback
	// The poll fails once after the text went out.
	fails := 1
	cli.sendErr = func(_ types.JID, id types.MessageID) error {
		if string(id) == whatsapp.MessageID("i1#poll") && fails > 0 {
			fails--
			return whatsmeow.ErrMessageTimedOut
		}
		return nil
	}
	err := a.Send(context.Background(), o)
	if conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("first Send = %v, want Unavailable", err)
	}
	for range 2 { // the retry, and a duplicate delivery
		if err := a.Send(context.Background(), o); err != nil {
			t.Fatalf("Send again: %v", err)
		}
	}
	var ids []string
	for _, s := range cli.sentMessages() {
		ids = append(ids, string(s.id))
	}
	want := []string{whatsapp.MessageID("i1#text"), whatsapp.MessageID("i1#poll")}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("sent ids %v, want the text once and the poll once: %v", ids, want)
	}
}

func TestSendErrors(t *testing.T) {
	staff := outbound("e1", "card")
	staff.Kind = conversation.KindStaff
	note := outbound("e2", "internal")
	note.Kind = conversation.KindNote
	other := outbound("e3", "hi")
	other.Channel = conversation.ChannelWebChat
	noID := outbound("", "hi")
	unknown := outbound("e4", "hi")
	unknown.ConversationKey, unknown.Recipient = "whatsapp:4900000000", ""
	badKey := outbound("e5", "hi")
	badKey.ConversationKey = "webchat:abc"

	tests := []struct {
		name      string
		o         conversation.Outbound
		loggedOut bool
		sendErr   error
		want      conversation.Code
		retry     bool // a RetryAfter hint is expected
	}{
		{name: "staff message", o: staff, want: conversation.Invalid},
		{name: "internal note", o: note, want: conversation.Invalid},
		{name: "other channel", o: other, want: conversation.Invalid},
		{name: "no id", o: noID, want: conversation.Invalid},
		{name: "unknown chat", o: unknown, want: conversation.Invalid},
		{name: "not a whatsapp key", o: badKey, want: conversation.Invalid},
		{name: "not connected", o: outbound("e6", "hi"), loggedOut: true, want: conversation.Unavailable, retry: true},
		{name: "websocket gone", o: outbound("e7", "hi"), sendErr: whatsmeow.ErrNotConnected, want: conversation.Unavailable},
		{name: "send timeout", o: outbound("e8", "hi"), sendErr: whatsmeow.ErrMessageTimedOut, want: conversation.Unavailable},
		{name: "context deadline", o: outbound("e9", "hi"), sendErr: context.DeadlineExceeded, want: conversation.Unavailable},
		{name: "server rate limit", o: outbound("e10", "hi"), sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429), want: conversation.Unavailable},
		{name: "server refuses", o: outbound("e11", "hi"), sendErr: fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 403), want: conversation.Internal},
		{name: "other failure", o: outbound("e12", "hi"), sendErr: whatsmeow.ErrUnknownServer, want: conversation.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, cli := connectedAdapter(t, whatsapp.Config{}, newRecordingHandler())
			cli.setLoggedIn(!tt.loggedOut)
			if tt.sendErr != nil {
				cli.sendErr = func(types.JID, types.MessageID) error { return tt.sendErr }
			}
			err := a.Send(context.Background(), tt.o)
			if got := conversation.ErrorCode(err); got != tt.want {
				t.Errorf("Send = %v (code %s), want code %s", err, got, tt.want)
			}
			if got := conversation.RetryAfter(err) > 0; got != tt.retry {
				t.Errorf("RetryAfter = %v, want a hint: %v", conversation.RetryAfter(err), tt.retry)
			}
			if tt.sendErr == nil && len(cli.sentMessages()) != 0 {
				t.Errorf("sent %d messages, want none", len(cli.sentMessages()))
			}
		})
	}
}

func TestSendRateLimitPerChat(t *testing.T) {
	clock := &fakeClock{t: fixtureTime}
	a, cli := connectedAdapter(t, whatsapp.Config{RatePerMinute: 6, RateBurst: 2, Now: clock.Now}, newRecordingHandler())
	for i := range 2 {
		if err := a.Send(context.Background(), outbound(fmt.Sprint("rl", i), "hi")); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	err := a.Send(context.Background(), outbound("rl2", "hi"))
	var ra *conversation.RetryAfterError
	if !errors.As(err, &ra) || conversation.ErrorCode(err) != conversation.Unavailable || ra.After <= 0 || ra.After > 10*time.Second {
		t.Fatalf("third Send in a burst of 2 = %v, want Unavailable with a wait of up to 10s", err)
	}
	// Another chat has its own bucket.
	other := outbound("rl3", "hi")
	other.ConversationKey, other.Recipient = "whatsapp:"+otherPN.User, otherPN.String()
	if err := a.Send(context.Background(), other); err != nil {
		t.Errorf("Send to another chat: %v", err)
	}
	clock.Advance(ra.After)
	if err := a.Send(context.Background(), outbound("rl2", "hi")); err != nil {
		t.Errorf("Send after the wait: %v", err)
	}
	if n := len(cli.sentMessages()); n != 4 {
		t.Errorf("sent %d messages, want 4", n)
	}
}

func TestDownloadAttachment(t *testing.T) {
	h := run(t, whatsapp.Config{MaxMediaBytes: 100}, newRecordingHandler(), true)
	doc := dm("D1", "")
	doc.Message = &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("a.pdf"),
		Mimetype: proto.String("application/pdf"), FileLength: proto.Uint64(20), DirectPath: proto.String("/v/doc")}}
	big := dm("D2", "")
	big.Message = &waE2E.Message{ImageMessage: &waE2E.ImageMessage{FileLength: proto.Uint64(1000), DirectPath: proto.String("/v/img")}}
	h.cli.emit(doc)
	h.cli.emit(big)
	m1, m2 := recorded(t, h), recorded(t, h)
	data, mt, err := h.a.DownloadAttachment(context.Background(), m1.Attachments[0].URL)
	if err != nil || string(data) != "file of /v/doc" || mt != "application/pdf" {
		t.Errorf("download = %q %q %v, want the document", data, mt, err)
	}
	tests := []struct {
		ref  string
		want conversation.Code
	}{
		{m2.Attachments[0].URL, conversation.Invalid},
		{"whatsapp-media:" + shopperPN.User + "/UNKNOWN", conversation.NotFound},
		{"https://evil.example/x", conversation.Invalid},
	}
	for _, tt := range tests {
		if _, _, err := h.a.DownloadAttachment(context.Background(), tt.ref); conversation.ErrorCode(err) != tt.want {
			t.Errorf("download %s = %v, want %s", tt.ref, err, tt.want)
		}
	}
}
