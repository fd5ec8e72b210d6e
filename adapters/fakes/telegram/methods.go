package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
)

// SentMessage is a message the bot sent (sendMessage), as the fake
// understood it.
type SentMessage struct {
	MessageID int
	ChatID    int64
	ThreadID  int    // message_thread_id (forum topic), 0 for none
	Text      string // the text parameter as sent
	ParseMode string
	// Plain is what the user sees: Text with HTML tags removed and
	// entities resolved (Text itself for other parse modes).
	Plain string
	// Links are the href values of <a> tags, in order.
	Links []string
	// ReplyTo is reply_parameters.message_id (or the older
	// reply_to_message_id), 0 for none.
	ReplyTo int
	// ReplyMarkup is the reply_markup JSON as sent; Keyboard its inline
	// keyboard.
	ReplyMarkup string
	Keyboard    [][]Button
	// Edits counts editMessageText calls on this message.
	Edits int
	At    time.Time
}

// Button is one inline keyboard button.
type Button struct {
	Text         string
	CallbackData string
	URL          string
}

// Labels returns the keyboard's button texts, row by row.
func (m SentMessage) Labels() []string {
	var out []string
	for _, row := range m.Keyboard {
		for _, b := range row {
			out = append(out, b.Text)
		}
	}
	return out
}

// ChatAction is a sendChatAction call.
type ChatAction struct {
	ChatID   int64
	ThreadID int
	Action   string
}

// CallbackAnswer is an answerCallbackQuery call.
type CallbackAnswer struct {
	QueryID   string
	Text      string
	ShowAlert bool
}

// Topic is a forum topic created with createForumTopic.
type Topic struct {
	ChatID   int64
	ThreadID int
	Name     string
}

