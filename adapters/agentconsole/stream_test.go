package agentconsole_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/agentconsole"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// waitLimit bounds every wait for something that should happen; it is a
// safety net, not a speed assertion.
const waitLimit = 10 * time.Second

// sseEvent is one server-sent event; comments come as name "comment".
type sseEvent struct{ name, data string }

// changed is the data of a "changed" event.
type changed struct {
	Queue   bool     `json:"queue"`
	Tickets []string `json:"tickets"`
}

// liveStream is an open GET /console/api/stream.
type liveStream struct {
	events chan sseEvent // closed when the stream ends
	cancel context.CancelFunc
}

// openStream opens the live stream as a and fails the test unless the
// answer is want; with 200 it returns the stream, closed when the test
// ends.
func (h *harness) openStream(tb testing.TB, a *agent, want int) *liveStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/console/api/stream", nil)
	if err != nil {
		cancel()
		tb.Fatalf("new request: %v", err)
	}
	if a != nil {
		req.AddCookie(a.cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("open stream: %v", err)
	}
	if resp.StatusCode != want {
		resp.Body.Close()
		cancel()
		tb.Fatalf("open stream: status %d, want %d", resp.StatusCode, want)
	}
	if want != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		tb.Errorf("stream Content-Type = %q, want text/event-stream", ct)
	}
	s := &liveStream{events: make(chan sseEvent, 64), cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			var ev *sseEvent
			switch {
			case strings.HasPrefix(line, ":"):
				ev = &sseEvent{name: "comment", data: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimSpace(line[len("event:"):])
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimSpace(line[len("data:"):])
			case line == "" && name != "":
				ev = &sseEvent{name: name, data: data}
				name, data = "", ""
			}
			if ev != nil {
				select {
				case s.events <- *ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// next returns the next event named name (skipping others); ok is false
// when the stream ended first.
func (s *liveStream) next(tb testing.TB, name string) (sseEvent, bool) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return sseEvent{}, false
			}
			if ev.name == name {
				return ev, true
			}
		case <-deadline:
			tb.Fatalf("no %q event on the stream within %s", name, waitLimit)
		}
	}
}

// untilTicket waits for a "changed" event naming tag.
func (s *liveStream) untilTicket(tb testing.TB, tag string) changed {
	tb.Helper()
	for {
		ev, ok := s.next(tb, "changed")
		if !ok {
			tb.Fatal("the stream ended before the change came")
		}
		var c changed
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			tb.Fatalf("changed event %q: %v", ev.data, err)
		}
		if slices.Contains(c.Tickets, tag) {
			return c
		}
	}
}

// ended waits for the stream to end.
func (s *liveStream) ended(tb testing.TB) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			tb.Fatalf("the stream did not end within %s", waitLimit)
		}
	}
}

// tagOf returns the stream tag of key's ticket.
func (h *harness) tagOf(tb testing.TB, a *agent, key string) string {
	tb.Helper()
	res := h.do(tb, a, http.MethodGet, ticketPath(key)+"?suggest=0", nil)
	var d struct {
		Tag string `json:"tag"`
	}
	res.decode(tb, &d)
	if res.status != http.StatusOK || d.Tag == "" {
		tb.Fatalf("ticket %s: %d %s, want a tag", key, res.status, res.body)
	}
	return d.Tag
}

// A handoff on this replica reaches a connected console stream, naming
// the ticket by its tag and never by conversation key; so do agent
// actions and customer messages relayed to the ticket.
func TestStreamTellsAboutANewHandoff(t *testing.T) {
	h := newHarness(t, func(c *agentconsole.Config) { c.QueueCheckInterval = -1 })
	ada := h.login(t, "ada", "correct horse")
	s := h.openStream(t, ada, http.StatusOK)
	if ev, ok := s.next(t, "comment"); !ok || ev.data != "connected" {
		t.Fatalf("first line %+v, want the connected comment", ev)
	}
	h.handOff(t)
	tag := h.tagOf(t, ada, customerKey)
	if c := s.untilTicket(t, tag); !c.Queue {
		t.Errorf("handoff event %+v, want queue true", c)
	}

	h.actOK(t, ada, "claim", "", "claim-1")
	s.untilTicket(t, tag)
	h.customerSays(t, "m3", "are you there?")
	ev := s.untilTicket(t, tag)
	raw, _ := json.Marshal(ev)
	if strings.Contains(string(raw), "CUSTOMER1") {
		t.Errorf("stream event %s shows the conversation key", raw)
	}
}

