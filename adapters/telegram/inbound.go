package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/tier0/tier0/conversation"
)

// process handles one update from polling or the webhook. It returns nil
// when the update is done with — accepted by the engine (a duplicate
// included), ignored, or permanently unusable — so it may be confirmed to
// Telegram, and an error when it must be delivered again (the store or
// the engine is unavailable, a lease is held elsewhere, ctx ended).
func (a *Adapter) process(ctx context.Context, raw json.RawMessage) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// A bug must not turn one odd update into a crash loop.
			a.log.Error("telegram update handler panicked; update dropped", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = nil
		}
	}()
	var u models.Update
	if err := json.Unmarshal(raw, &u); err != nil {
		a.log.Warn("telegram update of an unexpected shape ignored", "err", err)
		return nil
	}
	switch {
	case u.Message != nil:
		return a.onMessage(ctx, u.ID, u.Message)
	case u.CallbackQuery != nil:
		return a.onCallback(ctx, u.ID, u.CallbackQuery)
	}
	a.log.Debug("telegram update ignored", "update_id", u.ID, "reason", "not a message or callback query")
	return nil
}

// handled classifies an engine error: nil when the update is done with
// (logging permanent failures), the error when it must be retried.
func (a *Adapter) handled(err error, what string, args ...any) error {
	switch {
	case err == nil, errors.Is(err, conversation.ErrDuplicate):
		return nil
	case retryable(err):
		return err
	}
	a.log.Warn("telegram "+what+" rejected", append(args, "code", conversation.ErrorCode(err), "err", err)...)
	return nil
}

func (a *Adapter) ignore(updateID int64, reason string) error {
	a.log.Debug("telegram update ignored", "update_id", updateID, "reason", reason)
	return nil
}

func (a *Adapter) onMessage(ctx context.Context, updateID int64, m *models.Message) error {
	switch {
	case m.Chat.ID == 0 || m.Chat.Type == models.ChatTypeChannel:
		return a.ignore(updateID, "channel or unknown chat")
	case m.From == nil || m.From.IsBot || m.SenderChat != nil:
		return a.ignore(updateID, "not from a person")
	case a.cfg.StaffChatID != 0 && m.Chat.ID == a.cfg.StaffChatID:
		return a.onStaffMessage(ctx, updateID, m)
	case m.Chat.Type != models.ChatTypePrivate && !isGroup(m.Chat):
		return a.ignore(updateID, "unsupported chat type")
	}
	text, ents := textOf(m)
	files := attachments(m)
	if strings.TrimSpace(text) == "" && len(files) == 0 {
		return a.ignore(updateID, "no text or file (service message, sticker, …)")
	}
	private := m.Chat.Type == models.ChatTypePrivate
	addressed := private
	if cmd, ok := parseCommand(text, ents); ok {
		if a.forOtherBot(cmd) {
			return a.ignore(updateID, "command for another bot")
		}
		addressed = true
		if cmd.name == "start" {
			if private {
				a.welcome(ctx, updateID, m.Chat.ID, m.From.LanguageCode)
			}
			return nil
		}
		text = cmd.args
		if text == "" {
			text = strings.ReplaceAll(cmd.name, "_", " ")
		}
		ents = nil
	}
	if mentioned, rest := a.mentionsBot(text, ents); mentioned {
		addressed, text = true, rest
	}
	if !addressed && !a.repliesToBot(m) {
		return a.ignore(updateID, "group message not addressed to the bot")
	}
	text = clip(strings.TrimSpace(text), conversation.MaxTextLen)
	if text == "" && len(files) == 0 {
		return a.ignore(updateID, "nothing left after the mention")
	}
	thread := topicOf(m)
	msg := conversation.Message{
		Channel:         Channel,
		ConversationKey: ConversationKey(m.Chat.ID, thread),
		DedupeKey:       a.dedupeKey(updateID),
		User:            customerIdentity(m.From),
		Text:            text,
		Attachments:     files,
		SentAt:          sentAt(m.Date),
		ReceivedAt:      time.Now().UTC(),
	}
	if thread != 0 {
		msg.ThreadKey = strconv.Itoa(thread)
	}
	if m.ID > 0 {
		msg.PlatformMsgID = strconv.Itoa(m.ID)
	}
	stop := a.typing(m.Chat.ID, thread)
	_, err := a.eng.Handle(ctx, msg)
	stop()
	return a.handled(err, "message", "conversation", msg.ConversationKey, "update_id", updateID)
}

