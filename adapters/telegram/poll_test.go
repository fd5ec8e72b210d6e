package telegram_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
)

// countingEngine wraps a real engine and records every Handle result.
type countingEngine struct {
	*conversation.Engine
	mu      sync.Mutex
	results map[string][]bool // dedupe key → Duplicate of each call
	after   func(m conversation.Message)
	handled chan string
}

func newCountingEngine(st conversation.Store) *countingEngine {
	return &countingEngine{
		Engine:  conversation.NewEngine(st, nil, nil, conversation.EngineConfig{Logger: quietLogger()}),
		results: make(map[string][]bool),
		handled: make(chan string, 100),
	}
}

func (c *countingEngine) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	res, err := c.Engine.Handle(ctx, m)
	if err == nil {
		c.mu.Lock()
		c.results[m.DedupeKey] = append(c.results[m.DedupeKey], res.Duplicate)
		after := c.after
		c.mu.Unlock()
		c.handled <- m.DedupeKey
		if after != nil {
			after(m)
		}
	}
	return res, err
}

func (c *countingEngine) setAfter(f func(conversation.Message)) {
	c.mu.Lock()
	c.after = f
	c.mu.Unlock()
}

func (c *countingEngine) calls(key string) []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.results[key]...)
}

// poll runs RunPolling until the returned stop is called (which waits
// for it to return and reports its error).
func poll(tb testing.TB, a *telegram.Adapter) (cancel context.CancelFunc, wait func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(ctxT(tb))
	done := make(chan error, 1)
	go func() { done <- a.RunPolling(ctx) }()
	wait = func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			tb.Fatal("RunPolling did not return after its context ended")
			return nil
		}
	}
	tb.Cleanup(func() { cancel() })
	return cancel, wait
}

func waitHandled(tb testing.TB, ch <-chan string, key string) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case k := <-ch:
			if k == key {
				return
			}
		case <-timeout:
			tb.Fatalf("update %s was not handled", key)
		}
	}
}

