package telegram_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

func outbound(id, key, text string) conversation.Outbound {
	return conversation.Outbound{ID: id, Channel: telegram.Channel, ConversationKey: key, Kind: conversation.KindAnswer, Text: text}
}

func senderSetup(tb testing.TB) (*tgfake.Server, *telegram.Adapter, *recorder) {
	tb.Helper()
	fake := startFake(tb)
	fake.AddChat(shopperChat)
	fake.AddChat(groupChat)
	rec := newRecorder()
	return fake, newAdapter(tb, baseConfig(fake), rec, openStore(tb, tb.TempDir())), rec
}

func TestSendRendersHTMLButtonsAndCitations(t *testing.T) {
	fake, a, _ := senderSetup(t)
	ctx := ctxT(t)
	text := `Use <b>Size "M"</b> & compare: 5 < 6 > 4`
	o := outbound("o1", "telegram:7001", text)
	o.Citations = []conversation.Citation{
		{Title: "Size guide", URL: "https://shop.example/sizes?a=1&b=2"},
		{Title: "Internal <notes>", URL: "javascript:alert(1)"},
	}
	o.Buttons = []conversation.Button{
		{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"},
		{Action: conversation.Action{ID: conversation.ActionNotHelpful}, Label: "Not helpful"},
		{Action: conversation.Action{ID: conversation.ActionHuman}, Label: "Talk to a person"},
	}
	if err := a.Sender().Send(ctx, o); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)
	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1", len(sent))
	}
	m := sent[0]
	wantPlain := text + "\n\nSources:\n1. Size guide\n2. Internal <notes>"
	if m.ParseMode != "HTML" || m.Plain != wantPlain {
		t.Errorf("shown text = %q (mode %s), want %q", m.Plain, m.ParseMode, wantPlain)
	}
	if len(m.Links) != 1 || m.Links[0] != "https://shop.example/sizes?a=1&b=2" {
		t.Errorf("links = %v, want only the safe citation link", m.Links)
	}
	if got := strings.Join(m.Labels(), "|"); got != "Helpful|Not helpful|Talk to a person" {
		t.Errorf("buttons = %q", got)
	}
	for _, row := range m.Keyboard {
		for _, b := range row {
			if len(b.CallbackData) > 64 || b.CallbackData == "" {
				t.Errorf("callback_data %q", b.CallbackData)
			}
		}
	}
	if m.ReplyTo != 0 || m.ThreadID != 0 {
		t.Errorf("private answer quoted %d in thread %d, want neither", m.ReplyTo, m.ThreadID)
	}
}

