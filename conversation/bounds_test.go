package conversation_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// TestFinishedConversationsLeaveNothingBehind runs many conversations of
// several turns each from concurrent goroutines, with one duplicate
// delivery per conversation, and checks that once every reply is
// delivered the engine's key locks and the dispatcher's maps are empty and
// no goroutine per conversation is left: what an idle conversation costs
// in memory is its stored state, nothing in the process.
func TestFinishedConversationsLeaveNothingBehind(t *testing.T) {
	const conversations, turns = 100, 3
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			snd := &recordingSender{}
			d := runDispatcher(t, s, conversation.DispatcherConfig{}, snd)
			// All turns arrive at once: admission control (tested on its
			// own) would refuse some, and every turn must run here.
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{Admission: conversation.AdmissionConfig{Budget: -1}})
			e.DeliverWith(d)
			// One turn first, so the dispatcher's workers are all running
			// before the goroutines are counted.
			if _, err := e.Handle(context.Background(), msg("webchat:warm-up", "warm-up", "password")); err != nil {
				t.Fatalf("handle: %v", err)
			}
			waitFor(t, "the warm-up reply", func() bool { return len(snd.delivered()) == 1 })
			before := runtime.NumGoroutine()
			var wg sync.WaitGroup
			errs := make(chan error, conversations*(turns+1))
			for c := range conversations {
				wg.Go(func() {
					key := fmt.Sprintf("webchat:bounds-%d", c)
					for i := range turns {
						m := msg(key, fmt.Sprintf("%s:%d", key, i), fmt.Sprintf("password question %d", i))
						if _, err := e.Handle(context.Background(), m); err != nil {
							errs <- err
						}
						if i == 0 { // a platform retry
							if _, err := e.Handle(context.Background(), m); err != nil {
								errs <- err
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("handle: %v", err)
			}
			waitFor(t, "every reply delivered", func() bool { return len(snd.delivered()) == 1+conversations*turns })
			waitFor(t, "the dispatcher's entries to go", func() bool { return conversation.DispatcherEntries(d) == 0 })
			if got := conversation.HeldKeyLocks(e); got != 0 {
				t.Errorf("key locks held after every turn finished: %d, want 0", got)
			}
			if got := len(snd.delivered()); got != 1+conversations*turns {
				t.Errorf("delivered %d replies, want %d (one per message, the retry answered once)", got, 1+conversations*turns)
			}
			// Goroutines that outlive a turn would number in the
			// hundreds; a few may belong to the store's client pool, and
			// the last workers may still be returning.
			deadline := time.Now().Add(10 * time.Second)
			for runtime.NumGoroutine() > before+10 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if after := runtime.NumGoroutine(); after > before+10 {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d before the conversations, %d after: some outlive their turn:\n%s", before, after, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestHistoryIsCapped checks that a conversation's stored history keeps
// only the newest MaxHistory turns, however long it runs.
func TestHistoryIsCapped(t *testing.T) {
	const maxHistory, messages = 6, 20
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			e := newEngine(t, s, &keywordKnowledge{}, conversation.EngineConfig{MaxHistory: maxHistory})
			const key = "webchat:long"
			for i := range messages {
				if _, err := e.Handle(context.Background(), msg(key, fmt.Sprint("m", i), fmt.Sprintf("password question %d", i))); err != nil {
					t.Fatalf("handle %d: %v", i, err)
				}
			}
			c, err := s.Load(context.Background(), key)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(c.History) != maxHistory {
				t.Fatalf("history holds %d turns after %d messages, want the cap %d", len(c.History), messages, maxHistory)
			}
			if got, want := c.LastCustomerText(), fmt.Sprintf("password question %d", messages-1); got != want {
				t.Errorf("newest customer turn %q, want %q", got, want)
			}
			if c.Turns != messages {
				t.Errorf("turn counter %d, want %d (it counts all time, the history is what is capped)", c.Turns, messages)
			}
		})
	}
}
