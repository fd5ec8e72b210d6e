// Package metrics turns tier0's domain events into Prometheus metrics.
//
// A [Sink] is a [conversation.EventSink]: the engine hands it the events
// of every committed turn, and it counts them into collectors registered
// on a Prometheus registry, which cmd/tier0 serves on GET /metrics. Label
// values come only from the bounded attributes of events (channel,
// reasons, team, priority, phases), never from customer text,
// conversation keys or ids, and every label is capped in how many
// distinct values it takes, so a misconfiguration cannot blow up the
// number of time series.
package metrics

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tier0/tier0/conversation"
)

// Other is the label value counted in place of a value past the cap of
// distinct values, or one that is not a short, valid label value.
const Other = "other"

// None is the label value counted when an event lacks the attribute.
const None = "none"

// maxValueLen bounds the length of one label value in bytes.
const maxValueLen = 64

// Config configures a Sink. The zero value is ready to use.
type Config struct {
	// MaxLabelValues caps the distinct values of each label of each
	// metric (default 100); further values are counted as [Other].
	MaxLabelValues int
	// ScoreBuckets are the upper bounds of the tier0_answer_score
	// histogram (default 0.1, 0.2, …, 1.0).
	ScoreBuckets []float64
}

func (c Config) withDefaults() Config {
	if c.MaxLabelValues <= 0 {
		c.MaxLabelValues = 100
	}
	if len(c.ScoreBuckets) == 0 {
		c.ScoreBuckets = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	}
	return c
}

// Validate reports a malformed configuration (negative cap, buckets not
// increasing) as an Invalid error.
func (c Config) Validate() error {
	if c.MaxLabelValues < 0 {
		return conversation.Errorf(conversation.Invalid, "metrics: max label values %d is negative", c.MaxLabelValues)
	}
	for i, b := range c.ScoreBuckets {
		if math.IsNaN(b) || (i > 0 && b <= c.ScoreBuckets[i-1]) {
			return conversation.Errorf(conversation.Invalid, "metrics: score buckets must increase: %v", c.ScoreBuckets)
		}
	}
	return nil
}

// Sink counts domain events into Prometheus collectors. It is safe for
// concurrent use; Record only updates in-memory counters.
type Sink struct {
	messages    *counter
	answers     *counter
	notSure     *counter
	handoffs    *counter
	feedback    *counter
	consulting  *counter
	phases      *counter
	answerScore prometheus.Histogram
}

var _ conversation.EventSink = (*Sink)(nil)

// New creates a Sink and registers its collectors on reg. Errors: Invalid
// for a malformed cfg, Conflict when reg already holds collectors of the
// same names (a second Sink on one registry).
func New(reg prometheus.Registerer, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	limit := cfg.MaxLabelValues
	s := &Sink{
		messages:   newCounter(limit, "tier0_messages_total", "Inbound messages handled, by channel.", "channel"),
		answers:    newCounter(limit, "tier0_answers_total", "Bot turns on a question, by outcome: answered, not_sure or consulting.", "outcome"),
		notSure:    newCounter(limit, "tier0_not_sure_total", "Questions the bot could not answer, by reason.", "reason"),
		handoffs:   newCounter(limit, "tier0_handoffs_total", "Conversations handed to a person, by reason, team and priority.", "reason", "team", "priority"),
		feedback:   newCounter(limit, "tier0_feedback_total", "Feedback clicks on answers, by value.", "value"),
		consulting: newCounter(limit, "tier0_consulting_questions_total", "Consulting questions asked, by kind.", "kind"),
		phases:     newCounter(limit, "tier0_phase_changes_total", "Conversation phase changes, by old and new phase.", "from", "to"),
		answerScore: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tier0_answer_score",
			Help:    "Answerability score of the answers given.",
			Buckets: cfg.ScoreBuckets,
		}),
	}
	for _, c := range []prometheus.Collector{s.messages.vec, s.answers.vec, s.notSure.vec, s.handoffs.vec,
		s.feedback.vec, s.consulting.vec, s.phases.vec, s.answerScore} {
		if err := reg.Register(c); err != nil {
			return nil, conversation.Errorf(conversation.Conflict, "metrics: register: %w", err)
		}
	}
	return s, nil
}

// Record counts events. Unknown event types are ignored; it never blocks
// on I/O and never panics, whatever the event data.
func (s *Sink) Record(events []conversation.Event) {
	for _, ev := range events {
		d := ev.Data
		switch ev.Type {
		case conversation.EventMessageReceived:
			s.messages.inc(d["channel"])
		case conversation.EventAnswered:
			s.answers.inc("answered")
			if v, err := strconv.ParseFloat(d["score"], 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				s.answerScore.Observe(v)
			}
		case conversation.EventNotSure:
			s.answers.inc("not_sure")
			s.notSure.inc(d["reason"])
		case conversation.EventConsulting:
			s.answers.inc("consulting")
			s.consulting.inc(d["kind"])
		case conversation.EventHandoff:
			s.handoffs.inc(d["reason"], d["team"], d["priority"])
		case conversation.EventFeedback:
			s.feedback.inc(d["value"])
		case conversation.EventPhaseChanged:
			s.phases.inc(d["from"], d["to"])
		}
	}
}

// counter is a counter vector whose labels each take a capped number of
// distinct values.
type counter struct {
	vec    *prometheus.CounterVec
	labels []*labelValues
}

func newCounter(limit int, name, help string, labels ...string) *counter {
	c := &counter{vec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)}
	for range labels {
		c.labels = append(c.labels, &labelValues{limit: limit, seen: map[string]struct{}{}})
	}
	return c
}

// inc adds one to the series of values (one per label, in order).
func (c *counter) inc(values ...string) {
	for i, v := range values {
		values[i] = c.labels[i].admit(v)
	}
	// Every value is now valid UTF-8 and the count matches, so this
	// cannot fail; the error is checked rather than risking a panic.
	if m, err := c.vec.GetMetricWithLabelValues(values...); err == nil {
		m.Inc()
	}
}

// labelValues remembers the distinct values one label took, up to limit.
type labelValues struct {
	mu    sync.Mutex
	limit int
	seen  map[string]struct{}
}

// admit returns the value to count for v: None when empty, Other when v
// is not a short valid string or the label already took limit values,
// otherwise v.
func (l *labelValues) admit(v string) string {
	switch {
	case v == "":
		return None
	case v == Other || v == None:
		return v
	case len(v) > maxValueLen || !utf8.ValidString(v):
		return Other
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[v]; ok {
		return v
	}
	if len(l.seen) >= l.limit {
		return Other
	}
	l.seen[v] = struct{}{}
	return v
}
