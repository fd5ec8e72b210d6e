// Package doortest is test support for the webhook doors (Slack, Teams,
// Telegram, WhatsApp Cloud): a real engine on a real store (a private
// redis-server from conversation/redisstore/redistest), whose commits a
// test can make fail or stall, so a door's tests can check that a
// platform gets its 2xx only once a message is committed, and that the
// platform's retry of a message is processed exactly once. Only tests
// import it.
package doortest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// Store is a Redis store whose commits can be made to fail or to wait.
type Store struct {
	*redisstore.Store

	mu      sync.Mutex
	fail    int           // the next fail commits fail with Unavailable
	failed  chan struct{} // closed when the last of them failed
	hold    chan struct{} // non-nil: commits wait until it is closed
	held    chan struct{} // closed when a commit starts waiting on hold
	commits map[string]int
}

// FailCommits makes the next n (> 0) commits fail with an Unavailable
// error (nothing is written), as when Redis is restarting. The channel
// is closed when the n-th has failed.
func (s *Store) FailCommits(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail, s.failed = n, make(chan struct{})
	return s.failed
}

// HoldCommits makes commits wait (then go through) until release is
// called; held is closed once a commit waits, so a test knows the turn
// got that far.
func (s *Store) HoldCommits() (held <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	h := s.hold
	var once sync.Once
	return s.held, func() {
		once.Do(func() {
			s.mu.Lock()
			close(h)
			s.hold = nil
			s.mu.Unlock()
		})
	}
}

// Commits returns how many commits of conversation key went through.
func (s *Store) Commits(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits[key]
}

// before applies the failure or the hold to one commit.
func (s *Store) before(ctx context.Context) error {
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		if s.fail == 0 {
			close(s.failed)
		}
		s.mu.Unlock()
		return conversation.Errorf(conversation.Unavailable, "doortest: commit failed on purpose")
	}
	hold, held := s.hold, s.held
	if hold != nil {
		select {
		case <-held:
		default:
			close(held)
		}
	}
	s.mu.Unlock()
	if hold == nil {
		return nil
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) count(key string, err error) {
	if err != nil {
		return
	}
	s.mu.Lock()
	s.commits[key]++
	s.mu.Unlock()
}

// Commit is the Redis store's Commit after the failure or hold set up.
func (s *Store) Commit(ctx context.Context, l conversation.Lease, c conversation.Commit) error {
	if err := s.before(ctx); err != nil {
		return err
	}
	err := s.Store.Commit(ctx, l, c)
	s.count(c.Conversation.Key, err)
	return err
}

// CommitClaim is the Redis store's CommitClaim after the failure or hold
// set up.
func (s *Store) CommitClaim(ctx context.Context, l conversation.Lease, c conversation.Commit, ttl time.Duration) (conversation.OutboxClaim, bool, error) {
	if err := s.before(ctx); err != nil {
		return conversation.OutboxClaim{}, false, err
	}
	claim, ok, err := s.Store.CommitClaim(ctx, l, c, ttl)
	s.count(c.Conversation.Key, err)
	return claim, ok, err
}

// Env is an engine on a Store. The engine answers every question with
// Answer (confident, cited) and has no handoff desk wired to a channel.
type Env struct {
	Redis  *redistest.Server
	Store  *Store
	Engine *conversation.Engine
}

// Answer is the engine's answer to every message.
const Answer = "Open the VPN portal and choose Reset token."

type knowledge struct{}

func (knowledge) Answer(context.Context, conversation.Query) (conversation.Answer, error) {
	return conversation.Answer{
		Text:      Answer,
		Citations: []conversation.Citation{{Title: "VPN guide", Source: "it/vpn.md", URL: "https://intranet.example/it/vpn"}},
		Score:     0.95, Confident: true,
	}, nil
}

// Start starts a private redis-server, a store on it and an engine on the
// store; they stop when tb ends. It fails tb (never skips) when Redis
// cannot run.
func Start(tb testing.TB) *Env {
	tb.Helper()
	srv := redistest.Start(tb)
	return On(tb, srv)
}

// On is Start on an existing redis-server (several engines, "replicas",
// may share one).
func On(tb testing.TB, srv *redistest.Server) *Env {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs, err := redisstore.New(srv.NewClient(), redisstore.Config{})
	if err != nil {
		tb.Fatalf("doortest: redis store: %v", err)
	}
	tb.Cleanup(func() { _ = rs.Close() })
	s := &Store{Store: rs, commits: make(map[string]int)}
	eng := conversation.NewEngine(s, knowledge{}, nil, conversation.EngineConfig{Logger: quiet})
	return &Env{Redis: srv, Store: s, Engine: eng}
}

// Turns returns the committed turns of conversation key (0 when it does
// not exist).
func (e *Env) Turns(tb testing.TB, key string) int {
	tb.Helper()
	c, err := e.Store.Load(context.Background(), key)
	if conversation.ErrorCode(err) == conversation.NotFound {
		return 0
	}
	if err != nil {
		tb.Fatalf("doortest: load %s: %v", key, err)
	}
	return c.Turns
}

// CheckAckAfterCommit drives a webhook door through the cases every door
// must pass, on conversation key of env: a message is answered ok (the
// platform's 2xx) and is committed by then; a message whose commit fails,
// and one whose commit takes longer than the door's wait (set it well
// below a second), are answered with a status other than 2xx, and the
// platform's retry of each is answered ok and processed exactly once.
// deliver sends message n (1, 2, 3: the same n is the same message, as
// a platform's retry) through the door's real handler and returns the
// HTTP status.
func CheckAckAfterCommit(t *testing.T, env *Env, key string, ok int, deliver func(t *testing.T, n int) int) {
	t.Helper()
	if got := deliver(t, 1); got != ok {
		t.Fatalf("status = %d, want %d", got, ok)
	}
	if n := env.Turns(t, key); n != 1 {
		t.Fatalf("turns when answered = %d, want 1 (the answer comes after the commit)", n)
	}
	tests := []struct {
		name  string
		setup func() (release func())
	}{
		{"commit fails", func() func() {
			env.Store.FailCommits(1)
			return func() {}
		}},
		{"commit slower than the door waits", func() func() {
			_, release := env.Store.HoldCommits()
			return release
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := i + 2
			before := env.Turns(t, key)
			release := tt.setup()
			if got := deliver(t, n); got >= 200 && got < 300 {
				release()
				t.Fatalf("first delivery: status %d, want a status the platform retries", got)
			}
			release()
			if got := deliver(t, n); got != ok {
				t.Fatalf("retry: status %d, want %d", got, ok)
			}
			if got := env.Turns(t, key); got != before+1 {
				t.Fatalf("turns = %d, want %d: the message processed exactly once", got, before+1)
			}
		})
	}
	if got := env.Store.Commits(key); got != 3 {
		t.Errorf("commits of %s = %d, want 3 (one per message)", key, got)
	}
}