func TestPollingNeitherLosesNorRepeatsAcrossRestarts(t *testing.T) {
	fake := startFake(t)
	st := openStore(t, t.TempDir())
	eng := newCountingEngine(st)
	cfg := baseConfig(fake)
	ctx := ctxT(t)
	key := func(id int64) string { return "tg:" + itoaT(fake.BotID()) + ":" + itoaT(id) }

	// 1. Two updates; the first poller accepts both and dies before its
	// next getUpdates could confirm them to Telegram.
	u1, _ := fake.EnqueueMessage(textMessage(shopperChat, "first"))
	u2, _ := fake.EnqueueMessage(textMessage(shopperChat, "second"))
	a1 := newAdapter(t, cfg, eng, st)
	cancel1, wait1 := poll(t, a1)
	eng.setAfter(func(m conversation.Message) {
		if m.DedupeKey == key(u2) {
			cancel1()
		}
	})
	if err := wait1(); err != nil {
		t.Fatalf("RunPolling: %v", err)
	}
	offset, err := st.GetRef(ctx, "telegram", "offset:"+itoaT(fake.BotID()))
	if err != nil || !strings.HasPrefix(offset, itoaT(u2+1)+" ") {
		t.Fatalf("stored offset = %q, %v; want %d", offset, err, u2+1)
	}
	if fake.Pending() != 2 {
		t.Fatalf("Telegram holds %d unconfirmed updates, want 2", fake.Pending())
	}

	// 2. A new adapter on the same store resumes at the stored offset:
	// nothing is repeated, the new update is handled. It too dies right
	// after accepting its update.
	u3, _ := fake.EnqueueMessage(textMessage(shopperChat, "third"))
	a2 := newAdapter(t, cfg, eng, st)
	cancel2, wait2 := poll(t, a2)
	eng.setAfter(func(m conversation.Message) {
		if m.DedupeKey == key(u3) {
			cancel2()
		}
	})
	if err := wait2(); err != nil {
		t.Fatal(err)
	}
	offs := fake.Offsets()
	if len(offs) < 2 || offs[1] != u2+1 {
		t.Fatalf("getUpdates offsets = %v, want the restart to ask from %d", offs, u2+1)
	}
	for _, u := range []int64{u1, u2} {
		if got := fake.Deliveries(u); got != 1 {
			t.Errorf("update %d delivered %d times, want 1", u, got)
		}
	}

	// 3. The stored offset is lost (say the write failed): the next poller
	// starts from the oldest pending update, gets update 3 again, and the
	// engine drops it as a duplicate.
	if err := st.PutRef(ctx, "telegram", "offset:"+itoaT(fake.BotID()), "garbage", 0); err != nil {
		t.Fatal(err)
	}
	eng.setAfter(nil)
	u4, _ := fake.EnqueueMessage(textMessage(shopperChat, "fourth"))
	a3 := newAdapter(t, cfg, eng, st)
	cancel3, wait3 := poll(t, a3)
	waitHandled(t, eng.handled, key(u4))
	if err := fake.WaitConfirmed(ctx, u3); err != nil {
		t.Fatal(err)
	}
	cancel3()
	if err := wait3(); err != nil {
		t.Fatal(err)
	}
	if got := fake.Deliveries(u3); got != 2 {
		t.Errorf("update %d delivered %d times, want 2 (once more after the offset was lost)", u3, got)
	}
	want := map[int64][]bool{u1: {false}, u2: {false}, u3: {false, true}, u4: {false}}
	for u, w := range want {
		if got := eng.calls(key(u)); len(got) != len(w) || got[0] != w[0] || len(w) == 2 && got[1] != w[1] {
			t.Errorf("update %d: engine results (duplicate?) %v, want %v", u, got, w)
		}
	}
	c, err := st.Load(ctx, telegram.ConversationKey(shopperChat.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	var customer []string
	for _, tn := range c.History {
		if tn.Role == conversation.RoleCustomer {
			customer = append(customer, tn.Text)
		}
	}
	if strings.Join(customer, ",") != "first,second,third,fourth" {
		t.Errorf("customer turns = %v, want each message once, in order", customer)
	}
}

func TestPollingRetriesAnUpdateTheEngineDidNotAccept(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	st := openStore(t, t.TempDir())
	a := newAdapter(t, baseConfig(fake), rec, st)
	rec.setErr(conversation.Errorf(conversation.Unavailable, "store down"))
	u, _ := fake.EnqueueMessage(textMessage(shopperChat, "are you open?"))
	cancel, wait := poll(t, a)
	waitFor(t, func() bool { return fake.Deliveries(u) >= 3 }, "update redelivered while the engine is down")
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("engine accepted %d messages while down", n)
	}
	rec.setErr(nil)
	<-rec.calls
	if err := fake.WaitConfirmed(ctxT(t), u); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if msgs := rec.messages(); len(msgs) != 1 || msgs[0].Text != "are you open?" {
		t.Fatalf("engine got %+v", msgs)
	}
}

func TestPollingGivesUpOnAPoisonUpdate(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	a := newAdapter(t, baseConfig(fake), rec, openStore(t, t.TempDir()))
	rec.setErr(conversation.Errorf(conversation.Internal, "bug"))
	var once sync.Once
	rec.hook = func(_ context.Context, m conversation.Message) {
		if m.Text == "next" {
			once.Do(func() { rec.setErr(nil) })
		}
	}
	u1, _ := fake.EnqueueMessage(textMessage(shopperChat, "poison"))
	fake.EnqueueMessage(textMessage(shopperChat, "next"))
	cancel, wait := poll(t, a)
	<-rec.calls
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if got := fake.Deliveries(u1); got != 5 {
		t.Errorf("poison update delivered %d times, want 5 before it is dropped", got)
	}
	if msgs := rec.messages(); len(msgs) != 1 || msgs[0].Text != "next" {
		t.Fatalf("engine got %+v, want the update after the poison one", msgs)
	}
}

func TestPollingHandlesConflictAndFloodControl(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	cfg := baseConfig(fake)
	log, logs := newLogRecorder()
	cfg.Logger = log
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	fake.InjectError("getUpdates", tgfake.Conflict())
	fake.InjectError("getUpdates", tgfake.TooManyRequests(1))
	fake.EnqueueMessage(textMessage(shopperChat, "hello"))
	cancel, wait := poll(t, a)
	<-rec.calls
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	got := logs()
	if !contains(got, "telegram getUpdates conflict") {
		t.Errorf("no conflict logged in %q", got)
	}
	if !contains(got, "telegram flood control on getUpdates retry_after=1s") {
		t.Errorf("retry_after not honoured (logged) in %q", got)
	}
	if n := fake.Calls("getUpdates"); n < 3 {
		t.Errorf("getUpdates called %d times, want at least 3", n)
	}
}

func TestPollingDeletesABlockingWebhookWhenAsked(t *testing.T) {
	fake := startFake(t)
	rec := newRecorder()
	cfg := baseConfig(fake)
	cfg.DeleteWebhookOnConflict = true
	a := newAdapter(t, cfg, rec, openStore(t, t.TempDir()))
	if err := a.SetWebhook(ctxT(t), "https://shop.example/telegram/webhook"); err != nil {
		t.Fatal(err)
	}
	fake.EnqueueMessage(textMessage(shopperChat, "hello"))
	cancel, wait := poll(t, a)
	<-rec.calls
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if u, _ := fake.Webhook(); u != "" {
		t.Fatalf("webhook %q still set", u)
	}
}

func TestPollingStopsOnABadToken(t *testing.T) {
	fake := startFake(t)
	a := newAdapter(t, baseConfig(fake), newRecorder(), openStore(t, t.TempDir()))
	fake.InjectError("getUpdates", tgfake.Fault{Code: 401, Description: "Unauthorized"})
	_, wait := poll(t, a)
	if err := wait(); conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("RunPolling = %v, want an Unauthorized error", err)
	}
}

