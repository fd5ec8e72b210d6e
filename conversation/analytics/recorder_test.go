package analytics_test

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
)

// memStore is an in-memory analytics.Store; fail, when set, makes
// AddStats fail with it, and block, when set, makes AddStats wait for it
// to close.
type memStore struct {
	mu    sync.Mutex
	days  map[string]*analytics.DayStats
	adds  int
	fail  error
	block chan struct{}
}

func newMemStore() *memStore { return &memStore{days: make(map[string]*analytics.DayStats)} }

func (m *memStore) AddStats(ctx context.Context, day string, counters, questions map[string]int64) error {
	if err := analytics.CheckStats(day, counters, questions); err != nil {
		return err
	}
	m.mu.Lock()
	block, fail := m.block, m.fail
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return conversation.Errorf(conversation.Unavailable, "blocked: %w", ctx.Err())
		}
	}
	if fail != nil {
		return fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.adds++
	d := m.days[day]
	if d == nil {
		d = &analytics.DayStats{Day: day, Counters: map[string]int64{}, Questions: map[string]int64{}}
		m.days[day] = d
	}
	for k, v := range counters {
		d.Counters[k] += v
	}
	for k, v := range questions {
		d.Questions[k] += v
	}
	return nil
}

func (m *memStore) Stats(_ context.Context, from, to string) ([]analytics.DayStats, error) {
	if _, _, err := analytics.CheckRange(from, to); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []analytics.DayStats
	for _, day := range slices.Sorted(maps.Keys(m.days)) {
		if day >= from && day <= to {
			d := m.days[day]
			out = append(out, analytics.DayStats{Day: day, Counters: maps.Clone(d.Counters), Questions: maps.Clone(d.Questions)})
		}
	}
	return out, nil
}

func (m *memStore) counter(day, name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.days[day]; d != nil {
		return d.Counters[name]
	}
	return 0
}

func (m *memStore) set(fail error, block chan struct{}) {
	m.mu.Lock()
	m.fail, m.block = fail, block
	m.mu.Unlock()
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newRecorder returns a recorder over store that flushes only when told
// (a long interval), closed when the test ends.
func newRecorder(tb testing.TB, store analytics.Store, now func() time.Time) *analytics.Recorder {
	tb.Helper()
	r, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: time.Hour, Now: now, Logger: discard()})
	if err != nil {
		tb.Fatalf("NewRecorder: %v", err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}

var today = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// ev builds an event at today+offset with attributes kv.
func ev(typ conversation.EventType, offset time.Duration, kv ...string) conversation.Event {
	e := conversation.Event{Type: typ, ConversationKey: "webchat:x", At: today.Add(offset)}
	if len(kv) > 0 {
		e.Data = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Data[kv[i]] = kv[i+1]
		}
	}
	return e
}

const (
	msg      = conversation.EventMessageReceived
	answered = conversation.EventAnswered
	notSure  = conversation.EventNotSure
	handOff  = conversation.EventHandoff
	feedback = conversation.EventFeedback
	csat     = conversation.EventCSAT
	agent    = conversation.EventAgent
	breach   = conversation.EventSLABreached
)

