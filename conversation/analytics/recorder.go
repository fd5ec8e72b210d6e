package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Config tunes a Recorder. Zero values take the defaults.
type Config struct {
	// FlushInterval is how often counts go to the Store (default 2s). A
	// killed process loses at most this much.
	FlushInterval time.Duration
	// FlushTimeout bounds one flush (default 10s).
	FlushTimeout time.Duration
	// MaxPendingQuestions bounds the distinct unanswered questions held
	// per day between two flushes (default 1000); more are counted in
	// QuestionsDropped.
	MaxPendingQuestions int
	// MaxLabels bounds the distinct values of each labelled counter
	// family (reasons, channels, SLA clocks) per day between two flushes
	// (default 50); more count as "other".
	MaxLabels int
	// Gaps is how many knowledge gaps a Report lists (default 10).
	Gaps int
	// Logger receives flush failures (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

// maxPendingDays bounds the days a Recorder holds counts for between
// two flushes; events of further days are not counted.
const maxPendingDays = 32

func (c Config) withDefaults() Config {
	if c.FlushInterval == 0 {
		c.FlushInterval = 2 * time.Second
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 10 * time.Second
	}
	if c.MaxPendingQuestions == 0 {
		c.MaxPendingQuestions = 1000
	}
	if c.MaxLabels == 0 {
		c.MaxLabels = 50
	}
	if c.Gaps == 0 {
		c.Gaps = 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports out-of-range values as an Invalid error.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "analytics config: "+format, args...)
	}
	switch {
	case c.FlushInterval < 0 || c.FlushInterval > 0 && (c.FlushInterval < time.Millisecond || c.FlushInterval > time.Hour):
		return inv("FlushInterval %s must be within 1ms..1h", c.FlushInterval)
	case c.FlushTimeout < 0 || c.FlushTimeout > 0 && c.FlushTimeout < time.Millisecond:
		return inv("FlushTimeout %s must be at least 1ms", c.FlushTimeout)
	case c.MaxPendingQuestions < 0 || c.MaxPendingQuestions > MaxEntries:
		return inv("MaxPendingQuestions %d must be within 0..%d", c.MaxPendingQuestions, MaxEntries)
	case c.MaxLabels < 0 || c.MaxLabels > 200:
		return inv("MaxLabels %d must be within 0..200", c.MaxLabels)
	case c.Gaps < 0 || c.Gaps > 100:
		return inv("Gaps %d must be within 0..100", c.Gaps)
	}
	return nil
}