// welcome answers /start in a private chat with Config.Welcome (or its
// Welcomes entry for the user's language), once per update (best effort:
// it is a greeting, not part of a conversation).
func (a *Adapter) welcome(ctx context.Context, updateID int64, chatID int64, lang string) {
	id := "start:" + itoa(updateID)
	text := a.cfg.Welcome
	if w := a.cfg.Welcomes[conversation.BaseLanguage(lang)]; w != "" {
		text = w
	}
	if text == "" || a.sent.Remembered(id) {
		return
	}
	if err := a.pace.wait(ctx, chatID); err != nil {
		return
	}
	_, err := a.api.SendMessage(ctx, &bot.SendMessageParams{ChatID: chatID, Text: escapeHTML(text), ParseMode: models.ParseModeHTML})
	if err != nil {
		a.log.Warn("telegram welcome not sent", "err", classify(err))
		return
	}
	a.sent.Remember(id)
}

// callbackChat returns the chat and topic of the message a button was on.
func callbackChat(q *models.CallbackQuery) (chatID int64, thread int, ok bool) {
	switch {
	case q.Message.Message != nil:
		return q.Message.Message.Chat.ID, topicOf(q.Message.Message), q.Message.Message.Chat.ID != 0
	case q.Message.InaccessibleMessage != nil:
		return q.Message.InaccessibleMessage.Chat.ID, 0, q.Message.InaccessibleMessage.Chat.ID != 0
	}
	return 0, 0, false
}

// answer answers a callback query (best effort: the query expires after
// a while, and a repeated update finds it answered already).
func (a *Adapter) answer(ctx context.Context, queryID, text string) {
	if queryID == "" {
		return
	}
	if err := a.api.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: clip(text, 200)}); err != nil {
		a.log.Debug("telegram callback query not answered", "err", classify(err))
	}
}

// Sentences shown on buttons that do nothing.
const (
	msgButtonGone    = "This button is no longer available."
	msgNotTicket     = "This topic is not linked to an open ticket."
	msgOtherTicket   = "This button belongs to another ticket."
	msgOldStaffCard  = "This card is too old for buttons; use the commands in its topic."
	agentCommandHelp = "Commands in a ticket topic: /reply <text> (or \"reply: <text>\") answers the customer; /claim, /resolve, /handback, /escalate, /priority P1..P4, /note <text>. Anything else is an internal note."
)

func (a *Adapter) onCallback(ctx context.Context, updateID int64, q *models.CallbackQuery) error {
	chatID, thread, ok := callbackChat(q)
	if !ok || q.From.ID == 0 || q.From.IsBot {
		a.answer(ctx, q.ID, "")
		return a.ignore(updateID, "callback without a chat message")
	}
	if a.cfg.StaffChatID != 0 && chatID == a.cfg.StaffChatID {
		return a.onStaffCallback(ctx, updateID, q, thread)
	}
	// The customer's own sentences follow their Telegram language.
	say, _ := conversation.ChannelTextsIn(q.From.LanguageCode)
	act, ok, err := a.decodeAction(ctx, q.Data)
	switch {
	case errors.Is(err, errExpiredButton), err == nil && !ok:
		a.answer(ctx, q.ID, say.ButtonGone)
		return a.ignore(updateID, "unknown or expired button")
	case err != nil:
		return err // refs unavailable: try again
	}
	msg := conversation.Message{
		Channel:         Channel,
		ConversationKey: ConversationKey(chatID, thread),
		DedupeKey:       a.dedupeKey(updateID),
		User:            customerIdentity(&q.From),
		Action:          &act,
		ReceivedAt:      time.Now().UTC(),
	}
	if thread != 0 {
		msg.ThreadKey = strconv.Itoa(thread)
	}
	stop := a.typing(chatID, thread)
	_, err = a.eng.Handle(ctx, msg)
	stop()
	if err := a.handled(err, "button", "conversation", msg.ConversationKey, "update_id", updateID); err != nil {
		return err
	}
	if err != nil && !errors.Is(err, conversation.ErrDuplicate) {
		a.answer(ctx, q.ID, say.TryAgain)
		return nil
	}
	a.answer(ctx, q.ID, "")
	return nil
}

// typing shows "typing…" in the chat while a turn takes longer than
// Config.TypingDelay, refreshed every 4 seconds until stop is called.
func (a *Adapter) typing(chatID int64, thread int) (stop func()) {
	if a.cfg.TypingDelay < 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTimer(a.cfg.TypingDelay)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.RequestTimeout)
			err := a.api.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: chatID, MessageThreadID: thread, Action: models.ChatActionTyping})
			cancel()
			if err != nil {
				a.log.Debug("telegram typing indicator failed", "err", classify(err))
			}
			t.Reset(4 * time.Second)
		}
	}()
	// stop does not wait for a chat action in flight: the turn is done.
	return func() { close(done) }
}
