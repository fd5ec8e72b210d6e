package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/go-telegram/bot/models"
)

// Enqueue queues an update for the bot and returns its update_id (the
// update's own ID is replaced). Chats, messages, topics and callback
// queries in it become known to the server, so the bot can answer them.
func (s *Server) Enqueue(u models.Update) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpdateID++
	u.ID = s.nextUpdateID
	kind := "other"
	switch {
	case u.Message != nil:
		kind = models.AllowedUpdateMessage
		s.learn(u.Message)
	case u.EditedMessage != nil:
		kind = models.AllowedUpdateEditedMessage
	case u.ChannelPost != nil:
		kind = models.AllowedUpdateChannelPost
	case u.CallbackQuery != nil:
		kind = models.AllowedUpdateCallbackQuery
		s.callbacks[u.CallbackQuery.ID] = true
		if m := u.CallbackQuery.Message.Message; m != nil {
			s.learn(m)
		}
	}
	raw, err := json.Marshal(u)
	if err != nil {
		// models.Update always encodes; keep the id sequence intact anyway.
		raw = []byte(`{"update_id":` + strconv.FormatInt(u.ID, 10) + `}`)
	}
	s.queue = append(s.queue, queued{id: u.ID, kind: kind, raw: raw})
	s.notify()
	return u.ID
}

// EnqueueRaw queues an update given as raw JSON (for shapes models.Update
// cannot express); update_id is set by the server. It returns the id.
func (s *Server) EnqueueRaw(raw json.RawMessage) (int64, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return 0, fmt.Errorf("fake telegram: update is not a JSON object: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpdateID++
	obj["update_id"] = json.RawMessage(strconv.FormatInt(s.nextUpdateID, 10))
	b, err := json.Marshal(obj)
	if err != nil {
		return 0, err
	}
	kind := "other"
	for _, k := range []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateEditedMessage, models.AllowedUpdateChannelPost} {
		if _, ok := obj[k]; ok {
			kind = k
		}
	}
	s.queue = append(s.queue, queued{id: s.nextUpdateID, kind: kind, raw: b})
	s.notify()
	return s.nextUpdateID, nil
}

// EnqueueMessage queues a message update. A zero message id gets the
// chat's next one, a zero date the current time. It returns the update id
// and the message as queued.
func (s *Server) EnqueueMessage(m models.Message) (int64, models.Message) {
	s.mu.Lock()
	c := s.chatLocked(m.Chat)
	if m.ID == 0 {
		c.nextMsg++
		m.ID = c.nextMsg
	}
	s.mu.Unlock()
	if m.Date == 0 {
		m.Date = int(time.Now().Unix())
	}
	return s.Enqueue(models.Update{Message: &m}), m
}

// Click queues the callback query of a user pressing the button labelled
// label under the bot's message sent. It returns the update id.
func (s *Server) Click(from models.User, sent SentMessage, label string) (int64, error) {
	var data string
	for _, row := range sent.Keyboard {
		for _, b := range row {
			if b.Text == label && b.CallbackData != "" {
				data = b.CallbackData
			}
		}
	}
	if data == "" {
		return 0, fmt.Errorf("fake telegram: message %d in chat %d has no button %q", sent.MessageID, sent.ChatID, label)
	}
	return s.EnqueueCallback(from, sent, data), nil
}

// EnqueueCallback queues a callback query with data from a button under
// the bot's message sent (data need not be one the message carries, to
// test forged clicks). It returns the update id.
func (s *Server) EnqueueCallback(from models.User, sent SentMessage, data string) int64 {
	s.mu.Lock()
	s.nextQuery++
	id := "cbq" + strconv.Itoa(s.nextQuery)
	info := models.Chat{ID: sent.ChatID, Type: models.ChatTypePrivate}
	if c := s.chats[sent.ChatID]; c != nil {
		info = c.info
	}
	s.mu.Unlock()
	bot := s.Bot()
	msg := &models.Message{
		ID: sent.MessageID, MessageThreadID: sent.ThreadID, IsTopicMessage: sent.ThreadID != 0,
		From: &bot, Chat: info, Date: int(time.Now().Unix()), Text: sent.Plain,
	}
	return s.Enqueue(models.Update{CallbackQuery: &models.CallbackQuery{
		ID: id, From: from, ChatInstance: "ci" + strconv.FormatInt(sent.ChatID, 10), Data: data,
		Message: models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: msg},
	}})
}

// learn records the chat, message and topic of a message the bot gets.
// Callers hold s.mu.
func (s *Server) learn(m *models.Message) {
	c := s.chatLocked(m.Chat)
	c.messages[m.ID] = true
	if m.ID > c.nextMsg {
		c.nextMsg = m.ID
	}
	if m.MessageThreadID != 0 && m.IsTopicMessage {
		c.threads[m.MessageThreadID] = true
	}
}

// chatLocked returns the chat record, creating it. Callers hold s.mu.
func (s *Server) chatLocked(info models.Chat) *chat {
	c := s.chats[info.ID]
	if c == nil {
		c = &chat{info: info, messages: make(map[int]bool), threads: make(map[int]bool)}
		s.chats[info.ID] = c
	}
	return c
}

