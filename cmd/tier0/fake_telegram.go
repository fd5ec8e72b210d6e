package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
)

// fakeTelegramUserID is the test user's Telegram id (and private chat id).
const fakeTelegramUserID = 700000001

// maxBurnedUpdates bounds how many update ids the fake skips to get past
// an offset tier0 remembers from an earlier run.
const maxBurnedUpdates = 1_000_000

// telegramFake is the fake Bot API: tier0 long-polls it, the test user's
// messages and clicks are queued as updates.
type telegramFake struct {
	srv  *tgfake.Server
	http *fakeHTTP
	url  string
	user models.User
	chat models.Chat

	mu     sync.Mutex // serialises queueing; guards lastID
	lastID int64      // the last update id queued
}

var _ fakePlatform = (*telegramFake)(nil)

func openTelegramFake(o fakeOptions) (fakePlatform, error) {
	srv := tgfake.NewServer(tgfake.Config{})
	user := models.User{ID: fakeTelegramUserID, FirstName: "Test", LastName: "User", Username: "tier0_test_user", LanguageCode: "en"}
	return &telegramFake{
		srv:  srv,
		http: serveFake(o.ln, srv),
		url:  o.url,
		user: user,
		chat: models.Chat{ID: user.ID, Type: models.ChatTypePrivate, FirstName: user.FirstName, LastName: user.LastName, Username: user.Username},
	}, nil
}

func (t *telegramFake) name() string { return "Telegram" }

func (t *telegramFake) settings() fakeSettings {
	return fakeSettings{
		env: [][2]string{
			{"TIER0_TELEGRAM_TOKEN", t.srv.Token()},
			{"TIER0_TELEGRAM_MODE", "polling"},
			{"TIER0_TELEGRAM_API_URL", t.url},
		},
	}
}

// ready waits for tier0's first getUpdates: a message queued before it
// could be confirmed away by an offset tier0 remembers.
func (t *telegramFake) ready(context.Context) (bool, string) {
	if t.srv.Calls("getUpdates") > 0 {
		return true, ""
	}
	return false, "tier0 to poll the fake Bot API at " + t.url + " (start tier0 serve with the settings above)"
}

func (t *telegramFake) say(_ context.Context, text string) error {
	m := models.Message{Chat: t.chat, From: &t.user, Text: text}
	if strings.HasPrefix(text, "/") {
		// Telegram marks a leading /command with a bot_command entity.
		cmd, _, _ := strings.Cut(text, " ")
		m.Entities = []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: len(utf16.Encode([]rune(cmd)))}}
	}
	return t.enqueue(func() int64 {
		id, _ := t.srv.EnqueueMessage(m)
		return id
	})
}

// enqueue queues an update with queue, first skipping update ids below
// the offset tier0 polls with: the fake numbers updates from the same
// start every run, and tier0 keeps its offset (and the ids it has seen)
// in its store across runs.
func (t *telegramFake) enqueue(queue func() int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	offsets := t.srv.Offsets()
	if len(offsets) > 0 {
		if want := slices.Max(offsets); want > t.lastID+1 {
			for i := 0; ; i++ {
				if i == maxBurnedUpdates {
					return fmt.Errorf("tier0 polls with update offset %d, far beyond this fake's ids: start tier0 with a fresh data directory", want)
				}
				// An update of no known kind: tier0 never gets it or skips it.
				t.lastID = t.srv.Enqueue(models.Update{})
				if t.lastID+1 >= want {
					break
				}
			}
		}
	}
	t.lastID = queue()
	return nil
}

func (t *telegramFake) watch(ctx context.Context, emit func(fakePost)) error {
	type msgKey struct {
		chat int64
		id   int
	}
	seen := map[msgKey]int{} // message → edits shown
	for {
		m, err := t.srv.WaitSent(ctx, func(m tgfake.SentMessage) bool {
			edits, ok := seen[msgKey{m.ChatID, m.MessageID}]
			return !ok || edits != m.Edits
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		k := msgKey{m.ChatID, m.MessageID}
		_, shown := seen[k]
		seen[k] = m.Edits
		emit(t.post(m, shown))
	}
}

// post is what the test user (or whoever the chat is) sees of m.
func (t *telegramFake) post(m tgfake.SentMessage, edited bool) fakePost {
	p := fakePost{text: m.Plain, links: m.Links, edited: edited}
	if m.ChatID != t.chat.ID {
		p.where = "chat " + strconv.FormatInt(m.ChatID, 10)
		if m.ThreadID != 0 {
			p.where += " topic " + strconv.Itoa(m.ThreadID)
		}
	}
	for _, row := range m.Keyboard {
		for _, b := range row {
			switch {
			case b.CallbackData != "":
				data := b.CallbackData
				p.buttons = append(p.buttons, fakeButton{label: b.Text, click: func(context.Context) error {
					return t.enqueue(func() int64 { return t.srv.EnqueueCallback(t.user, m, data) })
				}})
			case b.URL != "":
				p.sources = append(p.sources, b.Text+" <"+b.URL+">")
			}
		}
	}
	return p
}

func (t *telegramFake) close() error {
	t.srv.Close() // ends the long poll waiting, so the server stops at once
	return t.http.close()
}