func TestSendButtonsRoundTrip(t *testing.T) {
	fake, a, rec := senderSetup(t)
	ctx := ctxT(t)
	long := "Which ski boots fit the Bergriegel Race 16 binding and are suitable for wide feet and beginners?"
	o := outbound("o2", "telegram:7001", "Which one do you mean?")
	o.Kind = conversation.KindConsulting
	o.Buttons = []conversation.Button{
		{Action: conversation.Action{ID: conversation.ActionConsult, Value: long}, Label: "Boots for wide feet"},
		{Action: conversation.Action{ID: "custom_action", Value: "v1"}, Label: "Custom"},
		{Action: conversation.Action{ID: conversation.ActionCSAT, Value: "5"}, Label: "5"},
	}
	if err := a.Sender().Send(ctx, o); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)[0]
	cancel, wait := poll(t, a)
	want := []conversation.Action{{ID: conversation.ActionConsult, Value: long}, {ID: "custom_action", Value: "v1"}, {ID: conversation.ActionCSAT, Value: "5"}}
	for i, label := range []string{"Boots for wide feet", "Custom", "5"} {
		if _, err := fake.Click(shopper, sent, label); err != nil {
			t.Fatal(err)
		}
		<-rec.calls
		got := rec.messages()[i].Action
		if got == nil || *got != want[i] {
			t.Errorf("click %q: action %+v, want %+v", label, got, want[i])
		}
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestSendQuotesAndThreadsInGroups(t *testing.T) {
	fake, a, _ := senderSetup(t)
	fake.EnqueueMessage(models.Message{ID: 77, Chat: forumChat, From: &shopper, MessageThreadID: 40, IsTopicMessage: true, Text: "hi"})
	o := outbound("o3", "telegram:-1004002:40", "Hello!")
	o.ReplyTo = "77"
	if err := a.Sender().Send(ctxT(t), o); err != nil {
		t.Fatal(err)
	}
	m := fake.SentTo(forumChat.ID)[0]
	if m.ThreadID != 40 || m.ReplyTo != 77 {
		t.Fatalf("sent into thread %d replying to %d, want thread 40 replying to 77", m.ThreadID, m.ReplyTo)
	}
}

func TestSendSplitsLongMessages(t *testing.T) {
	fake, a, _ := senderSetup(t)
	para := strings.Repeat("Wax the skis & check the edges < 1 mm. ", 60) // ~2400 characters
	text := strings.TrimSpace(strings.Repeat(para+"\n\n", 4))
	o := outbound("o4", "telegram:7001", text)
	o.Citations = []conversation.Citation{{Title: "Care guide", URL: "https://shop.example/care"}}
	o.Buttons = []conversation.Button{{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"}}
	if err := a.Sender().Send(ctxT(t), o); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)
	if len(sent) < 3 {
		t.Fatalf("sent %d parts, want at least 3", len(sent))
	}
	var shown []string
	for i, m := range sent {
		if n := len(utf16.Encode([]rune(m.Plain))); n > 4096 {
			t.Errorf("part %d is %d characters long", i, n)
		}
		if (len(m.Keyboard) > 0) != (i == len(sent)-1) {
			t.Errorf("part %d has %d button rows; only the last part carries buttons", i, len(m.Keyboard))
		}
		shown = append(shown, m.Plain)
	}
	all := strings.Join(shown, "\n\n")
	if strings.Join(strings.Fields(all), " ") != strings.Join(strings.Fields(text+"\n\nSources:\n1. Care guide"), " ") {
		t.Error("the parts do not add up to the text and its sources")
	}
	if last := sent[len(sent)-1]; len(last.Links) != 1 {
		t.Errorf("the sources link is missing from the last part: %v", last.Links)
	}
}

func TestSendIsIdempotent(t *testing.T) {
	fake, a, _ := senderSetup(t)
	ctx := ctxT(t)
	o := outbound("o5", "telegram:7001", "Once only")
	for range 3 {
		if err := a.Sender().Send(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.SentTo(shopperChat.ID)); n != 1 {
		t.Fatalf("sent %d times, want 1", n)
	}
	// A retry after a failed second part sends only what is missing.
	long := strings.Repeat("a", 4000) + "\n\n" + strings.Repeat("b", 4000)
	o2 := outbound("o6", "telegram:7001", long)
	fake.InjectError("sendMessage", tgfake.Fault{Code: 502, Description: "Bad Gateway", After: 1})
	if err := a.Sender().Send(ctx, o2); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("send with a 502 on part 2 = %v, want Unavailable", err)
	}
	if err := a.Sender().Send(ctx, o2); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)[1:]
	if len(sent) != 2 || !strings.HasPrefix(sent[0].Plain, "aaa") || !strings.HasPrefix(sent[1].Plain, "bbb") {
		t.Fatalf("sent %d parts, want a then b once each", len(sent))
	}
}

func TestSendErrors(t *testing.T) {
	fake, a, _ := senderSetup(t)
	ctx := ctxT(t)
	fake.InjectError("sendMessage", tgfake.TooManyRequests(7))
	err := a.Sender().Send(ctx, outbound("e1", "telegram:7001", "x"))
	var ra *conversation.RetryAfterError
	if !asRetryAfter(err, &ra) || ra.After != 7*time.Second || conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("429: %v, want a RetryAfterError of 7s with code Unavailable", err)
	}
	fake.Block(shopperChat.ID)
	err = a.Sender().Send(ctx, outbound("e2", "telegram:7001", "x"))
	if code := conversation.ErrorCode(err); code == conversation.Unavailable || code == "" {
		t.Fatalf("blocked chat: %v (code %s), want a permanent error", err, code)
	}
	if strings.Contains(err.Error(), fake.Token()) {
		t.Fatalf("error %q contains the bot token", err)
	}
	bad := []conversation.Outbound{
		{ID: "", Channel: telegram.Channel, ConversationKey: "telegram:1", Kind: conversation.KindAnswer, Text: "x"},
		{ID: "b1", Channel: conversation.ChannelSlack, ConversationKey: "telegram:1", Kind: conversation.KindAnswer, Text: "x"},
		{ID: "b2", Channel: telegram.Channel, ConversationKey: "webchat:abc", Kind: conversation.KindAnswer, Text: "x"},
		{ID: "b3", Channel: telegram.Channel, ConversationKey: "telegram:7001", Kind: conversation.KindStaff, Text: "internal"},
		{ID: "b4", Channel: telegram.Channel, ConversationKey: "telegram:7001", Kind: conversation.KindNote, Text: "internal"},
		{ID: "b5", Channel: telegram.Channel, ConversationKey: "telegram:7001", Kind: conversation.KindAnswer, Text: " "},
	}
	for _, o := range bad {
		if err := a.Sender().Send(ctx, o); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("Send(%+v) = %v, want Invalid", o, err)
		}
	}
}