// AddChat makes a chat known, e.g. the staff supergroup (Type
// "supergroup", IsForum true) before the bot posts into it.
func (s *Server) AddChat(info models.Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(info)
	c.info = info
}

// Block makes sends to a chat fail with 403, as when a user blocked the bot.
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chatID] = true
}

// Pending returns how many queued updates getUpdates has not had
// confirmed (by a later offset) yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// WaitConfirmed waits until every update up to id was confirmed by a
// getUpdates offset beyond it, or ctx ends.
func (s *Server) WaitConfirmed(ctx context.Context, id int64) error {
	for {
		s.mu.Lock()
		done := len(s.queue) == 0 || s.queue[0].id > id
		ch := s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake telegram: update %d not confirmed: %w", id, ctx.Err())
		case <-ch:
		}
	}
}

// Deliveries returns how many getUpdates answers carried update id.
func (s *Server) Deliveries(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered[id]
}

// Offsets returns the offset parameter of every getUpdates call so far,
// in order (0 when the call had none).
func (s *Server) Offsets() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offsets)
}

func (s *Server) getUpdates(ctx context.Context, p params) (any, error) {
	offset, err := p.int64("offset")
	if err != nil {
		return nil, err
	}
	limit, err := p.int("limit")
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, err := p.int("timeout")
	if err != nil {
		return nil, err
	}
	var allowed []string
	if perr := p.json("allowed_updates", &allowed); perr != nil {
		return nil, perr
	}
	wait := min(time.Duration(max(timeout, 0))*time.Second, s.cfg.MaxLongPoll)

	s.mu.Lock()
	if s.webhookURL != "" {
		s.mu.Unlock()
		return nil, &apiError{code: http.StatusConflict, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	if p["allowed_updates"] != "" {
		s.allowed = allowed
	}
	s.offsets = append(s.offsets, offset)
	// Confirm what came before the offset.
	switch {
	case offset > 0:
		i := 0
		for i < len(s.queue) && s.queue[i].id < offset {
			i++
		}
		if i > 0 {
			s.queue = slices.Delete(s.queue, 0, i)
			s.notify()
		}
	case offset < 0:
		if keep := int(-offset); keep < len(s.queue) {
			s.queue = slices.Delete(s.queue, 0, len(s.queue)-keep)
			s.notify()
		}
	}
	// A new poll ends the one waiting (as Telegram does, with 409).
	if s.poll != nil {
		close(s.poll.kicked)
	}
	me := &poller{kicked: make(chan struct{})}
	s.poll = me
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.poll == me {
			s.poll = nil
		}
		s.mu.Unlock()
	}()

	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var out []json.RawMessage
		kept := s.queue[:0]
		for _, q := range s.queue {
			if len(s.allowed) > 0 && !slices.Contains(s.allowed, q.kind) {
				continue // Telegram never creates updates of types not allowed
			}
			kept = append(kept, q)
			if len(out) < limit {
				out = append(out, q.raw)
				s.delivered[q.id]++
			}
		}
		s.queue = kept
		ch := s.changed
		s.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-me.kicked:
			return nil, &apiError{code: http.StatusConflict, desc: Conflict().Description}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return []json.RawMessage{}, nil
		case <-ch:
		}
	}
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func (s *Server) setWebhook(_ context.Context, p params) (any, error) {
	raw, err := p.required("url")
	if err != nil {
		return nil, err
	}
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, badRequest("bad webhook: invalid webhook URL specified")
	}
	sec := p.str("secret_token")
	if sec != "" && !secretRE.MatchString(sec) {
		return nil, badRequest("bad webhook: secret token contains unallowed characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSec = raw, sec
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	if s.poll != nil {
		close(s.poll.kicked)
		s.poll = nil
	}
	s.notify()
	return true, nil
}

func (s *Server) deleteWebhook(_ context.Context, p params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSec = "", ""
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	s.notify()
	return true, nil
}

func (s *Server) getWebhookInfo(_ context.Context, _ params) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return models.WebhookInfo{URL: s.webhookURL, PendingUpdateCount: len(s.queue)}, nil
}

// Webhook returns the URL and secret token of the webhook set with
// setWebhook ("" when none).
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL, s.webhookSec
}

// SecretHeader is the header Telegram sends the webhook secret token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookRequest returns the request Telegram would POST to a webhook for
// update (a models.Update, or raw JSON as []byte or json.RawMessage),
// with the secret header when secret is not empty. Serve it to a handler
// with httptest.NewRecorder.
func WebhookRequest(secret string, update any) (*http.Request, error) {
	body, err := updateBody(update)
	if err != nil {
		return nil, err
	}
	r := httptest.NewRequest(http.MethodPost, "/telegram/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if secret != "" {
		r.Header.Set(SecretHeader, secret)
	}
	return r, nil
}

// PostUpdate POSTs update to a webhook URL as Telegram does and returns
// the HTTP status.
func PostUpdate(ctx context.Context, client *http.Client, webhookURL, secret string, update any) (int, error) {
	body, err := updateBody(update)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func updateBody(update any) ([]byte, error) {
	switch u := update.(type) {
	case []byte:
		return u, nil
	case json.RawMessage:
		return u, nil
	case string:
		return []byte(u), nil
	}
	return json.Marshal(update)
}