func TestRecorderFigures(t *testing.T) {
	tests := []struct {
		name   string
		events []conversation.Event
		check  func(t *testing.T, r analytics.Report)
	}{
		{
			name: "helpful click confirms the answer",
			events: []conversation.Event{
				ev(msg, 0, "channel", "webchat", "new", "1"), ev(answered, 0),
				ev(msg, time.Minute, "channel", "webchat"), ev(feedback, time.Minute, "value", "helpful", "answer_open", "1"),
			},
			check: func(t *testing.T, r analytics.Report) {
				want := analytics.Figures{Conversations: 1, Messages: 2, Answered: 1, AnswersConfirmed: 1, ConfirmedResolved: 1, DeflectionRate: 1}
				if got := r.Totals; got != want {
					t.Errorf("totals = %+v, want %+v", got, want)
				}
				if len(r.Channels) != 1 || r.Channels[0] != (analytics.Count{Label: "webchat", Count: 1}) {
					t.Errorf("channels = %+v, want webchat 1", r.Channels)
				}
			},
		},
		{
			name: "answers without a verdict are assumed to resolve",
			events: []conversation.Event{
				ev(msg, 0, "new", "1"), ev(answered, 0), ev(msg, 0), ev(answered, 0),
				// A second helpful click on a settled answer confirms nothing.
				ev(feedback, 0, "value", "helpful", "answer_open", "0"),
			},
			check: func(t *testing.T, r analytics.Report) {
				if f := r.Totals; f.AnswersAssumed != 2 || f.AssumedResolved != 2 || f.AnswersConfirmed != 0 || f.DeflectionRate != 1 {
					t.Errorf("totals = %+v, want 2 assumed, none confirmed, deflection 1", f)
				}
			},
		},
		{
			name: "not helpful then a handoff rejects the answer once",
			events: []conversation.Event{
				ev(msg, 0, "new", "1"), ev(answered, 0),
				ev(feedback, 0, "value", "not_helpful", "answer_open", "1"),
				ev(handOff, 0, "reason", "not_helpful", "answer_open", "0"),
			},
			check: func(t *testing.T, r analytics.Report) {
				f := r.Totals
				if f.AnswersRejected != 1 || f.AnswersAssumed != 0 || f.Handoffs != 1 || f.DeflectionRate != 0 {
					t.Errorf("totals = %+v, want 1 rejected, 0 assumed, 1 handoff, deflection 0", f)
				}
				if want := []analytics.Count{{Label: "not_helpful", Count: 1}}; !slices.Equal(r.HandoffReasons, want) {
					t.Errorf("handoff reasons = %+v, want %+v", r.HandoffReasons, want)
				}
			},
		},
		{
			name: "handoffs by reason, largest first",
			events: []conversation.Event{
				ev(answered, 0), ev(handOff, 0, "reason", "customer_request", "answer_open", "1"),
				ev(handOff, 0, "reason", "frustration"), ev(handOff, 0, "reason", "customer_request"),
				ev(handOff, 0, "reason", "consulting_cap"), ev(answered, 0), ev(answered, 0),
			},
			check: func(t *testing.T, r analytics.Report) {
				want := []analytics.Count{{"customer_request", 2}, {"consulting_cap", 1}, {"frustration", 1}}
				if !slices.Equal(r.HandoffReasons, want) {
					t.Errorf("handoff reasons = %+v, want %+v", r.HandoffReasons, want)
				}
				// 3 answers: 1 rejected by the handoff, 2 assumed; 4 handoffs.
				if f := r.Totals; f.AnswersRejected != 1 || f.AnswersAssumed != 2 || f.DeflectionRate != 2.0/6 {
					t.Errorf("totals = %+v, want 1 rejected, 2 assumed, deflection 2/6", f)
				}
			},
		},
		{
			name: "CSAT counts the first rating of a ticket",
			events: []conversation.Event{
				ev(csat, 0, "score", "5", "repeat", "0"), ev(csat, 0, "score", "2"), ev(csat, 0, "score", "4", "repeat", "1"),
				ev(csat, 0, "score", "9"), ev(csat, 0, "score", "x"),
			},
			check: func(t *testing.T, r analytics.Report) {
				want := analytics.CSAT{Scores: [5]int64{0, 1, 0, 0, 1}, Count: 2, Average: 3.5}
				if r.CSAT != want {
					t.Errorf("csat = %+v, want %+v", r.CSAT, want)
				}
				if r.Totals.CSATConfirmed != 1 || r.Totals.ConfirmedResolved != 1 {
					t.Errorf("totals = %+v, want 1 ticket confirmed by CSAT", r.Totals)
				}
			},
		},
		{
			name: "first reply and resolution times",
			events: []conversation.Event{
				ev(agent, 0, "action", "reply", "first_reply_s", "45"),
				ev(agent, 0, "action", "reply", "first_reply_s", "400"),
				ev(agent, 0, "action", "reply", "first_reply_s", "700"),
				ev(agent, 0, "action", "reply", "first_reply_s", "100000"),
				ev(agent, 0, "action", "reply"), // not a first reply
				ev(agent, 0, "action", "resolve", "resolution_s", "7200"),
				ev(agent, 0, "action", "hand_back"), ev(agent, 0, "action", "escalate"),
			},
			check: func(t *testing.T, r analytics.Report) {
				h := r.FirstReply
				if h.Count != 4 || h.SumSeconds != 101145 || h.AverageSeconds != 101145.0/4 || h.Median != "≤ 15 min" {
					t.Errorf("first reply = count %d sum %d avg %g median %q, want 4, 101145, 25286.25, ≤ 15 min", h.Count, h.SumSeconds, h.AverageSeconds, h.Median)
				}
				byLabel := map[string]int64{}
				for _, b := range h.Buckets {
					byLabel[b.Label] = b.Count
				}
				if byLabel["≤ 1 min"] != 1 || byLabel["≤ 15 min"] != 2 || byLabel["≤ 3 d"] != 1 || len(h.Buckets) != len(analytics.DurationBuckets)+1 {
					t.Errorf("first reply buckets = %+v", h.Buckets)
				}
				if r.Resolution.Count != 1 || r.Resolution.Median != "≤ 2 h" || r.Totals.TicketsResolved != 1 {
					t.Errorf("resolution = %+v, tickets resolved %d; want one in ≤ 2 h", r.Resolution, r.Totals.TicketsResolved)
				}
			},
		},
		{
			name:   "SLA breaches by clock",
			events: []conversation.Event{ev(breach, 0, "clock", "first_response"), ev(breach, 0, "clock", "resolution"), ev(breach, 0, "clock", "first_response")},
			check: func(t *testing.T, r analytics.Report) {
				if want := []analytics.Count{{"first_response", 2}, {"resolution", 1}}; !slices.Equal(r.SLABreaches, want) {
					t.Errorf("SLA breaches = %+v, want %+v", r.SLABreaches, want)
				}
			},
		},
		{
			name: "hostile attributes never become labels",
			events: []conversation.Event{
				ev(handOff, 0, "reason", "<script>alert(1)</script>"), ev(handOff, 0), ev(handOff, 0, "reason", strings.Repeat("x", 500)),
				ev(agent, 0, "action", "reply", "first_reply_s", "-5"), ev(agent, 0, "action", "reply", "first_reply_s", "soon"),
				{Type: "unknown_event"}, {Type: conversation.EventNotSure, Data: map[string]string{"question": "\x00\x01 ?!"}},
			},
			check: func(t *testing.T, r analytics.Report) {
				if want := []analytics.Count{{"other", 2}, {"none", 1}}; !slices.Equal(r.HandoffReasons, want) {
					t.Errorf("handoff reasons = %+v, want %+v", r.HandoffReasons, want)
				}
				if r.FirstReply.Count != 0 || len(r.KnowledgeGaps) != 0 || r.Totals.NotSure != 1 {
					t.Errorf("first reply %+v, gaps %+v, not sure %d: want malformed values ignored", r.FirstReply, r.KnowledgeGaps, r.Totals.NotSure)
				}
			},
		},
		{
			name: "events count on their UTC day",
			events: []conversation.Event{
				ev(msg, -24*time.Hour, "new", "1"), ev(msg, -24*time.Hour), ev(msg, 0, "new", "1"),
				ev(answered, -24*time.Hour), ev(handOff, 0, "reason", "frustration"),
			},
			check: func(t *testing.T, r analytics.Report) {
				if len(r.Days) != 7 || r.Days[5].Day != "2025-03-09" || r.Days[6].Day != "2025-03-10" {
					t.Fatalf("days = %+v, want 7 ending 2025-03-09, 2025-03-10", r.Days)
				}
				if y, d := r.Days[5], r.Days[6]; y.Conversations != 1 || y.Messages != 2 || y.Answered != 1 || d.Conversations != 1 || d.Handoffs != 1 || r.Days[0].Messages != 0 {
					t.Errorf("yesterday %+v, today %+v", y, d)
				}
				if r.From != "2025-03-04" || r.To != "2025-03-10" || r.Totals.Conversations != 2 {
					t.Errorf("range %s..%s totals %+v, want 2025-03-04..2025-03-10 with 2 conversations", r.From, r.To, r.Totals)
				}
			},
		},
		{
			name: "unanswered questions become knowledge gaps",
			events: []conversation.Event{
				ev(notSure, 0, "reason", "low_score", "question", "How do I book a MEETING room?"),
				ev(notSure, 0, "reason", "low_score", "question", "meeting rooms on floor 3"),
				ev(notSure, 0, "reason", "consulting_cap", "question", "how do I book a meeting room"),
				ev(notSure, 0, "reason", "no_knowledge", "question", "parking permit for visitors"),
				ev(notSure, 0, "reason", "knowledge_error"),
			},
			check: func(t *testing.T, r analytics.Report) {
				if len(r.KnowledgeGaps) != 2 || r.KnowledgeGaps[1].Label != "parking permit visitor" {
					t.Fatalf("gaps = %+v, want 2", r.KnowledgeGaps)
				}
				g := r.KnowledgeGaps[0]
				if g.Count != 3 || g.Label != "meeting room" || g.Examples[0] != "how do i book a meeting room" || len(g.Examples) != 2 {
					t.Errorf("first gap = %+v, want 3× meeting room, the booking question first", g)
				}
				if want := []analytics.Count{{"low_score", 2}, {"consulting_cap", 1}, {"knowledge_error", 1}, {"no_knowledge", 1}}; !slices.Equal(r.NotSureReasons, want) {
					t.Errorf("not sure reasons = %+v, want %+v", r.NotSureReasons, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			r := newRecorder(t, store, func() time.Time { return today })
			r.Record(tt.events)
			rep, err := r.Report(context.Background(), 7)
			if err != nil {
				t.Fatalf("Report: %v", err)
			}
			tt.check(t, rep)
		})
	}
}

func TestRecorderRetriesFailedFlush(t *testing.T) {
	store := newMemStore()
	r := newRecorder(t, store, func() time.Time { return today })
	r.Record([]conversation.Event{ev(answered, 0), ev(notSure, 0, "question", "vpn down")})
	store.set(conversation.Errorf(conversation.Unavailable, "redis is down"), nil)
	if err := r.Flush(context.Background()); conversation.ErrorCode(err) != conversation.Unavailable {
		t.Fatalf("Flush with the store down = %v, want its Unavailable error", err)
	}
	r.Record([]conversation.Event{ev(answered, 0)})
	store.set(nil, nil)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	if got := store.counter("2025-03-10", analytics.Answered); got != 2 {
		t.Errorf("answered after a failed and a good flush = %d, want 2 (kept once, not lost or doubled)", got)
	}
	store.mu.Lock()
	adds := store.adds
	store.mu.Unlock()
	if adds != 1 {
		t.Errorf("store saw %d adds, want 1 (nothing to flush the second time)", adds)
	}
}

func TestRecorderFlushesInTheBackground(t *testing.T) {
	store := newMemStore()
	r, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: 5 * time.Millisecond, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	defer r.Close()
	r.Record([]conversation.Event{{Type: conversation.EventAnswered, At: time.Now()}})
	day := analytics.DayOf(time.Now())
	deadline := time.Now().Add(10 * time.Second)
	for store.counter(day, analytics.Answered) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the recorder did not flush on its own within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// Record returns while a flush waits for a slow store.
func TestRecordDoesNotWaitForTheStore(t *testing.T) {
	store := newMemStore()
	r := newRecorder(t, store, func() time.Time { return today })
	r.Record([]conversation.Event{ev(answered, 0)})
	unblock := make(chan struct{})
	store.set(nil, unblock)
	flushed := make(chan error, 1)
	go func() { flushed <- r.Flush(context.Background()) }()
	recorded := make(chan struct{})
	go func() {
		for range 100 {
			r.Record([]conversation.Event{ev(answered, 0)})
		}
		close(recorded)
	}()
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked behind a flush waiting for the store")
	}
	close(unblock)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := store.counter("2025-03-10", analytics.Answered); got != 101 {
		t.Errorf("answered = %d, want 101", got)
	}
}

func TestRecorderClose(t *testing.T) {
	store := newMemStore()
	r, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: time.Hour, Now: func() time.Time { return today }, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	r.Record([]conversation.Event{ev(answered, 0), ev(answered, 0)})
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r.Record([]conversation.Event{ev(answered, 0)})
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := store.counter("2025-03-10", analytics.Answered); got != 2 {
		t.Errorf("answered after Close = %d, want the 2 recorded before it", got)
	}
}

func TestRecorderCapsPendingQuestions(t *testing.T) {
	store := newMemStore()
	r, err := analytics.NewRecorder(store, analytics.Config{FlushInterval: time.Hour, MaxPendingQuestions: 2, Now: func() time.Time { return today }, Logger: discard()})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	defer r.Close()
	for _, q := range []string{"vpn down", "printer jam", "vpn down", "canteen menu", "parking"} {
		r.Record([]conversation.Event{ev(notSure, 0, "question", q)})
	}
	rep, err := r.Report(context.Background(), 1)
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	if rep.QuestionsDropped != 2 || rep.Totals.NotSure != 5 || len(rep.KnowledgeGaps) != 2 || rep.KnowledgeGaps[0].Count != 2 {
		t.Errorf("dropped %d, not sure %d, gaps %+v; want 2 dropped, 5 not sure, gaps vpn (2) and printer", rep.QuestionsDropped, rep.Totals.NotSure, rep.KnowledgeGaps)
	}
}

func TestReportRange(t *testing.T) {
	r := newRecorder(t, newMemStore(), func() time.Time { return today })
	for _, days := range []int{0, -1, analytics.MaxRangeDays + 1} {
		if _, err := r.Report(context.Background(), days); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("Report(%d) = %v, want Invalid", days, err)
		}
	}
	rep, err := r.Report(context.Background(), 90)
	if err != nil || len(rep.Days) != 90 || rep.To != "2025-03-10" || rep.KnowledgeGaps == nil || rep.HandoffReasons == nil {
		t.Errorf("Report(90) = %d days to %s (gaps %v, reasons %v), %v; want 90 days to 2025-03-10 and empty lists", len(rep.Days), rep.To, rep.KnowledgeGaps, rep.HandoffReasons, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  analytics.Config
		ok   bool
	}{
		{"defaults", analytics.Config{}, true},
		{"custom", analytics.Config{FlushInterval: time.Second, FlushTimeout: time.Second, MaxPendingQuestions: 10, MaxLabels: 5, Gaps: 3}, true},
		{"negative interval", analytics.Config{FlushInterval: -time.Second}, false},
		{"tiny interval", analytics.Config{FlushInterval: time.Microsecond}, false},
		{"huge interval", analytics.Config{FlushInterval: 2 * time.Hour}, false},
		{"negative timeout", analytics.Config{FlushTimeout: -1}, false},
		{"too many questions", analytics.Config{MaxPendingQuestions: analytics.MaxEntries + 1}, false},
		{"too many labels", analytics.Config{MaxLabels: 201}, false},
		{"too many gaps", analytics.Config{Gaps: 101}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok != (err == nil) || err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("Validate() = %v, want ok=%v (Invalid otherwise)", err, tt.ok)
			}
		})
	}
	if _, err := analytics.NewRecorder(nil, analytics.Config{}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("NewRecorder(nil) = %v, want Invalid", err)
	}
}

func TestRecorderCountsActionRuns(t *testing.T) {
	store := newMemStore()
	r := newRecorder(t, store, func() time.Time { return today })
	r.Record([]conversation.Event{
		ev(conversation.EventAction, 0, "action", "order_status", "outcome", "ok"),
		ev(conversation.EventAction, 0, "action", "order_status", "outcome", "not_found"),
		ev(conversation.EventAction, 0, "action", "unlock_account", "outcome", "ok"),
	})
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	rep, err := r.Report(context.Background(), 1)
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	want := map[string]int64{"order_status.ok": 1, "order_status.not_found": 1, "unlock_account.ok": 1}
	got := map[string]int64{}
	for _, c := range rep.Actions {
		got[c.Label] = c.Count
	}
	if rep.Totals.ActionRuns != 3 || len(got) != 3 || got["order_status.ok"] != want["order_status.ok"] || got["order_status.not_found"] != 1 || got["unlock_account.ok"] != 1 {
		t.Errorf("action runs %d, by outcome %v; want 3 and %v", rep.Totals.ActionRuns, got, want)
	}
}
