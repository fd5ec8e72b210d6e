package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

const consolePass = "correct horse battery"

// analyticsReport is the part of GET /console/api/analytics the tests read.
type analyticsReport struct {
	Totals struct {
		Conversations int64 `json:"conversations"`
		Answered      int64 `json:"answered"`
		Handoffs      int64 `json:"handoffs"`
	} `json:"totals"`
	HandoffReasons []struct {
		Label string `json:"label"`
		Count int64  `json:"count"`
	} `json:"handoff_reasons"`
}

// The engine's events reach the analytics (on the bolt store) and the
// console's live stream; the report needs a session; the recorder's last
// counts are flushed when the server closes.
func TestServeAnalytics(t *testing.T) {
	m, _ := startMain(t, t.TempDir(), map[string]string{"TIER0_CONSOLE_PASSWORD": consolePass})
	agent := consoleLogin(t, m, "admin", consolePass)
	changes := openConsoleStream(t, agent)

	v := newVisitor(t, m)
	ev := v.events(t)
	askPassword(t, m, v, ev, "a-1")
	v.say(t, humanQ, "a-2")
	if got := ev.next(t); got.Kind != "handoff" {
		t.Fatalf("reply to %q: %+v, want the handoff", humanQ, got)
	}
	waitChange(t, changes)

	var rep analyticsReport
	agent.do(t, http.MethodGet, "/console/api/analytics?days=7", nil, http.StatusOK, &rep)
	if rep.Totals.Conversations != 1 || rep.Totals.Answered != 1 || rep.Totals.Handoffs != 1 ||
		len(rep.HandoffReasons) != 1 || rep.HandoffReasons[0].Label != "customer_request" {
		t.Errorf("analytics = %+v, want 1 conversation, 1 answer, 1 handoff (customer_request)", rep)
	}
	anonymous := &consoleClient{base: baseURL(m), http: http.DefaultClient}
	anonymous.do(t, http.MethodGet, "/console/api/analytics?days=7", nil, http.StatusUnauthorized, nil)

	// Counts recorded after the last report reach the store on Close.
	v.say(t, "are you there?", "a-3")
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err := boltstore.Open(m.Config.Store.Path, boltstore.Config{})
	if err != nil {
		t.Fatalf("reopen the store: %v", err)
	}
	defer s.Close()
	today := analytics.DayOf(time.Now())
	days, err := s.Stats(context.Background(), analytics.DayOf(time.Now().AddDate(0, 0, -1)), today)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	var messages int64
	for _, d := range days {
		messages += d.Counters[analytics.Messages]
	}
	if messages != 3 {
		t.Errorf("messages stored after Close = %d, want 3 (the last one flushed on shutdown)", messages)
	}
}

// Two replicas on one Redis share the figures, and a handoff taken by one
// replica reaches a console stream held by the other.
func TestServeAnalyticsAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	env := map[string]string{"TIER0_REDIS_ADDR": srv.Addr(), "TIER0_WEBCHAT_SECRET": strings.Repeat("s", 40),
		"TIER0_CONSOLE_PASSWORD": consolePass, "TIER0_CONSOLE_SECRET": strings.Repeat("c", 40)}
	a, _ := startMain(t, t.TempDir(), env)
	b, _ := startMain(t, t.TempDir(), env)
	onB := consoleLogin(t, b, "admin", consolePass)
	changes := openConsoleStream(t, onB)

	v := newVisitor(t, a)
	ev := v.events(t)
	v.say(t, humanQ, "r-1")
	if got := ev.next(t); got.Kind != "handoff" {
		t.Fatalf("reply on A: %+v, want the handoff", got)
	}
	waitChange(t, changes)

	// A flushes its counts on its own (every 2 s); B reads them.
	deadline := time.Now().Add(waitLimit)
	for {
		var rep analyticsReport
		onB.do(t, http.MethodGet, "/console/api/analytics?days=1", nil, http.StatusOK, &rep)
		if rep.Totals.Conversations == 1 && rep.Totals.Handoffs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B's analytics = %+v after %s, want A's conversation and handoff", rep, waitLimit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openConsoleStream opens the console's live stream as c and returns its
// "changed" events; it is closed when the test ends.
func openConsoleStream(tb testing.TB, c *consoleClient) <-chan string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/console/api/stream", nil)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("open console stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		tb.Fatalf("console stream: status %d, want 200", resp.StatusCode)
	}
	out := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		changed := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: changed":
				changed = true
			case changed && strings.HasPrefix(line, "data:"):
				changed = false
				select {
				case out <- strings.TrimSpace(strings.TrimPrefix(line, "data:")):
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
	return out
}

// waitChange waits for a "changed" event that says the queue changed.
func waitChange(tb testing.TB, changes <-chan string) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case data, ok := <-changes:
			if !ok {
				tb.Fatal("the console stream ended before the change came")
			}
			if strings.Contains(data, `"queue":true`) {
				return
			}
		case <-deadline:
			tb.Fatalf("no change on the console stream within %s", waitLimit)
		}
	}
}
