package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
)

func newClient(tb testing.TB, s *tgfake.Server, token string) *bot.Bot {
	tb.Helper()
	b, err := bot.New(token, bot.WithSkipGetMe(), bot.WithServerURL(s.URL()),
		bot.WithErrorsHandler(func(error) {}), bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}))
	if err != nil {
		tb.Fatalf("bot.New: %v", err)
	}
	return b
}

func start(tb testing.TB) *tgfake.Server {
	tb.Helper()
	s := tgfake.Start(tgfake.Config{})
	tb.Cleanup(s.Close)
	return s
}

func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

var (
	alice   = models.User{ID: 501, FirstName: "Alice", LanguageCode: "en"}
	private = models.Chat{ID: 501, Type: models.ChatTypePrivate, FirstName: "Alice"}
	forum   = models.Chat{ID: -1001, Type: models.ChatTypeSupergroup, Title: "Staff", IsForum: true}
)

func TestUnauthorizedToken(t *testing.T) {
	s := start(t)
	_, err := newClient(t, s, "999:wrong").GetMe(ctxT(t))
	if !errors.Is(err, bot.ErrorUnauthorized) {
		t.Fatalf("GetMe with a wrong token: err = %v, want bot.ErrorUnauthorized", err)
	}
	resp, err := http.Get(s.URL() + "/bot999:wrong/getMe")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 401 || body["ok"] != false || body["error_code"] != float64(401) || body["description"] != "Unauthorized" {
		t.Fatalf("got %d %v, want 401 {ok:false,error_code:401,description:Unauthorized}", resp.StatusCode, body)
	}
}

func TestGetMe(t *testing.T) {
	s := start(t)
	me, err := newClient(t, s, s.Token()).GetMe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != s.BotID() || !me.IsBot || me.Username != s.BotUsername() {
		t.Fatalf("getMe = %+v, want the bot %d @%s", me, s.BotID(), s.BotUsername())
	}
}