func asRetryAfter(err error, target **conversation.RetryAfterError) bool {
	for err != nil {
		if ra, ok := err.(*conversation.RetryAfterError); ok {
			*target = ra
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestSendPacesAChat(t *testing.T) {
	fake := startFake(t)
	fake.AddChat(shopperChat)
	cfg := baseConfig(fake)
	cfg.ChatInterval = time.Hour // one message per hour after the burst
	cfg.ChatBurst = 2
	cfg.MaxPaceWait = time.Second
	a := newAdapter(t, cfg, newRecorder(), openStore(t, t.TempDir()))
	ctx := ctxT(t)
	for i := range 2 {
		if err := a.Sender().Send(ctx, outbound("p"+itoaT(int64(i)), "telegram:7001", "x")); err != nil {
			t.Fatalf("message %d within the burst: %v", i, err)
		}
	}
	err := a.Sender().Send(ctx, outbound("p2", "telegram:7001", "x"))
	if ra := conversation.RetryAfter(err); ra < 30*time.Minute {
		t.Fatalf("third message: %v, want a RetryAfterError of about an hour", err)
	}
	if n := len(fake.SentTo(shopperChat.ID)); n != 2 {
		t.Fatalf("sent %d, want 2", n)
	}
}

func TestTypingWhileATurnIsSlow(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.TypingDelay = time.Millisecond
	rec := newRecorder()
	// A slow turn: the engine finishes only once the chat shows "typing…"
	// (and fails the test by timing out if it never does).
	rec.hook = func(ctx context.Context, m conversation.Message) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := fake.WaitChatAction(wctx, shopperChat.ID); err != nil {
			t.Errorf("no typing indicator during a slow turn: %v", err)
		}
	}
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	u := models.Update{ID: 3, Message: &models.Message{ID: 9, Date: 1, Chat: shopperChat, From: &shopper, Text: "slow question"}}
	fake.AddChat(shopperChat)
	if w := post(t, a, secret, u); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	acts := fake.ChatActions()
	if len(acts) == 0 || acts[0].Action != "typing" || acts[0].ChatID != shopperChat.ID {
		t.Fatalf("chat actions = %+v, want typing in the shopper's chat", acts)
	}
}
