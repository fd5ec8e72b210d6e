package metrics_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/metrics"
)

// newSink returns a Sink on a fresh registry.
func newSink(tb testing.TB, cfg metrics.Config) (*metrics.Sink, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	s, err := metrics.New(reg, cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s, reg
}

// event builds an event of typ with data given as key, value pairs.
func event(typ conversation.EventType, kv ...string) conversation.Event {
	ev := conversation.Event{Type: typ, ConversationKey: "webchat:secret-session", Data: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Data[kv[i]] = kv[i+1]
	}
	return ev
}

// checkMetrics compares the samples of the named metrics in reg with
// want: exposition lines without HELP and TYPE, in any order.
func checkMetrics(tb testing.TB, reg *prometheus.Registry, want string, names ...string) {
	tb.Helper()
	got := samples(tb, reg, names...)
	var wantLines []string
	for _, l := range strings.Split(want, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			wantLines = append(wantLines, l)
		}
	}
	slices.Sort(wantLines)
	if !slices.Equal(got, wantLines) {
		tb.Errorf("samples of %v:\ngot  %s\nwant %s", names, strings.Join(got, "\n     "), strings.Join(wantLines, "\n     "))
	}
}

// samples returns the sorted exposition lines of the named metrics in
// reg, without HELP and TYPE.
func samples(tb testing.TB, reg *prometheus.Registry, names ...string) []string {
	tb.Helper()
	text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, names...)
	if err != nil {
		tb.Fatalf("gather %v: %v", names, err)
	}
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name   string
		events []conversation.Event
		metric string
		want   string
	}{
		{
			name: "messages by channel",
			events: []conversation.Event{
				event(conversation.EventMessageReceived, "channel", "webchat"),
				event(conversation.EventMessageReceived, "channel", "webchat"),
				event(conversation.EventMessageReceived, "channel", "slack"),
				event(conversation.EventMessageReceived),
			},
			metric: "tier0_messages_total",
			want: `
				tier0_messages_total{channel="none"} 1
				tier0_messages_total{channel="slack"} 1
				tier0_messages_total{channel="webchat"} 2`,
		},
		{
			name: "answers by outcome",
			events: []conversation.Event{
				event(conversation.EventAnswered, "score", "0.900", "source", "password-reset.md"),
				event(conversation.EventNotSure, "reason", "low_score", "score", "0.100"),
				event(conversation.EventConsulting, "kind", "flow", "flow", "vpn", "asked", "1"),
				event(conversation.EventAnswered, "score", "0.700"),
			},
			metric: "tier0_answers_total",
			want: `
				tier0_answers_total{outcome="answered"} 2
				tier0_answers_total{outcome="consulting"} 1
				tier0_answers_total{outcome="not_sure"} 1`,
		},
		{
			name: "not sure by reason",
			events: []conversation.Event{
				event(conversation.EventNotSure, "reason", "low_score", "score", "0.100"),
				event(conversation.EventNotSure, "reason", "knowledge_error", "code", "unavailable"),
				event(conversation.EventNotSure, "reason", "low_score"),
			},
			metric: "tier0_not_sure_total",
			want: `
				tier0_not_sure_total{reason="knowledge_error"} 1
				tier0_not_sure_total{reason="low_score"} 2`,
		},
		{
			name: "handoffs without the ticket id",
			events: []conversation.Event{
				event(conversation.EventHandoff, "reason", "customer_request", "ticket", "IT-1001", "team", "l1", "priority", "P3"),
				event(conversation.EventHandoff, "reason", "customer_request", "ticket", "IT-1002", "team", "l1", "priority", "P3"),
				event(conversation.EventHandoff, "reason", "frustration", "ticket", "IT-1003", "team", "l2", "priority", "P1"),
			},
			metric: "tier0_handoffs_total",
			want: `
				tier0_handoffs_total{priority="P1",reason="frustration",team="l2"} 1
				tier0_handoffs_total{priority="P3",reason="customer_request",team="l1"} 2`,
		},
		{
			name: "feedback by value",
			events: []conversation.Event{
				event(conversation.EventFeedback, "value", "helpful"),
				event(conversation.EventFeedback, "value", "not_helpful"),
				event(conversation.EventFeedback, "value", "not_helpful"),
			},
			metric: "tier0_feedback_total",
			want: `
				tier0_feedback_total{value="helpful"} 1
				tier0_feedback_total{value="not_helpful"} 2`,
		},
		{
			name: "consulting questions by kind",
			events: []conversation.Event{
				event(conversation.EventConsulting, "kind", "flow", "flow", "vpn", "asked", "1"),
				event(conversation.EventConsulting, "kind", "disambiguation", "asked", "2"),
			},
			metric: "tier0_consulting_questions_total",
			want: `
				tier0_consulting_questions_total{kind="disambiguation"} 1
				tier0_consulting_questions_total{kind="flow"} 1`,
		},
		{
			name: "phase changes",
			events: []conversation.Event{
				event(conversation.EventPhaseChanged, "from", "bot", "to", "consulting"),
				event(conversation.EventPhaseChanged, "from", "consulting", "to", "awaiting_agent"),
				event(conversation.EventPhaseChanged, "from", "bot", "to", "consulting"),
			},
			metric: "tier0_phase_changes_total",
			want: `
				tier0_phase_changes_total{from="bot",to="consulting"} 2
				tier0_phase_changes_total{from="consulting",to="awaiting_agent"} 1`,
		},
		{
			name: "answer scores, malformed ones skipped",
			events: []conversation.Event{
				event(conversation.EventAnswered, "score", "0.950"),
				event(conversation.EventAnswered, "score", "0.550"),
				event(conversation.EventAnswered, "score", "NaN"),
				event(conversation.EventAnswered, "score", "high"),
				event(conversation.EventAnswered),
			},
			metric: "tier0_answer_score",
			want: `
				tier0_answer_score_bucket{le="0.1"} 0
				tier0_answer_score_bucket{le="0.2"} 0
				tier0_answer_score_bucket{le="0.3"} 0
				tier0_answer_score_bucket{le="0.4"} 0
				tier0_answer_score_bucket{le="0.5"} 0
				tier0_answer_score_bucket{le="0.6"} 1
				tier0_answer_score_bucket{le="0.7"} 1
				tier0_answer_score_bucket{le="0.8"} 1
				tier0_answer_score_bucket{le="0.9"} 1
				tier0_answer_score_bucket{le="1"} 2
				tier0_answer_score_bucket{le="+Inf"} 2
				tier0_answer_score_sum 1.5
				tier0_answer_score_count 2`,
		},
		{
			name: "events without metrics are ignored",
			events: []conversation.Event{
				event(conversation.EventRelayed, "ticket", "IT-1001"),
				event(conversation.EventConsultAnswered, "flow", "vpn"),
				event("made_up", "channel", "webchat"),
			},
			metric: "tier0_messages_total",
			want:   ``,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, reg := newSink(t, metrics.Config{})
			s.Record(tt.events)
			checkMetrics(t, reg, tt.want, tt.metric)
		})
	}
}

