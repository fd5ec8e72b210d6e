package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
	"github.com/tier0/tier0/handoff"
)

// stores returns a fresh instance of every store implementation.
func stores() map[string]func(tb testing.TB) conversation.Store {
	return map[string]func(tb testing.TB) conversation.Store{
		"bolt": func(tb testing.TB) conversation.Store {
			tb.Helper()
			s, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{})
			if err != nil {
				tb.Fatalf("open bolt store: %v", err)
			}
			tb.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(tb testing.TB) conversation.Store {
			tb.Helper()
			srv := redistest.Start(tb)
			s, err := redisstore.New(srv.Client(tb), redisstore.Config{})
			if err != nil {
				tb.Fatalf("redis store: %v", err)
			}
			return s
		},
	}
}

// keywordKnowledge answers questions that contain a known keyword. It
// stands in for the knowledge package so engine tests are about the engine.
type keywordKnowledge struct {
	block chan struct{} // when set, Answer waits on it (or ctx)
	calls atomic.Int64
}

func (k *keywordKnowledge) Answer(ctx context.Context, q conversation.Query) (conversation.Answer, error) {
	k.calls.Add(1)
	if k.block != nil {
		select {
		case <-k.block:
		case <-ctx.Done():
			return conversation.Answer{}, ctx.Err()
		}
	}
	if strings.Contains(strings.ToLower(q.Text), "password") {
		return conversation.Answer{
			Text:      "Reset it at the password portal. (re: " + q.Text + ")",
			Citations: []conversation.Citation{{Title: "Password reset", Source: "password-reset.md"}},
			Score:     0.9, Confident: true,
		}, nil
	}
	return conversation.Answer{Score: 0.1}, nil
}

func newEngine(tb testing.TB, s conversation.Store, k conversation.Knowledge, cfg conversation.EngineConfig) *conversation.Engine {
	tb.Helper()
	desk, err := handoff.NewDesk(s, handoff.Config{TicketPrefix: "IT", Team: "IT Service Desk"})
	if err != nil {
		tb.Fatalf("desk: %v", err)
	}
	return conversation.NewEngine(s, k, desk, cfg)
}

func msg(key, dedupe, text string) conversation.Message {
	return conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: key, DedupeKey: dedupe, User: conversation.Identity{ID: "u1"}, Text: text}
}

func pendingTexts(tb testing.TB, s conversation.Store, key string) []string {
	tb.Helper()
	out, err := s.Pending(context.Background(), key, 1000)
	if err != nil {
		tb.Fatalf("pending: %v", err)
	}
	var texts []string
	for _, o := range out {
		texts = append(texts, o.Text)
	}
	return texts
}

func TestEngineAnswersAndCites(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			res, err := e.Handle(context.Background(), msg("webchat:a", "m1", "How do I reset my password?"))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if len(res.Outbound) != 1 || res.Outbound[0].Kind != conversation.KindAnswer {
				t.Fatalf("outbound = %+v, want one answer", res.Outbound)
			}
			o := res.Outbound[0]
			if len(o.Citations) != 1 || o.Citations[0].Source != "password-reset.md" {
				t.Errorf("citations = %+v, want password-reset.md", o.Citations)
			}
			if len(o.Buttons) != 3 {
				t.Errorf("buttons = %d, want helpful / not helpful / human", len(o.Buttons))
			}
			c, err := s.Load(context.Background(), "webchat:a")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Version != 1 || len(c.History) != 2 || c.Phase != conversation.PhaseBot {
				t.Errorf("stored version %d, %d turns, phase %s; want 1, 2, bot", c.Version, len(c.History), c.Phase)
			}
			if got := pendingTexts(t, s, "webchat:a"); len(got) != 1 {
				t.Errorf("outbox has %d messages, want 1", len(got))
			}
		})
	}
}