// Recorder aggregates domain events into daily counters and flushes
// them to a Store. It is safe for concurrent use.
type Recorder struct {
	store Store
	cfg   Config

	mu      sync.Mutex
	pending map[string]*batch
	closed  bool

	flushMu   sync.Mutex // one flush at a time
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ conversation.EventSink = (*Recorder)(nil)

// batch is the counts of one day not flushed yet.
type batch struct {
	counters  map[string]int64
	questions map[string]int64
	labels    map[string]int // family prefix → distinct values counted
}

func newBatch() *batch {
	return &batch{counters: make(map[string]int64), questions: make(map[string]int64), labels: make(map[string]int)}
}

// NewRecorder returns a recorder over store and starts its flush loop;
// Close stops it. Errors: Invalid for a nil store or a bad Config.
func NewRecorder(store Store, cfg Config) (*Recorder, error) {
	if store == nil {
		return nil, conversation.Errorf(conversation.Invalid, "analytics: nil store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Recorder{store: store, cfg: cfg.withDefaults(), pending: make(map[string]*batch),
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r, nil
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.FlushTimeout)
		if err := r.Flush(ctx); err != nil {
			r.cfg.Logger.Warn("analytics flush failed; the counts are kept for the next one", "err", err)
		}
		cancel()
	}
}

// Record counts the events of one committed turn in memory. It never
// blocks on I/O and never panics, whatever the event data; after Close
// it does nothing.
func (r *Recorder) Record(events []conversation.Event) {
	if len(events) == 0 {
		return
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for i := range events {
		r.count(&events[i], now)
	}
}

// count adds one event to its day's batch; r.mu is held.
func (r *Recorder) count(ev *conversation.Event, now time.Time) {
	at := ev.At
	if at.IsZero() {
		at = now
	}
	day := DayOf(at)
	b := r.pending[day]
	if b == nil {
		if len(r.pending) >= maxPendingDays {
			return
		}
		b = newBatch()
		r.pending[day] = b
	}
	d := ev.Data
	switch ev.Type {
	case conversation.EventMessageReceived:
		b.counters[Messages]++
		if d["new"] == "1" {
			b.counters[Conversations]++
			r.label(b, ChannelPrefix, d["channel"])
		}
	case conversation.EventAnswered:
		b.counters[Answered]++
	case conversation.EventNotSure:
		b.counters[NotSure]++
		r.label(b, NotSureReasonPrefix, d["reason"])
		if q := NormalizeQuestion(d["question"]); q != "" {
			r.question(b, q, 1)
		}
	case conversation.EventConsulting:
		b.counters[Consulting]++
	case conversation.EventHandoff:
		b.counters[Handoffs]++
		r.label(b, HandoffReasonPrefix, d["reason"])
		if d["answer_open"] == "1" {
			b.counters[AnswersRejected]++
		}
	case conversation.EventFeedback:
		switch d["value"] {
		case conversation.ActionHelpful:
			b.counters[Helpful]++
			if d["answer_open"] == "1" {
				b.counters[AnswersConfirmed]++
			}
		case conversation.ActionNotHelpful:
			b.counters[NotHelpful]++
			if d["answer_open"] == "1" {
				b.counters[AnswersRejected]++
			}
		}
	case conversation.EventCSAT:
		n, err := strconv.Atoi(d["score"])
		if err != nil || n < 1 || n > 5 || d["repeat"] == "1" {
			return
		}
		b.counters[CSATPrefix+strconv.Itoa(n)]++
		b.counters[CSATCount]++
		b.counters[CSATSum] += int64(n)
	case conversation.EventAgent:
		switch d["action"] {
		case string(conversation.AgentReply):
			observe(b, FirstReply, d["first_reply_s"])
		case string(conversation.AgentResolve):
			b.counters[TicketsResolved]++
			observe(b, Resolution, d["resolution_s"])
		case string(conversation.AgentHandBack):
			b.counters[TicketsHandBack]++
		case string(conversation.AgentEscalate):
			b.counters[TicketsEscalated]++
		}
	case conversation.EventSLABreached:
		r.label(b, SLAPrefix, d["clock"])
	case conversation.EventLanguage:
		r.label(b, LanguagePrefix, d["to"])
	case conversation.EventAction:
		b.counters[ActionRuns]++
		r.label(b, ActionPrefix, d["action"]+"."+d["outcome"])
	}
}

// maxObservedSeconds caps one duration (ten years), so sums cannot
// overflow.
const maxObservedSeconds = 10 * 365 * 24 * 3600

// observe adds a duration in whole seconds (s, as events carry it) to
// histogram h; anything that is not a number >= 0 is ignored.
func observe(b *batch, h, s string) {
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil || secs < 0 {
		return
	}
	secs = min(secs, maxObservedSeconds)
	buckets, count, sum := HistogramNames(h)
	i, _ := slices.BinarySearch(DurationBuckets, secs)
	b.counters[buckets[i]]++
	b.counters[count]++
	b.counters[sum] += secs
}

// maxLabelLen bounds one label value, in bytes.
const maxLabelLen = 40

// label counts one value of a labelled family: a short lower-case word
// ("none" when empty, "other" when malformed or past MaxLabels).
func (r *Recorder) label(b *batch, prefix, value string) {
	v := cleanLabel(value)
	name := prefix + v
	if _, seen := b.counters[name]; !seen {
		if b.labels[prefix] >= r.cfg.MaxLabels {
			name = prefix + "other"
		} else {
			b.labels[prefix]++
		}
	}
	b.counters[name]++
}

func cleanLabel(v string) string {
	if v == "" {
		return "none"
	}
	if len(v) > maxLabelLen {
		return "other"
	}
	v = strings.ToLower(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "other"
		}
	}
	return v
}

// question counts an unanswered question, or QuestionsDropped when the
// batch holds MaxPendingQuestions others.
func (r *Recorder) question(b *batch, q string, n int64) {
	if _, ok := b.questions[q]; !ok && len(b.questions) >= r.cfg.MaxPendingQuestions {
		b.counters[QuestionsDropped] += n
		return
	}
	b.questions[q] += n
}

// Flush adds the counts held in memory to the Store, one AddStats per
// day. Counts of a day the Store did not take stay in memory for the
// next flush (unless the Store called them Invalid, which is logged and
// dropped). Errors: those of Store.AddStats, joined.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batches := r.pending
	r.pending = make(map[string]*batch)
	r.mu.Unlock()
	var errs []error
	for _, day := range slices.Sorted(maps.Keys(batches)) {
		b := batches[day]
		if len(b.counters) == 0 && len(b.questions) == 0 {
			continue
		}
		err := r.store.AddStats(ctx, day, b.counters, b.questions)
		switch {
		case err == nil:
		case conversation.ErrorCode(err) == conversation.Invalid:
			r.cfg.Logger.Error("analytics: the store rejected a day's counts; they are dropped", "day", day, "err", err)
		default:
			errs = append(errs, fmt.Errorf("flush analytics of %s: %w", day, err))
			r.restore(day, b)
		}
	}
	return errors.Join(errs...)
}

// restore puts the counts of a failed flush back, within the caps.
func (r *Recorder) restore(day string, old *batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.pending[day]
	if b == nil {
		if len(r.pending) >= maxPendingDays {
			return
		}
		b = newBatch()
		r.pending[day] = b
	}
	for name, n := range old.counters {
		b.counters[name] += n
	}
	for family, n := range old.labels {
		b.labels[family] = max(b.labels[family], n)
	}
	for q, n := range old.questions {
		r.question(b, q, n)
	}
}

// Close stops the flush loop and flushes what is left, within
// FlushTimeout. Later Records are ignored. Safe to call more than once.
// Errors: those of the last flush.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.FlushTimeout)
		defer cancel()
		r.closeErr = r.Flush(ctx)
	})
	return r.closeErr
}

// Report flushes this replica's pending counts (so they show at once)
// and summarises the last days days, today (UTC) included. Errors:
// Invalid (days outside 1..MaxRangeDays), those of Store.Stats.
func (r *Recorder) Report(ctx context.Context, days int) (Report, error) {
	if days < 1 || days > MaxRangeDays {
		return Report{}, conversation.Errorf(conversation.Invalid, "analytics: days %d must be within 1..%d", days, MaxRangeDays)
	}
	if err := r.Flush(ctx); err != nil {
		r.cfg.Logger.Warn("analytics flush before a report failed", "err", err)
	}
	to := r.cfg.Now().UTC()
	from := to.AddDate(0, 0, -(days - 1))
	stats, err := r.store.Stats(ctx, DayOf(from), DayOf(to))
	if err != nil {
		return Report{}, fmt.Errorf("analytics report: %w", err)
	}
	return Summarize(DayOf(from), DayOf(to), stats, r.cfg.Gaps)
}
