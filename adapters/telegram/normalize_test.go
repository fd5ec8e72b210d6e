package telegram_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

func TestNormalize(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	a := newAdapter(t, baseConfig(fake), rec, openStore(t, t.TempDir()))
	bot := fake.Bot()
	other := models.User{ID: 9, FirstName: "Other"}
	mention := func(chat models.Chat, text string, n int) models.Message {
		return models.Message{Chat: chat, From: &shopper, Text: text,
			Entities: []models.MessageEntity{{Type: models.MessageEntityTypeMention, Offset: 0, Length: n}}}
	}
	sam := conversation.Identity{ID: "7001", DisplayName: "Sam Shopper", Locale: "de"}

	type want struct {
		key, thread, msgID, text string
		files                    []conversation.Attachment
		action                   *conversation.Action
		noLocale                 bool // the update's language_code is dropped
	}
	tests := []struct {
		name   string
		update models.Update // ID and message dates are filled in
		raw    string        // instead of update, when set
		want   *want         // nil: ignored
	}{
		{name: "private text",
			update: models.Update{Message: &models.Message{ID: 11, Chat: shopperChat, From: &shopper, Text: "Where is my order?"}},
			want:   &want{key: "telegram:7001", msgID: "11", text: "Where is my order?"}},
		{name: "private command is its argument",
			update: models.Update{Message: ptr(command(shopperChat, &shopper, "/human"))},
			want:   &want{key: "telegram:7001", text: "human"}},
		{name: "group message not addressed to the bot",
			update: models.Update{Message: ptr(textMessage(groupChat, "anyone going skiing?"))}},
		{name: "group mention",
			update: models.Update{Message: ptr(mention(groupChat, "@tier0_test_bot do you ship to Austria?", 15))},
			want:   &want{key: "telegram:-4001", text: "do you ship to Austria?"}},
		{name: "group command for this bot",
			update: models.Update{Message: ptr(command(groupChat, &shopper, "/ask@tier0_test_bot Is the shop open on Sunday?"))},
			want:   &want{key: "telegram:-4001", text: "Is the shop open on Sunday?"}},
		{name: "group command for another bot",
			update: models.Update{Message: ptr(command(groupChat, &shopper, "/ask@other_bot hello"))}},
		{name: "group reply to the bot",
			update: models.Update{Message: &models.Message{ID: 31, Chat: groupChat, From: &shopper, Text: "and in blue?",
				ReplyToMessage: &models.Message{ID: 30, Chat: groupChat, From: &bot, Text: "The jacket comes in red."}}},
			want: &want{key: "telegram:-4001", msgID: "31", text: "and in blue?"}},
		{name: "group reply to someone else",
			update: models.Update{Message: &models.Message{ID: 32, Chat: groupChat, From: &shopper, Text: "me too",
				ReplyToMessage: &models.Message{ID: 29, Chat: groupChat, From: &other, Text: "nice"}}}},
		{name: "forum topic",
			update: models.Update{Message: &models.Message{ID: 41, Chat: forumChat, From: &shopper, MessageThreadID: 40, IsTopicMessage: true,
				Text: "@tier0_test_bot which wax for -10°C?", Entities: []models.MessageEntity{{Type: models.MessageEntityTypeMention, Offset: 0, Length: 15}},
				ReplyToMessage: &models.Message{ID: 40, Chat: forumChat, From: &other, ForumTopicCreated: &models.ForumTopicCreated{Name: "Waxing"}}}},
			want: &want{key: "telegram:-1004002:40", thread: "40", msgID: "41", text: "which wax for -10°C?"}},
		{name: "forum topic created by the bot is not a reply to it",
			update: models.Update{Message: &models.Message{ID: 43, Chat: forumChat, From: &shopper, MessageThreadID: 42, IsTopicMessage: true, Text: "hello all",
				ReplyToMessage: &models.Message{ID: 42, Chat: forumChat, From: &bot, ForumTopicCreated: &models.ForumTopicCreated{Name: "News"}}}}},
		{name: "photo: the largest size, caption as text",
			update: models.Update{Message: &models.Message{ID: 12, Chat: shopperChat, From: &shopper, Caption: "the zipper broke",
				Photo: []models.PhotoSize{{FileID: "P-small", Width: 90, Height: 67, FileSize: 1200}, {FileID: "P-large", Width: 1280, Height: 960, FileSize: 98000}, {FileID: "P-mid", Width: 320, Height: 240, FileSize: 9000}}}},
			want: &want{key: "telegram:7001", msgID: "12", text: "the zipper broke",
				files: []conversation.Attachment{{Name: "photo.jpg", MIMEType: "image/jpeg", URL: "tg-file:P-large", Size: 98000}}}},
		{name: "document",
			update: models.Update{Message: &models.Message{ID: 13, Chat: shopperChat, From: &shopper,
				Document: &models.Document{FileID: "D-1", FileName: "invoice.pdf", MimeType: "application/pdf", FileSize: 2048}}},
			want: &want{key: "telegram:7001", msgID: "13",
				files: []conversation.Attachment{{Name: "invoice.pdf", MIMEType: "application/pdf", URL: "tg-file:D-1", Size: 2048}}}},
		{name: "callback query",
			update: models.Update{CallbackQuery: &models.CallbackQuery{ID: "q1", From: shopper, Data: "ah",
				Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: 50, Date: 1, Chat: shopperChat, From: &bot, Text: "answer"}}}},
			want: &want{key: "telegram:7001", action: &conversation.Action{ID: conversation.ActionHelpful}}},
		{name: "callback query in a forum topic",
			update: models.Update{CallbackQuery: &models.CallbackQuery{ID: "q2", From: shopper, Data: "ac4",
				Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: 51, Date: 1, Chat: forumChat, From: &bot, MessageThreadID: 40, IsTopicMessage: true, Text: "rate us"}}}},
			want: &want{key: "telegram:-1004002:40", thread: "40", action: &conversation.Action{ID: conversation.ActionCSAT, Value: "4"}}},
		{name: "callback query with unknown data",
			update: models.Update{CallbackQuery: &models.CallbackQuery{ID: "q3", From: shopper, Data: "zzz",
				Message: models.MaybeInaccessibleMessage{Message: &models.Message{ID: 52, Date: 1, Chat: shopperChat, From: &bot, Text: "x"}}}}},
		{name: "edited message",
			update: models.Update{EditedMessage: &models.Message{ID: 11, Chat: shopperChat, From: &shopper, Text: "Where is my order??", EditDate: 2}}},
		{name: "channel post",
			update: models.Update{ChannelPost: &models.Message{ID: 1, Chat: models.Chat{ID: -100555, Type: models.ChatTypeChannel}, Text: "Sale!"}}},
		{name: "service message",
			update: models.Update{Message: &models.Message{ID: 14, Chat: groupChat, From: &shopper, NewChatMembers: []models.User{other}}}},
		{name: "sticker only",
			update: models.Update{Message: &models.Message{ID: 15, Chat: shopperChat, From: &shopper, Sticker: &models.Sticker{FileID: "S"}}}},
		{name: "message from a bot",
			update: models.Update{Message: &models.Message{ID: 16, Chat: shopperChat, From: &other, Text: "hi", SenderChat: &groupChat}}},
		{name: "/start is not a question",
			update: models.Update{Message: ptr(command(shopperChat, &shopper, "/start"))}},
		{name: "wrong field type", raw: `{"update_id":1,"message":{"message_id":"eleven","chat":{"id":7001,"type":"private"}}}`},
		{name: "message without sender", raw: `{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":7001,"type":"private"},"text":"hi"}}`},
		{name: "callback without message", raw: `{"update_id":1,"callback_query":{"id":"q","from":{"id":7001,"is_bot":false,"first_name":"S"},"data":"ah"}}`},
		{name: "unknown update type", raw: `{"update_id":1,"poll_answer":{"poll_id":"p","option_ids":[1]}}`},
		{name: "entity out of range",
			raw:  `{"update_id":1,"message":{"message_id":17,"date":1,"chat":{"id":7001,"type":"private"},"from":{"id":7001,"is_bot":false,"first_name":"Sam","last_name":"Shopper","language_code":"de"},"text":"@x hi","entities":[{"type":"mention","offset":50,"length":9}]}}`,
			want: &want{key: "telegram:7001", msgID: "17", text: "@x hi"}},
		{name: "language_code that is no language tag is dropped",
			raw:  `{"update_id":1,"message":{"message_id":18,"date":1,"chat":{"id":7001,"type":"private"},"from":{"id":7001,"is_bot":false,"first_name":"Sam","last_name":"Shopper","language_code":"de\"><script>"},"text":"hallo"}}`,
			want: &want{key: "telegram:7001", msgID: "18", text: "hallo", noLocale: true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.messages())
			id := int64(1000 + i)
			var body any = tt.raw
			if tt.raw == "" {
				u := tt.update
				u.ID = id
				if u.Message != nil && u.Message.Date == 0 {
					u.Message.Date = 1700000000
				}
				if u.Message != nil && u.Message.ID == 0 {
					u.Message.ID = 100 + i
					if tt.want != nil {
						tt.want.msgID = itoaT(int64(100 + i))
					}
				}
				body = u
			} else {
				body = []byte(tt.raw)
				id = 1
			}
			if w := post(t, a, secret, body); w.Code != http.StatusOK {
				t.Fatalf("webhook status %d (%s), want 200", w.Code, w.Body)
			}
			msgs := rec.messages()
			if tt.want == nil {
				if len(msgs) != before {
					t.Fatalf("engine got %+v, want the update ignored", msgs[before:])
				}
				return
			}
			if len(msgs) != before+1 {
				t.Fatalf("engine got %d messages, want 1", len(msgs)-before)
			}
			m := msgs[before]
			wantMsg := conversation.Message{
				Channel: telegram.Channel, ConversationKey: tt.want.key, ThreadKey: tt.want.thread, PlatformMsgID: tt.want.msgID,
				DedupeKey: "tg:" + itoaT(fake.BotID()) + ":" + itoaT(id), User: sam, Text: tt.want.text,
				Attachments: tt.want.files, Action: tt.want.action, SentAt: m.SentAt, ReceivedAt: m.ReceivedAt,
			}
			if tt.want.action != nil {
				wantMsg.User = conversation.Identity{ID: "7001", DisplayName: "Sam Shopper", Locale: "de"}
			}
			if tt.want.noLocale {
				wantMsg.User.Locale = ""
			}
			if !reflect.DeepEqual(m, wantMsg) {
				t.Fatalf("message =\n%+v\nwant\n%+v", m, wantMsg)
			}
			if m.ReceivedAt.IsZero() {
				t.Error("ReceivedAt not set")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestStartAnswersWithTheWelcome(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.Welcome = "Hi! Ask me about orders & returns."
	rec := newRecorder()
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	fake.AddChat(shopperChat)
	u := models.Update{ID: 5, Message: ptr(command(shopperChat, &shopper, "/start"))}
	u.Message.ID, u.Message.Date = 1, 1
	for range 2 { // a repeated delivery greets once
		if w := post(t, a, secret, u); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	sent := fake.SentTo(shopperChat.ID)
	if len(sent) != 1 || sent[0].Plain != cfg.Welcome {
		t.Fatalf("sent %+v, want the welcome once", sent)
	}
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("engine got %d messages for /start, want 0", n)
	}
}

// The shopper's Telegram language is German: the German welcome.
func TestStartWelcomesInTheUsersLanguage(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.Welcome = "Hi! Ask me about orders & returns."
	cfg.Welcomes = map[string]string{"de": "Hallo! Fragen Sie mich zu Bestellungen & Rücksendungen.", "fr": "Bonjour !"}
	a := newAdapter(t, cfg, newRecorder(), openStore(t, t.TempDir()))
	fake.AddChat(shopperChat)
	u := models.Update{ID: 6, Message: ptr(command(shopperChat, &shopper, "/start"))}
	u.Message.ID, u.Message.Date = 1, 1
	if w := post(t, a, secret, u); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if sent := fake.SentTo(shopperChat.ID); len(sent) != 1 || sent[0].Plain != cfg.Welcomes["de"] {
		t.Fatalf("sent %+v, want the German welcome (language_code %q)", sent, shopper.LanguageCode)
	}
}

func TestCallbackQueriesAreAnswered(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	a := newAdapter(t, baseConfig(fake), rec, openStore(t, t.TempDir()))
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- a.RunPolling(ctx) }()
	defer func() { cancel(); <-done }()

	fake.EnqueueMessage(textMessage(shopperChat, "hi"))
	<-rec.calls
	if err := a.Sender().Send(ctx, conversation.Outbound{ID: "o1", Channel: telegram.Channel, ConversationKey: "telegram:7001",
		Kind: conversation.KindAnswer, Text: "Returns are free.", Buttons: []conversation.Button{{Action: conversation.Action{ID: conversation.ActionHelpful}, Label: "Helpful"}}}); err != nil {
		t.Fatal(err)
	}
	sent := fake.SentTo(shopperChat.ID)[0]
	if _, err := fake.Click(shopper, sent, "Helpful"); err != nil {
		t.Fatal(err)
	}
	<-rec.calls
	fake.EnqueueCallback(shopper, sent, "nonsense")
	answers := waitAnswers(t, fake, 2)
	if answers[0].Text != "" {
		t.Errorf("answer to a handled click = %q, want silent", answers[0].Text)
	}
	if answers[1].Text == "" {
		t.Errorf("answer to an unknown button is empty, want an explanation")
	}
	msgs := rec.messages()
	if len(msgs) != 2 || msgs[1].Action == nil || msgs[1].Action.ID != conversation.ActionHelpful {
		t.Fatalf("engine got %+v, want the text then the helpful click", msgs)
	}
}