func TestEngineDuplicateDeliveriesAnsweredOnce(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			var wg sync.WaitGroup
			var fresh atomic.Int64
			for range 16 {
				wg.Go(func() {
					res, err := e.Handle(context.Background(), msg("webchat:dup", "evt-1", "password please"))
					if err != nil {
						t.Errorf("Handle: %v", err)
						return
					}
					if !res.Duplicate {
						fresh.Add(1)
					}
				})
			}
			wg.Wait()
			// A later retry of the same event is a duplicate too.
			res, err := e.Handle(context.Background(), msg("webchat:dup", "evt-1", "password please"))
			if err != nil || !res.Duplicate {
				t.Fatalf("late retry: res=%+v err=%v, want duplicate", res, err)
			}
			if got := fresh.Load(); got != 1 {
				t.Errorf("handled %d times, want once", got)
			}
			if got := pendingTexts(t, s, "webchat:dup"); len(got) != 1 {
				t.Errorf("outbox = %q, want exactly one reply", got)
			}
		})
	}
}

func TestEngineBurstFromManyGoroutinesStaysInOrder(t *testing.T) {
	const senders, each = 8, 6
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
			var wg sync.WaitGroup
			for g := range senders {
				wg.Go(func() {
					for i := range each {
						text := fmt.Sprintf("password g%d-%d", g, i)
						if _, err := e.Handle(context.Background(), msg("webchat:burst", text, text)); err != nil {
							t.Errorf("Handle %s: %v", text, err)
						}
					}
				})
			}
			wg.Wait()
			c, err := s.Load(context.Background(), "webchat:burst")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got, want := c.Version, int64(senders*each); got != want {
				t.Fatalf("version = %d, want %d (one commit per message)", got, want)
			}
			// History strictly alternates question, answer-to-that-question;
			// each goroutine's messages keep their order.
			last := map[string]int{}
			for i := 0; i+1 < len(c.History); i += 2 {
				q, a := c.History[i], c.History[i+1]
				if q.Role != conversation.RoleCustomer || a.Role != conversation.RoleBot {
					t.Fatalf("turn %d: roles %s,%s; want customer,bot", i, q.Role, a.Role)
				}
				if !strings.Contains(a.Text, q.Text) {
					t.Fatalf("turn %d: answer %q does not answer %q", i, a.Text, q.Text)
				}
				var g, n int
				fmt.Sscanf(q.Text, "password g%d-%d", &g, &n)
				gk := fmt.Sprint(g)
				if prev, ok := last[gk]; ok && n != prev+1 {
					t.Fatalf("goroutine %d: message %d after %d", g, n, prev)
				}
				last[gk] = n
			}
			// The outbox holds the replies in the same order as the history.
			out := pendingTexts(t, s, "webchat:burst")
			if len(out) != senders*each {
				t.Fatalf("outbox has %d replies, want %d", len(out), senders*each)
			}
			for i, text := range out {
				if want := c.History[2*i+1].Text; text != want {
					t.Fatalf("outbox[%d] = %q, want %q", i, text, want)
				}
			}
		})
	}
}