// Sent returns the messages the bot sent so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// SentTo returns the messages sent to one chat, oldest first.
func (s *Server) SentTo(chatID int64) []SentMessage {
	var out []SentMessage
	for _, m := range s.Sent() {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// WaitSent waits for a sent message matching match (checking those sent
// already first) and returns the first one, or ctx's error.
func (s *Server) WaitSent(ctx context.Context, match func(SentMessage) bool) (SentMessage, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		for _, m := range s.sent {
			if match(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		n := len(s.sent)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return SentMessage{}, fmt.Errorf("fake telegram: no matching message among %d sent: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// ChatActions returns the sendChatAction calls so far.
func (s *Server) ChatActions() []ChatAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.actions)
}

// WaitChatAction waits for a sendChatAction call into chatID.
func (s *Server) WaitChatAction(ctx context.Context, chatID int64) (ChatAction, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		for _, a := range s.actions {
			if a.ChatID == chatID {
				s.mu.Unlock()
				return a, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ChatAction{}, fmt.Errorf("fake telegram: no chat action in %d: %w", chatID, ctx.Err())
		case <-ch:
		}
	}
}

// CallbackAnswers returns the answerCallbackQuery calls so far.
func (s *Server) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// WaitCallbackAnswer waits until the callback query id was answered.
func (s *Server) WaitCallbackAnswer(ctx context.Context, queryID string) (CallbackAnswer, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		for _, a := range s.answers {
			if a.QueryID == queryID {
				s.mu.Unlock()
				return a, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return CallbackAnswer{}, fmt.Errorf("fake telegram: callback query %s not answered: %w", queryID, ctx.Err())
		case <-ch:
		}
	}
}

// Topics returns the forum topics created so far.
func (s *Server) Topics() []Topic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.topics)
}

// AddFile makes a file available to getFile and for download under
// /file/bot<token>/<path>.
func (s *Server) AddFile(fileID, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[fileID] = file{path: path, content: slices.Clone(content)}
}

// chatFor resolves the chat_id parameter to a known chat. Errors: 400
// chat not found, 403 when the chat blocked the bot. Callers hold s.mu.
func (s *Server) chatFor(p params) (*chat, *apiError) {
	raw, err := p.required("chat_id")
	if err != nil {
		return nil, err
	}
	id, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil {
		return nil, badRequest("chat not found")
	}
	c := s.chats[id]
	if c == nil {
		return nil, badRequest("chat not found")
	}
	if s.blocked[id] {
		return nil, &apiError{code: http.StatusForbidden, desc: "Forbidden: bot was blocked by the user"}
	}
	return c, nil
}

// checkThread rejects a message_thread_id the chat does not have.
func checkThread(c *chat, thread int) *apiError {
	if thread != 0 && !c.threads[thread] {
		return badRequest("message thread not found")
	}
	return nil
}

// text checks a message text in its parse mode and returns what the user
// sees and its links.
func checkText(text, mode string) (string, []string, *apiError) {
	if !utf8.ValidString(text) {
		return "", nil, badRequest("text must be encoded in UTF-8")
	}
	plain, links := text, []string(nil)
	switch strings.ToLower(mode) {
	case "":
	case "html":
		var err *apiError
		if plain, links, err = parseHTML(text); err != nil {
			return "", nil, err
		}
	case "markdown", "markdownv2":
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	if strings.TrimSpace(plain) == "" {
		return "", nil, badRequest("message text is empty")
	}
	if utf16Len(plain) > maxTextLen {
		return "", nil, badRequest("message is too long")
	}
	return plain, links, nil
}

// buttonTypes are the fields of which an inline button must have exactly one.
var buttonTypes = []string{"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}

// checkMarkup checks reply_markup and returns its inline keyboard.
func checkMarkup(raw string) ([][]Button, *apiError) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var markup struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &markup); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	var out [][]Button
	for _, row := range markup.InlineKeyboard {
		var r []Button
		for _, b := range row {
			var btn Button
			if err := json.Unmarshal(b["text"], &btn.Text); err != nil || strings.TrimSpace(btn.Text) == "" {
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			n := 0
			for _, t := range buttonTypes {
				if _, ok := b[t]; ok {
					n++
				}
			}
			if n != 1 {
				return nil, badRequest("can't parse inline keyboard button: exactly one of the optional fields must be used (found %d)", n)
			}
			if cd, ok := b["callback_data"]; ok {
				if err := json.Unmarshal(cd, &btn.CallbackData); err != nil || btn.CallbackData == "" || len(btn.CallbackData) > maxCallbackData {
					return nil, badRequest("BUTTON_DATA_INVALID")
				}
			}
			if u, ok := b["url"]; ok {
				if err := json.Unmarshal(u, &btn.URL); err != nil || btn.URL == "" {
					return nil, badRequest("BUTTON_URL_INVALID")
				}
			}
			r = append(r, btn)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Server) sendMessage(_ context.Context, p params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatFor(p)
	if err != nil {
		return nil, err
	}
	thread, err := p.int("message_thread_id")
	if err != nil {
		return nil, err
	}
	if err := checkThread(c, thread); err != nil {
		return nil, err
	}
	text, err := p.required("text")
	if err != nil {
		return nil, badRequest("message text is empty")
	}
	plain, links, err := checkText(text, p.str("parse_mode"))
	if err != nil {
		return nil, err
	}
	var reply struct {
		MessageID                int  `json:"message_id"`
		AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
	}
	if err := p.json("reply_parameters", &reply); err != nil {
		return nil, err
	}
	if reply.MessageID == 0 {
		if reply.MessageID, err = p.int("reply_to_message_id"); err != nil {
			return nil, err
		}
		reply.AllowSendingWithoutReply = reply.AllowSendingWithoutReply || p.bool("allow_sending_without_reply")
	}
	if reply.MessageID != 0 && !c.messages[reply.MessageID] && !reply.AllowSendingWithoutReply {
		return nil, badRequest("message to be replied not found")
	}
	kb, err := checkMarkup(p.str("reply_markup"))
	if err != nil {
		return nil, err
	}
	c.nextMsg++
	m := SentMessage{
		MessageID: c.nextMsg, ChatID: c.info.ID, ThreadID: thread, Text: text, ParseMode: p.str("parse_mode"),
		Plain: plain, Links: links, ReplyTo: reply.MessageID, ReplyMarkup: p.str("reply_markup"), Keyboard: kb, At: time.Now(),
	}
	c.messages[m.MessageID] = true
	s.sent = append(s.sent, m)
	s.notify()
	return s.messageResult(c, m), nil
}

// messageResult is the Message object Telegram returns for a sent message.
func (s *Server) messageResult(c *chat, m SentMessage) models.Message {
	bot := s.Bot()
	out := models.Message{
		ID: m.MessageID, MessageThreadID: m.ThreadID, IsTopicMessage: m.ThreadID != 0,
		From: &bot, Chat: c.info, Date: int(m.At.Unix()), Text: m.Plain,
	}
	if len(m.Keyboard) > 0 {
		kb := &models.InlineKeyboardMarkup{}
		for _, row := range m.Keyboard {
			var r []models.InlineKeyboardButton
			for _, b := range row {
				r = append(r, models.InlineKeyboardButton{Text: b.Text, CallbackData: b.CallbackData, URL: b.URL})
			}
			kb.InlineKeyboard = append(kb.InlineKeyboard, r)
		}
		out.ReplyMarkup = kb
	}
	return out
}

func (s *Server) editMessageText(_ context.Context, p params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatFor(p)
	if err != nil {
		return nil, err
	}
	id, err := p.int("message_id")
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(s.sent, func(m SentMessage) bool { return m.ChatID == c.info.ID && m.MessageID == id })
	if i < 0 {
		return nil, badRequest("message to edit not found")
	}
	text, err := p.required("text")
	if err != nil {
		return nil, badRequest("message text is empty")
	}
	plain, links, err := checkText(text, p.str("parse_mode"))
	if err != nil {
		return nil, err
	}
	kb, err := checkMarkup(p.str("reply_markup"))
	if err != nil {
		return nil, err
	}
	m := &s.sent[i]
	if m.Text == text && m.ReplyMarkup == p.str("reply_markup") {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.Plain, m.Links, m.ParseMode = text, plain, links, p.str("parse_mode")
	m.ReplyMarkup, m.Keyboard = p.str("reply_markup"), kb
	m.Edits++
	s.notify()
	return s.messageResult(c, *m), nil
}

func (s *Server) answerCallbackQuery(_ context.Context, p params) (any, error) {
	id, err := p.required("callback_query_id")
	if err != nil {
		return nil, err
	}
	text := p.str("text")
	if utf8.RuneCountInString(text) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.callbacks[id] {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	delete(s.callbacks, id)
	s.answers = append(s.answers, CallbackAnswer{QueryID: id, Text: text, ShowAlert: p.bool("show_alert")})
	s.notify()
	return true, nil
}

var chatActions = []string{"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
	"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}

func (s *Server) sendChatAction(_ context.Context, p params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatFor(p)
	if err != nil {
		return nil, err
	}
	thread, err := p.int("message_thread_id")
	if err != nil {
		return nil, err
	}
	if err := checkThread(c, thread); err != nil {
		return nil, err
	}
	action := p.str("action")
	if !slices.Contains(chatActions, action) {
		return nil, badRequest("wrong parameter action in request")
	}
	s.actions = append(s.actions, ChatAction{ChatID: c.info.ID, ThreadID: thread, Action: action})
	s.notify()
	return true, nil
}

func (s *Server) getFile(_ context.Context, p params) (any, error) {
	id, err := p.required("file_id")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return nil, badRequest("invalid file_id")
	}
	return models.File{FileID: id, FileUniqueID: "u" + id, FileSize: int64(len(f.content)), FilePath: f.path}, nil
}

// serveFile serves a file download: rest is "<token>/<file path>".
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, rest string) {
	token, path, ok := strings.Cut(rest, "/")
	if !ok || token != s.cfg.Token {
		writeError(w, &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"})
		return
	}
	s.mu.Lock()
	var content []byte
	found := false
	for _, f := range s.files {
		if f.path == path {
			content, found = f.content, true
			break
		}
	}
	s.mu.Unlock()
	if !found || r.Method != http.MethodGet {
		writeError(w, &apiError{code: http.StatusNotFound, desc: "Not Found"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	_, _ = w.Write(content)
}

func (s *Server) createForumTopic(_ context.Context, p params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatFor(p)
	if err != nil {
		return nil, err
	}
	if !c.info.IsForum {
		return nil, badRequest("the chat is not a forum")
	}
	name := p.str("name")
	if n := utf8.RuneCountInString(name); n < 1 || n > 128 || strings.TrimSpace(name) == "" {
		return nil, badRequest("TOPIC_NAME_INVALID")
	}
	c.nextMsg++ // the topic's id is the id of its "topic created" service message
	thread := c.nextMsg
	c.messages[thread] = true
	c.threads[thread] = true
	s.topics = append(s.topics, Topic{ChatID: c.info.ID, ThreadID: thread, Name: name})
	s.notify()
	return models.ForumTopic{MessageThreadID: thread, Name: name, IconColor: 7322096}, nil
}
