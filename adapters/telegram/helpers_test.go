package telegram_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
)

const secret = "test_webhook-secret_0123456789"

// Chats and people of the tests.
var (
	shopper     = models.User{ID: 7001, FirstName: "Sam", LastName: "Shopper", LanguageCode: "de"}
	shopperChat = models.Chat{ID: 7001, Type: models.ChatTypePrivate, FirstName: "Sam"}
	groupChat   = models.Chat{ID: -4001, Type: models.ChatTypeGroup, Title: "Ski club"}
	forumChat   = models.Chat{ID: -1004002, Type: models.ChatTypeSupergroup, Title: "Shop forum", IsForum: true}
	staffChat   = models.Chat{ID: -1009000, Type: models.ChatTypeSupergroup, Title: "Support desk", IsForum: true}
	agent       = models.User{ID: 8001, FirstName: "Alex", LastName: "Agent"}
)

func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startFake(tb testing.TB) *tgfake.Server {
	tb.Helper()
	s := tgfake.Start(tgfake.Config{})
	tb.Cleanup(s.Close)
	s.AddChat(staffChat)
	return s
}

func openStore(tb testing.TB, dir string) *boltstore.Store {
	tb.Helper()
	st, err := boltstore.Open(filepath.Join(dir, "tier0.db"), boltstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// baseConfig is a config for the fake: fast polling and backoff, no
// pacing or typing unless a test turns them on.
func baseConfig(s *tgfake.Server) telegram.Config {
	return telegram.Config{
		Token:          s.Token(),
		WebhookSecret:  secret,
		APIURL:         s.URL(),
		StaffChatID:    staffChat.ID,
		PollTimeout:    time.Second,
		PollBackoff:    5 * time.Millisecond,
		MaxPollBackoff: 20 * time.Millisecond,
		ChatInterval:   -1,
		TypingDelay:    -1,
		Logger:         quietLogger(),
	}
}

func newAdapter(tb testing.TB, cfg telegram.Config, eng interface {
	Handle(context.Context, conversation.Message) (conversation.Result, error)
	Act(context.Context, conversation.AgentAction) (conversation.Result, error)
}, rf conversation.Refs) *telegram.Adapter {
	tb.Helper()
	a, err := telegram.New(ctxT(tb), cfg, eng, rf)
	if err != nil {
		tb.Fatalf("telegram.New: %v", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

// recorder is an engine that records what it is given.
type recorder struct {
	mu    sync.Mutex
	msgs  []conversation.Message
	acts  []conversation.AgentAction
	err   error                                             // returned by Handle and Act when set
	hook  func(ctx context.Context, m conversation.Message) // called inside Handle
	calls chan struct{}
}

func newRecorder() *recorder { return &recorder{calls: make(chan struct{}, 100)} }

func (r *recorder) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	if r.hook != nil {
		r.hook(ctx, m)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return conversation.Result{}, r.err
	}
	if err := m.Validate(); err != nil {
		return conversation.Result{}, err
	}
	r.msgs = append(r.msgs, m)
	r.signal()
	return conversation.Result{}, nil
}

func (r *recorder) Act(_ context.Context, a conversation.AgentAction) (conversation.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return conversation.Result{}, r.err
	}
	if err := a.Validate(); err != nil {
		return conversation.Result{}, err
	}
	r.acts = append(r.acts, a)
	r.signal()
	return conversation.Result{}, nil
}

// signal tells a waiting test that a call was recorded (never blocks).
func (r *recorder) signal() {
	select {
	case r.calls <- struct{}{}:
	default:
	}
}

func (r *recorder) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *recorder) messages() []conversation.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]conversation.Message(nil), r.msgs...)
}

func (r *recorder) actions() []conversation.AgentAction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]conversation.AgentAction(nil), r.acts...)
}

// logRecorder is a slog handler that keeps the records' messages and
// attributes, for assertions on what the adapter logged.
type logRecorder struct {
	mu   *sync.Mutex
	recs *[]string
}

func newLogRecorder() (*slog.Logger, func() []string) {
	lr := logRecorder{mu: &sync.Mutex{}, recs: &[]string{}}
	return slog.New(lr), func() []string {
		lr.mu.Lock()
		defer lr.mu.Unlock()
		return append([]string(nil), *lr.recs...)
	}
}

func (l logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	*l.recs = append(*l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecorder) WithGroup(string) slog.Handler      { return l }

// textMessage is a message from shopper in a chat.
func textMessage(chat models.Chat, text string) models.Message {
	return models.Message{Chat: chat, From: &shopper, Text: text}
}

// command is a message starting with a bot command entity.
func command(chat models.Chat, from *models.User, text string) models.Message {
	name, _, _ := strings.Cut(text, " ")
	return models.Message{Chat: chat, From: from, Text: text,
		Entities: []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: len(name)}}}
}

func contains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// waitAnswers waits until the fake has n callback answers.
func waitAnswers(tb testing.TB, fake *tgfake.Server, n int) []tgfake.CallbackAnswer {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := fake.CallbackAnswers()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d callback answers, want %d", len(got), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func itoaT(n int64) string { return strconv.FormatInt(n, 10) }