func TestEngineInterruptedTurnIsNeitherLostNorDoubled(t *testing.T) {
	for name, open := range stores() {
		t.Run(name+"/cancelled", func(t *testing.T) {
			s := open(t)
			k := &keywordKnowledge{block: make(chan struct{})}
			e := newEngine(t, s, k, conversation.EngineConfig{})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for k.calls.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			if _, err := e.Handle(ctx, msg("webchat:int", "m1", "password?")); !errors.Is(err, context.Canceled) {
				t.Fatalf("Handle with cancelled ctx: err = %v, want context.Canceled", err)
			}
			seen, err := s.Seen(context.Background(), "webchat:int", conversation.StoredDedupeKey(msg("webchat:int", "m1", "")))
			if err != nil || seen {
				t.Fatalf("after interrupted turn Seen = %v (err %v), want false: the message must not be marked handled", seen, err)
			}
			close(k.block)
			res, err := e.Handle(context.Background(), msg("webchat:int", "m1", "password?"))
			if err != nil || res.Duplicate {
				t.Fatalf("redelivery: res=%+v err=%v, want handled", res, err)
			}
			if got := pendingTexts(t, s, "webchat:int"); len(got) != 1 {
				t.Errorf("outbox = %q, want one reply", got)
			}
		})
		t.Run(name+"/lease-lost", func(t *testing.T) {
			s := open(t)
			k := &keywordKnowledge{block: make(chan struct{})}
			e := newEngine(t, s, k, conversation.EngineConfig{LeaseTTL: 100 * time.Millisecond})
			errc := make(chan error, 1)
			go func() {
				_, err := e.Handle(context.Background(), msg("webchat:lost", "m1", "password?"))
				errc <- err
			}()
			for k.calls.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			// The slow turn's lease expires; another replica takes over.
			time.Sleep(300 * time.Millisecond)
			other, err := s.Acquire(context.Background(), "webchat:lost", time.Second)
			if err != nil {
				t.Fatalf("takeover Acquire: %v", err)
			}
			close(k.block)
			if err := <-errc; !errors.Is(err, conversation.ErrLeaseLost) {
				t.Fatalf("fenced-off turn: err = %v, want ErrLeaseLost", err)
			}
			if err := s.Release(context.Background(), other); err != nil {
				t.Fatalf("Release: %v", err)
			}
			res, err := e.Handle(context.Background(), msg("webchat:lost", "m1", "password?"))
			if err != nil || res.Duplicate {
				t.Fatalf("redelivery: res=%+v err=%v, want handled", res, err)
			}
			if got := pendingTexts(t, s, "webchat:lost"); len(got) != 1 {
				t.Errorf("outbox = %q, want one reply", got)
			}
		})
	}
}

func TestEngineRecoversAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.New(srv.Client(t), redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{LockWait: 200 * time.Millisecond})
	ctx := context.Background()
	if _, err := e.Handle(ctx, msg("webchat:r", "m1", "password")); err != nil {
		t.Fatalf("before restart: %v", err)
	}
	srv.Kill()
	_, err = e.Handle(ctx, msg("webchat:r", "m2", "password again"))
	if got := conversation.ErrorCode(err); got != conversation.Unavailable {
		t.Fatalf("with Redis down: code %q (err %v), want unavailable", got, err)
	}
	srv.Restart(t)
	// The platform retries m2; the engine works again without a restart.
	var res conversation.Result
	for i := 0; i < 50; i++ {
		if res, err = e.Handle(ctx, msg("webchat:r", "m2", "password again")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || res.Duplicate || len(res.Outbound) != 1 {
		t.Fatalf("after restart: res=%+v err=%v, want one reply", res, err)
	}
}

func TestEngineBotIsSilentWhileHumanOwnsThread(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	ctx := context.Background()
	steps := []struct {
		text      string
		action    string
		wantPhase conversation.Phase
		wantKinds []conversation.OutboundKind
	}{
		{text: "my laptop is on fire", wantPhase: conversation.PhaseBot, wantKinds: []conversation.OutboundKind{conversation.KindNotSure}},
		{action: conversation.ActionHuman, wantPhase: conversation.PhaseAwaitingAgent, wantKinds: []conversation.OutboundKind{conversation.KindHandoff}},
		{text: "password reset please", wantPhase: conversation.PhaseAwaitingAgent, wantKinds: nil},
		{text: "hello?", wantPhase: conversation.PhaseAwaitingAgent, wantKinds: nil},
	}
	for i, st := range steps {
		m := msg("webchat:h", fmt.Sprint("m", i), st.text)
		if st.action != "" {
			m.Action = &conversation.Action{ID: st.action}
		}
		res, err := e.Handle(ctx, m)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var kinds []conversation.OutboundKind
		for _, o := range res.Outbound {
			kinds = append(kinds, o.Kind)
		}
		if res.Phase != st.wantPhase || fmt.Sprint(kinds) != fmt.Sprint(st.wantKinds) {
			t.Errorf("step %d (%q): phase %s kinds %v; want %s %v", i, st.text+st.action, res.Phase, kinds, st.wantPhase, st.wantKinds)
		}
	}
	c, err := s.Load(ctx, "webchat:h")
	if err != nil {
		t.Fatal(err)
	}
	if c.Ticket != "IT-1001" {
		t.Errorf("ticket = %q, want IT-1001", c.Ticket)
	}
}

func TestEngineHumanRequestPhrases(t *testing.T) {
	tests := []struct {
		text string
		want conversation.Phase
	}{
		{"I want to talk to a human", conversation.PhaseAwaitingAgent},
		{"Can I speak to someone please", conversation.PhaseAwaitingAgent},
		{"Ich möchte mit einem Mitarbeiter sprechen", conversation.PhaseAwaitingAgent},
		{"humane society password", conversation.PhaseBot},
		{"the agent software crashed", conversation.PhaseBot},
	}
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	for i, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			res, err := e.Handle(context.Background(), msg(fmt.Sprint("webchat:p", i), "m", tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if res.Phase != tt.want {
				t.Errorf("phase = %s, want %s", res.Phase, tt.want)
			}
		})
	}
}