func TestPollingStopsPromptlyDuringALongPoll(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.PollTimeout = 50 * time.Second
	a := newAdapter(t, cfg, newRecorder(), openStore(t, t.TempDir()))
	cancel, wait := poll(t, a)
	waitFor(t, func() bool { return fake.Calls("getUpdates") >= 1 }, "a long poll started")
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("RunPolling = %v, want nil after cancellation", err)
	}
}

func TestNewRejectsABadToken(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.Token = "42:not-the-token"
	_, err := telegram.New(ctxT(t), cfg, newRecorder(), openStore(t, t.TempDir()))
	if conversation.ErrorCode(err) != conversation.Unauthorized {
		t.Fatalf("New with a wrong token: %v, want Unauthorized", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := telegram.Config{Token: "123:abc"}
	tests := []struct {
		name string
		mod  func(*telegram.Config)
		ok   bool
	}{
		{"minimal", func(*telegram.Config) {}, true},
		{"no token", func(c *telegram.Config) { c.Token = "" }, false},
		{"malformed token", func(c *telegram.Config) { c.Token = "abc" }, false},
		{"secret with spaces", func(c *telegram.Config) { c.WebhookSecret = "a b" }, false},
		{"good secret", func(c *telegram.Config) { c.WebhookSecret = "Abc_123-x" }, true},
		{"positive staff chat", func(c *telegram.Config) { c.StaffChatID = 5 }, false},
		{"api url without scheme", func(c *telegram.Config) { c.APIURL = "api.telegram.org" }, false},
		{"poll timeout too long", func(c *telegram.Config) { c.PollTimeout = time.Hour }, false},
		{"tiny body limit", func(c *telegram.Config) { c.MaxBodyBytes = 10 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("code = %s, want invalid", conversation.ErrorCode(err))
			}
		})
	}
}

func waitFor(tb testing.TB, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestCloseEndsPolling(t *testing.T) {
	fake := startFake(t)
	cfg := baseConfig(fake)
	cfg.PollTimeout = 50 * time.Second
	a := newAdapter(t, cfg, newRecorder(), openStore(t, t.TempDir()))
	_, wait := poll(t, a)
	waitFor(t, func() bool { return fake.Calls("getUpdates") >= 1 }, "a long poll started")
	_ = a.Close()
	if err := wait(); err != nil {
		t.Fatalf("RunPolling = %v, want nil after Close", err)
	}
}