// countingQueue is the store as the console's queue, counting its reads;
// with versionErr set, every QueueVersion fails with it.
type countingQueue struct {
	agentconsole.Queue
	store      conversation.QueueVersioner
	versionErr error

	tickets, versions atomic.Int64
}

func (q *countingQueue) Tickets(ctx context.Context, tq conversation.TicketQuery) ([]conversation.TicketSummary, error) {
	q.tickets.Add(1)
	return q.Queue.Tickets(ctx, tq)
}

func (q *countingQueue) QueueVersion(ctx context.Context) (uint64, error) {
	q.versions.Add(1)
	if q.versionErr != nil {
		return 0, q.versionErr
	}
	return q.store.QueueVersion(ctx)
}

var _ conversation.QueueVersioner = (*countingQueue)(nil)

// countReads wraps the store in a countingQueue, stored in *q.
func countReads(q **countingQueue, versionErr error) func(agentconsole.Queue) agentconsole.Queue {
	return func(s agentconsole.Queue) agentconsole.Queue {
		*q = &countingQueue{Queue: s, store: s.(conversation.QueueVersioner), versionErr: versionErr}
		return *q
	}
}

// The harness's store has queue versions, so the console uses them.
var _ conversation.QueueVersioner = (*boltstore.Store)(nil)

// plainQueue hides the store's QueueVersion: a queue without versions.
type plainQueue struct{ agentconsole.Queue }

// otherReplica returns an engine on the harness's store whose events
// the console never sees, as on another replica.
func otherReplica(tb testing.TB, h *harness) *conversation.Engine {
	tb.Helper()
	desk, err := handoff.NewDesk(h.store, handoff.Config{TicketPrefix: "IT", Team: "Support"})
	if err != nil {
		tb.Fatalf("new desk: %v", err)
	}
	return conversation.NewEngine(h.store, knowledgeDouble{}, desk, conversation.EngineConfig{Logger: discard()})
}

// remoteNote writes an internal note on customerKey's ticket through
// engine.
func remoteNote(tb testing.TB, engine *conversation.Engine, id string) {
	tb.Helper()
	_, err := engine.Act(context.Background(), conversation.AgentAction{ConversationKey: customerKey, DedupeKey: id,
		Agent: conversation.Identity{ID: "bob"}, Kind: conversation.AgentNote, Text: "seen on replica B"})
	if err != nil {
		tb.Fatalf("note on the other replica: %v", err)
	}
}