func TestEngineRejectsInvalidMessages(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{})
	tests := map[string]conversation.Message{
		"no key":       {Channel: "webchat", DedupeKey: "d", Text: "x"},
		"no dedupe":    {Channel: "webchat", ConversationKey: "k", Text: "x"},
		"empty":        {Channel: "webchat", ConversationKey: "k", DedupeKey: "d"},
		"control char": {Channel: "webchat", ConversationKey: "k\n", DedupeKey: "d", Text: "x"},
		"too long":     {Channel: "webchat", ConversationKey: "k", DedupeKey: "d", Text: strings.Repeat("a", conversation.MaxTextLen+1)},
		"bad utf8":     {Channel: "webchat", ConversationKey: "k", DedupeKey: "d", Text: "\xff"},
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := e.Handle(context.Background(), m)
			if got := conversation.ErrorCode(err); got != conversation.Invalid {
				t.Errorf("code = %q (err %v), want invalid", got, err)
			}
		})
	}
}

func TestEngineHandsFrustratedCustomersToAPerson(t *testing.T) {
	s := stores()["bolt"](t)
	e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{Sentiment: handoff.NewLexiconScorer()})
	ctx := context.Background()
	steps := []struct {
		text      string
		wantPhase conversation.Phase
		wantKind  conversation.OutboundKind
	}{
		{"How do I reset my password?", conversation.PhaseBot, conversation.KindAnswer},
		{"This is the third time I ask, your bot is useless!!!", conversation.PhaseAwaitingAgent, conversation.KindHandoff},
	}
	for i, st := range steps {
		res, err := e.Handle(ctx, msg("webchat:f", fmt.Sprint("m", i), st.text))
		if err != nil {
			t.Fatal(err)
		}
		if res.Phase != st.wantPhase || len(res.Outbound) == 0 || res.Outbound[0].Kind != st.wantKind {
			t.Fatalf("%q: phase %s, outbound %+v; want %s and a %s reply", st.text, res.Phase, res.Outbound, st.wantPhase, st.wantKind)
		}
	}
	c, err := s.Load(ctx, "webchat:f")
	if err != nil {
		t.Fatal(err)
	}
	if calm, angry := c.History[0].Sentiment, c.History[2].Sentiment; calm != 0 || angry >= -0.5 {
		t.Errorf("stored sentiment: calm question %.2f, angry one %.2f; want 0 and clearly negative", calm, angry)
	}
	evs, err := s.Events(ctx, "webchat:f", 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.Type == conversation.EventHandoff && ev.Data["reason"] == "frustration" {
			found = true
		}
	}
	if !found {
		t.Errorf("no handoff event with reason frustration in %+v", evs)
	}
}