func TestSendMessageMultipartChecks(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "hi"})
	s.AddChat(forum)

	kb := map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "Yes", "callback_data": "ay"}}}}
	tests := []struct {
		name    string
		params  *bot.SendMessageParams
		wantErr string
	}{
		{"plain", &bot.SendMessageParams{ChatID: private.ID, Text: "hello"}, ""},
		{"html with keyboard", &bot.SendMessageParams{ChatID: private.ID, Text: "<b>1 &lt; 2</b>", ParseMode: models.ParseModeHTML, ReplyMarkup: kb}, ""},
		{"unknown chat", &bot.SendMessageParams{ChatID: 4242, Text: "x"}, "chat not found"},
		{"bad html", &bot.SendMessageParams{ChatID: private.ID, Text: "1 < 2", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"unknown tag", &bot.SendMessageParams{ChatID: private.ID, Text: "<script>x</script>", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"unclosed tag", &bot.SendMessageParams{ChatID: private.ID, Text: "<b>x", ParseMode: models.ParseModeHTML}, "can't parse entities"},
		{"too long", &bot.SendMessageParams{ChatID: private.ID, Text: strings.Repeat("x", 4097)}, "message is too long"},
		{"empty", &bot.SendMessageParams{ChatID: private.ID, Text: ""}, "message text is empty"},
		{"long callback data", &bot.SendMessageParams{ChatID: private.ID, Text: "x", ReplyMarkup: map[string]any{
			"inline_keyboard": [][]map[string]string{{{"text": "Y", "callback_data": strings.Repeat("d", 65)}}}}}, "BUTTON_DATA_INVALID"},
		{"button with two types", &bot.SendMessageParams{ChatID: private.ID, Text: "x", ReplyMarkup: models.InlineKeyboardMarkup{
			InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Y", CallbackData: "d"}}}}}, "exactly one"},
		{"missing topic", &bot.SendMessageParams{ChatID: forum.ID, MessageThreadID: 77, Text: "x"}, "message thread not found"},
		{"reply to unknown message", &bot.SendMessageParams{ChatID: private.ID, Text: "x", ReplyParameters: &models.ReplyParameters{MessageID: 999}}, "message to be replied not found"},
		{"reply allowed without message", &bot.SendMessageParams{ChatID: private.ID, Text: "x", ReplyParameters: &models.ReplyParameters{MessageID: 999, AllowSendingWithoutReply: true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.SendMessage(ctx, tt.params)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	sent := s.SentTo(private.ID)
	if len(sent) != 3 {
		t.Fatalf("recorded %d messages, want 3 (the valid ones)", len(sent))
	}
	if got := sent[1]; got.Plain != "1 < 2" || len(got.Keyboard) != 1 || got.Keyboard[0][0].CallbackData != "ay" {
		t.Errorf("html message recorded as %+v, want plain %q with one button", got, "1 < 2")
	}
}

func TestTopicsAndChatActions(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	s.AddChat(forum)
	topic, err := b.CreateForumTopic(ctx, &bot.CreateForumTopicParams{ChatID: forum.ID, Name: "T-1001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: forum.ID, MessageThreadID: topic.MessageThreadID, Text: "card"}); err != nil {
		t.Fatalf("send into the new topic: %v", err)
	}
	if _, err := b.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: forum.ID, MessageThreadID: topic.MessageThreadID, Action: models.ChatActionTyping}); err != nil {
		t.Fatal(err)
	}
	if got := s.Topics(); len(got) != 1 || got[0].Name != "T-1001" || got[0].ThreadID != topic.MessageThreadID {
		t.Errorf("topics = %+v, want T-1001 with thread %d", got, topic.MessageThreadID)
	}
	if got := s.ChatActions(); len(got) != 1 || got[0].Action != "typing" || got[0].ThreadID != topic.MessageThreadID {
		t.Errorf("chat actions = %+v, want one typing in the topic", got)
	}
	s.AddChat(models.Chat{ID: -5, Type: models.ChatTypeGroup})
	if _, err := b.CreateForumTopic(ctx, &bot.CreateForumTopicParams{ChatID: -5, Name: "x"}); err == nil || !strings.Contains(err.Error(), "not a forum") {
		t.Errorf("topic in a plain group: err = %v, want 'the chat is not a forum'", err)
	}
}

// getUpdates calls the method directly in the format the Bot API documents.
func getUpdates(tb testing.TB, ctx context.Context, s *tgfake.Server, form url.Values) (int, []json.RawMessage, map[string]any) {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+s.Token()+"/getUpdates", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Result     []json.RawMessage `json:"result"`
		Parameters map[string]any    `json:"parameters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body.Result, body.Parameters
}

func TestGetUpdatesOffsetsAndLongPoll(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	u1, _ := s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "one"})
	u2, _ := s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "two"})

	if code, got, _ := getUpdates(t, ctx, s, url.Values{}); code != 200 || len(got) != 2 {
		t.Fatalf("first poll: %d with %d updates, want 200 with 2", code, len(got))
	}
	// Without a higher offset nothing is confirmed: the same updates again.
	if _, got, _ := getUpdates(t, ctx, s, url.Values{}); len(got) != 2 {
		t.Fatalf("repeat poll: %d updates, want 2 (unconfirmed)", len(got))
	}
	if _, got, _ := getUpdates(t, ctx, s, url.Values{"offset": {itoa(u2)}}); len(got) != 1 {
		t.Fatalf("poll at offset %d: %d updates, want 1", u2, len(got))
	}
	if s.Deliveries(u1) != 2 || s.Deliveries(u2) != 3 {
		t.Errorf("deliveries = %d, %d; want 2, 3", s.Deliveries(u1), s.Deliveries(u2))
	}
	// A long poll with nothing pending blocks until an update arrives.
	done := make(chan []json.RawMessage, 1)
	go func() {
		_, got, _ := getUpdates(t, ctx, s, url.Values{"offset": {itoa(u2 + 1)}, "timeout": {"30"}})
		done <- got
	}()
	waitCalls(t, s, "getUpdates", 4)
	u3, _ := s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "three"})
	select {
	case got := <-done:
		var head struct {
			UpdateID int64 `json:"update_id"`
		}
		if len(got) != 1 || json.Unmarshal(got[0], &head) != nil || head.UpdateID != u3 {
			t.Fatalf("long poll returned %s, want update %d", got, u3)
		}
	case <-ctx.Done():
		t.Fatal("long poll did not return after an update was queued")
	}
	if s.Pending() != 1 {
		t.Errorf("pending = %d, want 1 (update %d not confirmed yet)", s.Pending(), u3)
	}
	if err := s.WaitConfirmed(ctx, u2); err != nil {
		t.Error(err)
	}
}

func waitCalls(tb testing.TB, s *tgfake.Server, method string, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Calls(method) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%s called %d times, want %d", method, s.Calls(method), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSecondPollerEndsTheFirstWith409(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	first := make(chan int, 1)
	go func() {
		code, _, _ := getUpdates(t, ctx, s, url.Values{"timeout": {"30"}})
		first <- code
	}()
	waitCalls(t, s, "getUpdates", 1)
	s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "x"})
	// The update may reach the first poller before the second one starts;
	// either way one answer must be 409 or the first must have the update.
	code2, got2, _ := getUpdates(t, ctx, s, url.Values{"timeout": {"1"}})
	code1 := <-first
	if code2 != 200 || len(got2) != 1 {
		t.Fatalf("second poller: %d with %d updates, want 200 with the unconfirmed update", code2, len(got2))
	}
	if code1 != 409 && code1 != 200 {
		t.Fatalf("first poller: %d, want 409 (terminated) or 200", code1)
	}
}

func TestInjectedErrors(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "hi"})

	s.InjectError("sendMessage", tgfake.TooManyRequests(3))
	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: private.ID, Text: "x"})
	var tmr *bot.TooManyRequestsError
	if !errors.As(err, &tmr) || tmr.RetryAfter != 3 {
		t.Fatalf("err = %v, want TooManyRequestsError with RetryAfter 3", err)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: private.ID, Text: "x"}); err != nil {
		t.Fatalf("second send: %v, want success (the fault is used once)", err)
	}
	s.InjectError("getUpdates", tgfake.Conflict())
	if code, _, _ := getUpdates(t, ctx, s, url.Values{}); code != 409 {
		t.Fatalf("getUpdates after injected conflict: %d, want 409", code)
	}
	s.InjectError("getUpdates", tgfake.TooManyRequests(5))
	if code, _, params := getUpdates(t, ctx, s, url.Values{}); code != 429 || params["retry_after"] != float64(5) {
		t.Fatalf("getUpdates after injected 429: %d %v, want 429 with retry_after 5", code, params)
	}
}

func TestWebhookBlocksPolling(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	if _, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: "https://bot.example/hook", SecretToken: "s3cret_token"}); err != nil {
		t.Fatal(err)
	}
	if u, sec := s.Webhook(); u != "https://bot.example/hook" || sec != "s3cret_token" {
		t.Fatalf("webhook = %q %q", u, sec)
	}
	if code, _, _ := getUpdates(t, ctx, s, url.Values{}); code != 409 {
		t.Fatalf("getUpdates with a webhook set: %d, want 409", code)
	}
	if _, err := b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := getUpdates(t, ctx, s, url.Values{}); code != 200 {
		t.Fatalf("getUpdates after deleteWebhook: %d, want 200", code)
	}
	if _, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: "https://bot.example/hook", SecretToken: "bad token!"}); err == nil {
		t.Error("setWebhook with an invalid secret token succeeded")
	}
}

func TestJSONRequestsAndCallbacks(t *testing.T) {
	s := start(t)
	ctx := ctxT(t)
	s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "hi"})
	body := `{"chat_id":501,"text":"pick","reply_markup":{"inline_keyboard":[[{"text":"A","callback_data":"x1"}]]}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+s.Token()+"/sendMessage", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("JSON sendMessage: %d", resp.StatusCode)
	}
	sent := s.SentTo(private.ID)
	if len(sent) != 1 || sent[0].Keyboard[0][0].CallbackData != "x1" {
		t.Fatalf("sent = %+v", sent)
	}
	id, err := s.Click(alice, sent[0], "A")
	if err != nil {
		t.Fatal(err)
	}
	_, ups, _ := getUpdates(t, ctx, s, url.Values{"offset": {itoa(id)}})
	var u models.Update
	if len(ups) != 1 || json.Unmarshal(ups[0], &u) != nil || u.CallbackQuery == nil || u.CallbackQuery.Data != "x1" {
		t.Fatalf("callback update = %s", ups)
	}
	b := newClient(t, s, s.Token())
	if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID}); err == nil {
		t.Error("answering a callback query twice succeeded, want 'query is too old'")
	}
	if got := s.CallbackAnswers(); len(got) != 1 || got[0].Text != "ok" {
		t.Errorf("answers = %+v", got)
	}
}

func TestFiles(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	s.AddFile("F1", "documents/file_1.pdf", []byte("%PDF"))
	f, err := b.GetFile(ctx, &bot.GetFileParams{FileID: "F1"})
	if err != nil || f.FilePath != "documents/file_1.pdf" || f.FileSize != 4 {
		t.Fatalf("getFile = %+v, %v", f, err)
	}
	resp, err := http.Get(b.FileDownloadLink(f))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("download: %d", resp.StatusCode)
	}
	if _, err := b.GetFile(ctx, &bot.GetFileParams{FileID: "nope"}); err == nil {
		t.Error("getFile of an unknown id succeeded")
	}
}

func TestWebhookRequest(t *testing.T) {
	var gotSecret, gotBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSecret = r.Header.Get(tgfake.SecretHeader)
		var u models.Update
		_ = json.NewDecoder(r.Body).Decode(&u)
		gotBody = u.Message.Text
	})
	r, err := tgfake.WebhookRequest("sec", models.Update{ID: 7, Message: &models.Message{ID: 1, Chat: private, From: &alice, Text: "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	h.ServeHTTP(nopWriter{}, r)
	if gotSecret != "sec" || gotBody != "hello" {
		t.Errorf("handler saw secret %q body %q", gotSecret, gotBody)
	}
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestEditMessageText(t *testing.T) {
	s := start(t)
	b := newClient(t, s, s.Token())
	ctx := ctxT(t)
	s.EnqueueMessage(models.Message{Chat: private, From: &alice, Text: "hi"})
	m, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: private.ID, Text: "draft"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: private.ID, MessageID: m.ID, Text: "<i>final</i>", ParseMode: models.ParseModeHTML}); err != nil {
		t.Fatal(err)
	}
	got := s.SentTo(private.ID)
	if len(got) != 1 || got[0].Plain != "final" || got[0].Edits != 1 {
		t.Fatalf("after edit: %+v, want one message reading final, edited once", got)
	}
	if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: private.ID, MessageID: 999, Text: "x"}); err == nil {
		t.Error("editing an unknown message succeeded")
	}
}