func TestRecordCapsLabelValues(t *testing.T) {
	s, reg := newSink(t, metrics.Config{MaxLabelValues: 3})
	var evs []conversation.Event
	for i := range 10 {
		evs = append(evs, event(conversation.EventHandoff, "reason", "customer_request", "team", fmt.Sprintf("team-%d", i), "priority", "P3"))
	}
	// A value seen before the cap keeps its own series.
	evs = append(evs, event(conversation.EventHandoff, "reason", "customer_request", "team", "team-0", "priority", "P3"))
	s.Record(evs)
	checkMetrics(t, reg, `
		tier0_handoffs_total{priority="P3",reason="customer_request",team="other"} 7
		tier0_handoffs_total{priority="P3",reason="customer_request",team="team-0"} 2
		tier0_handoffs_total{priority="P3",reason="customer_request",team="team-1"} 1
		tier0_handoffs_total{priority="P3",reason="customer_request",team="team-2"} 1`,
		"tier0_handoffs_total")
}

func TestRecordHostileValues(t *testing.T) {
	s, reg := newSink(t, metrics.Config{})
	s.Record([]conversation.Event{
		event(conversation.EventMessageReceived, "channel", "\xff\xfe"),
		event(conversation.EventMessageReceived, "channel", strings.Repeat("x", 1000)),
		event(conversation.EventMessageReceived, "channel", "other"),
		{Type: conversation.EventHandoff},
	})
	s.Record(nil)
	checkMetrics(t, reg, `
		tier0_handoffs_total{priority="none",reason="none",team="none"} 1
		tier0_messages_total{channel="other"} 3`,
		"tier0_handoffs_total", "tier0_messages_total")
}

func TestRecordConcurrent(t *testing.T) {
	s, reg := newSink(t, metrics.Config{MaxLabelValues: 5})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 50 {
				s.Record([]conversation.Event{event(conversation.EventMessageReceived, "channel", fmt.Sprintf("c%d", i%20))})
			}
		})
	}
	wg.Wait()
	// Every goroutine sends c0…c4 before any other value, so they take
	// the five places whatever the interleaving.
	checkMetrics(t, reg, `
		tier0_messages_total{channel="c0"} 24
		tier0_messages_total{channel="c1"} 24
		tier0_messages_total{channel="c2"} 24
		tier0_messages_total{channel="c3"} 24
		tier0_messages_total{channel="c4"} 24
		tier0_messages_total{channel="other"} 280`,
		"tier0_messages_total")
}

func TestNewErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg, metrics.Config{}); err != nil {
		t.Fatalf("first New: %v", err)
	}
	tests := []struct {
		name string
		reg  prometheus.Registerer
		cfg  metrics.Config
		want conversation.Code
	}{
		{"second sink on one registry", reg, metrics.Config{}, conversation.Conflict},
		{"negative cap", prometheus.NewRegistry(), metrics.Config{MaxLabelValues: -1}, conversation.Invalid},
		{"buckets not increasing", prometheus.NewRegistry(), metrics.Config{ScoreBuckets: []float64{0.5, 0.5}}, conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metrics.New(tt.reg, tt.cfg)
			if got := conversation.ErrorCode(err); got != tt.want {
				t.Errorf("New error = %v (code %q), want code %q", err, got, tt.want)
			}
			var are prometheus.AlreadyRegisteredError
			if tt.want == conversation.Conflict && !errors.As(err, &are) {
				t.Errorf("New error = %v, want it to wrap prometheus.AlreadyRegisteredError", err)
			}
		})
	}
}

func TestMetricNamesFollowConventions(t *testing.T) {
	s, reg := newSink(t, metrics.Config{})
	s.Record([]conversation.Event{
		event(conversation.EventMessageReceived, "channel", "webchat"),
		event(conversation.EventAnswered, "score", "0.5"),
		event(conversation.EventNotSure, "reason", "low_score"),
		event(conversation.EventConsulting, "kind", "flow"),
		event(conversation.EventHandoff, "reason", "customer_request", "team", "l1", "priority", "P3"),
		event(conversation.EventFeedback, "value", "helpful"),
		event(conversation.EventPhaseChanged, "from", "bot", "to", "consulting"),
	})
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 8 {
		t.Errorf("gathered %d metric families (err %v) after one event of each kind, want 8", len(mfs), err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}