// waitFor waits until cond holds, failing the test after waitLimit.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, waitLimit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A change made on another replica (an engine whose events this console
// never sees) reaches the stream through the queue check: by the queue
// version when the store has one, by comparing the queue when it has
// none or its version cannot be read.
func TestStreamNoticesOtherReplicas(t *testing.T) {
	var failing *countingQueue
	cases := []struct {
		name string
		wrap func(agentconsole.Queue) agentconsole.Queue
	}{
		{"Version", nil}, // the bolt store is a QueueVersioner (checked below)
		{"Fingerprint", func(s agentconsole.Queue) agentconsole.Queue { return plainQueue{s} }},
		{"VersionFailing", countReads(&failing, conversation.Errorf(conversation.Unavailable, "version down"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessQueue(t, tc.wrap, func(c *agentconsole.Config) { c.QueueCheckInterval = 20 * time.Millisecond })
			h.handOff(t)
			ada := h.login(t, "ada", "correct horse")
			tag := h.tagOf(t, ada, customerKey)
			other := otherReplica(t, h)
			s := h.openStream(t, ada, http.StatusOK)

			// The other replica writes notes until the stream reports one: the
			// first look at the queue only takes note of how it is.
			deadline := time.Now().Add(waitLimit)
			for i := 0; ; i++ {
				remoteNote(t, other, fmt.Sprintf("remote-%d", i))
				wait := time.After(50 * time.Millisecond)
			drain:
				for {
					select {
					case ev, ok := <-s.events:
						if !ok {
							t.Fatal("the stream ended")
						}
						var c changed
						if ev.name == "changed" && json.Unmarshal([]byte(ev.data), &c) == nil && slices.Contains(c.Tickets, tag) {
							if !c.Queue {
								t.Errorf("remote change %+v, want queue true", c)
							}
							return
						}
					case <-wait:
						break drain
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no change reported within %s of notes on another replica", waitLimit)
				}
			}
		})
	}
	if failing == nil || failing.versions.Load() == 0 {
		t.Errorf("VersionFailing: the failing QueueVersion was never asked")
	}
}

// With a queue version, the queue check reads only the version while
// nothing changes; when another replica changes a ticket it reads the
// queue, names the ticket on the stream, reads the queue once more at
// the next check to confirm, and then goes back to the version alone.
func TestStreamReadsQueueOnlyWhenVersionMoves(t *testing.T) {
	var q *countingQueue
	h := newHarnessQueue(t, countReads(&q, nil), func(c *agentconsole.Config) { c.QueueCheckInterval = 10 * time.Millisecond })
	h.handOff(t)
	ada := h.login(t, "ada", "correct horse")
	tag := h.tagOf(t, ada, customerKey)
	other := otherReplica(t, h)

	s := h.openStream(t, ada, http.StatusOK)
	base := q.tickets.Load()
	if base < 1 {
		t.Fatalf("opening the stream read the queue %d times, want a first look", base)
	}
	// checks ends when n more checks than now have asked for the version.
	checks := func(n int64) {
		t.Helper()
		from := q.versions.Load()
		waitFor(t, fmt.Sprintf("%d queue checks", n), func() bool { return q.versions.Load() >= from+n })
	}
	checks(3)
	if got := q.tickets.Load(); got != base {
		t.Fatalf("quiet queue: %d queue reads after the first look, want none", got-base)
	}

	remoteNote(t, other, "remote-1")
	if c := s.untilTicket(t, tag); !c.Queue {
		t.Errorf("remote change %+v, want queue true", c)
	}
	checks(3)
	if got := q.tickets.Load(); got != base+2 {
		t.Fatalf("after one remote change: %d queue reads, want 2 (when the version moved, and once more to confirm)", got-base)
	}
	checks(3)
	if got := q.tickets.Load(); got != base+2 {
		t.Fatalf("quiet again: %d queue reads after the change, want still 2", got-base)
	}
}

func TestStreamLimitsAndHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *agentconsole.Config) {
		c.MaxStreamsPerAgent = 2
		c.StreamHeartbeat = 20 * time.Millisecond
	})
	ada := h.login(t, "ada", "correct horse")
	first := h.openStream(t, ada, http.StatusOK)
	h.openStream(t, ada, http.StatusOK)
	h.openStream(t, ada, http.StatusTooManyRequests)
	sam := h.login(t, "sam", "sales pass")
	h.openStream(t, sam, http.StatusOK)

	for {
		ev, ok := first.next(t, "comment")
		if !ok {
			t.Fatal("stream ended before a heartbeat")
		}
		if ev.data == "ping" {
			break
		}
	}
	// Closing a tab frees its place.
	first.cancel()
	deadline := time.Now().Add(waitLimit)
	for {
		res, err := func() (int, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/console/api/stream", nil)
			req.AddCookie(ada.cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}()
		if err != nil {
			t.Fatalf("open stream: %v", err)
		}
		if res == http.StatusOK {
			break
		}
		if res != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after closing a stream: status %d, want 200 within %s", res, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An expired session ends the stream with a logout event; Close ends
// every stream and refuses new ones.
func TestStreamEnds(t *testing.T) {
	h := newHarness(t, func(c *agentconsole.Config) { c.StreamHeartbeat = 20 * time.Millisecond })
	ada := h.login(t, "ada", "correct horse")
	s := h.openStream(t, ada, http.StatusOK)
	h.clock.Advance(12*time.Hour + time.Second)
	if _, ok := s.next(t, "logout"); !ok {
		t.Fatal("the stream ended without a logout event")
	}
	s.ended(t)

	h.clock.Advance(-12*time.Hour - time.Second)
	s2 := h.openStream(t, ada, http.StatusOK)
	if err := h.console.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2.ended(t)
	h.openStream(t, ada, http.StatusServiceUnavailable)
}
