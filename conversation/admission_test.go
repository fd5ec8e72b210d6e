package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Past its latency budget the engine refuses new customer turns at once
// with ErrOverloaded (code Unavailable, with a Retry-After delay) instead
// of queueing them; the turns in flight finish, and afterwards new ones
// are admitted again. Load reports what the gauges show.
func TestEngineAdmissionRefusesPastTheBudget(t *testing.T) {
	tests := []struct {
		name        string
		admission   conversation.AdmissionConfig
		wantRefusal bool
	}{
		{name: "limit reached", admission: conversation.AdmissionConfig{MinInFlight: 2}, wantRefusal: true},
		{name: "admission control off", admission: conversation.AdmissionConfig{Budget: -1, MinInFlight: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stores()["bolt"](t)
			k := &keywordKnowledge{block: make(chan struct{})}
			e := newEngine(t, s, k, conversation.EngineConfig{Admission: tt.admission})
			ctx := context.Background()
			errs := make(chan error, 2)
			for i := range 2 {
				go func() {
					_, err := e.Handle(ctx, msg(fmt.Sprintf("webchat:busy%d", i), "m1", "password please"))
					errs <- err
				}()
			}
			deadline := time.Now().Add(10 * time.Second)
			for k.calls.Load() < 2 {
				if time.Now().After(deadline) {
					t.Fatal("the two slow turns did not start")
				}
				time.Sleep(time.Millisecond)
			}
			l := e.Load()
			if l.InFlight != 2 || l.OldestTurn <= 0 {
				t.Errorf("Load = %+v, want 2 in flight with an age", l)
			}
			third := make(chan error, 1)
			go func() {
				_, err := e.Handle(ctx, msg("webchat:third", "m1", "password please"))
				third <- err
			}()
			if tt.wantRefusal {
				err := <-third
				if !errors.Is(err, conversation.ErrOverloaded) || conversation.ErrorCode(err) != conversation.Unavailable {
					t.Fatalf("third turn: %v, want ErrOverloaded (Unavailable)", err)
				}
				if ra := conversation.RetryAfter(err); ra < time.Second {
					t.Errorf("RetryAfter = %s, want at least 1s", ra)
				}
				if got := e.Load(); got.Refused != 1 || got.Limit != 2 {
					t.Errorf("Load = %+v, want 1 refused, limit 2", got)
				}
				if _, err := s.Load(ctx, "webchat:third"); conversation.ErrorCode(err) != conversation.NotFound {
					t.Errorf("refused turn left state behind: %v", err)
				}
			}
			close(k.block)
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("slow turn: %v", err)
				}
			}
			if !tt.wantRefusal {
				if err := <-third; err != nil {
					t.Fatalf("third turn without admission control: %v", err)
				}
			}
			if _, err := e.Handle(ctx, msg("webchat:third", "m2", "password please")); err != nil {
				t.Fatalf("turn after the load went down: %v", err)
			}
			if l := e.Load(); l.InFlight != 0 || l.OldestTurn != 0 {
				t.Errorf("Load after the turns = %+v, want none in flight", l)
			}
		})
	}
}
