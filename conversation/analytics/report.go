package analytics

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Report is the help desk's figures over a range of days.
type Report struct {
	From string `json:"from"` // first day, UTC
	To   string `json:"to"`   // last day, UTC
	// Days has one entry per day of the range, oldest first (zeros for
	// days without traffic).
	Days []Figures `json:"days"`
	// Totals are the figures of the whole range (Day is empty).
	Totals Figures `json:"totals"`
	// HandoffReasons, NotSureReasons, SLABreaches (by clock) and Channels
	// (conversations started) are counted by label, largest first.
	HandoffReasons []Count `json:"handoff_reasons"`
	NotSureReasons []Count `json:"not_sure_reasons"`
	SLABreaches    []Count `json:"sla_breaches"`
	Channels       []Count `json:"channels"`
	// Actions counts action runs by "action.outcome" (order_status.ok,
	// unlock_account.cancelled, …).
	Actions []Count `json:"actions"`
	// Languages counts conversations by language code (a conversation
	// that switches language counts under both).
	Languages []Count `json:"languages"`
	// FirstReply is the time from a ticket's opening to its first agent
	// reply; Resolution to its resolution.
	FirstReply Histogram `json:"first_reply"`
	Resolution Histogram `json:"resolution"`
	CSAT       CSAT      `json:"csat"`
	// KnowledgeGaps are the unanswered questions of the range, grouped
	// by topic, largest first.
	KnowledgeGaps []Gap `json:"knowledge_gaps"`
	// QuestionsDropped counts unanswered questions that were not kept
	// (per-day caps); they still count in NotSure.
	QuestionsDropped int64 `json:"questions_dropped"`
}

// Figures are the main counts of a day or a range. See the package
// documentation for what confirmed, rejected and assumed mean.
type Figures struct {
	Day              string `json:"day,omitempty"`
	Conversations    int64  `json:"conversations"`
	Messages         int64  `json:"messages"`
	Answered         int64  `json:"answered"`
	NotSure          int64  `json:"not_sure"`
	Consulting       int64  `json:"consulting"`
	Handoffs         int64  `json:"handoffs"`
	AnswersConfirmed int64  `json:"answers_confirmed"`
	AnswersRejected  int64  `json:"answers_rejected"`
	AnswersAssumed   int64  `json:"answers_assumed"`
	// CSATConfirmed counts tickets rated 4 or 5.
	CSATConfirmed int64 `json:"csat_confirmed"`
	// ConfirmedResolved = AnswersConfirmed + CSATConfirmed;
	// AssumedResolved = AnswersAssumed.
	ConfirmedResolved int64 `json:"confirmed_resolved"`
	AssumedResolved   int64 `json:"assumed_resolved"`
	TicketsResolved   int64 `json:"tickets_resolved"`
	// ActionRuns counts actions run, refused or cancelled.
	ActionRuns int64 `json:"action_runs"`
	// DeflectionRate is (AnswersConfirmed + AnswersAssumed) / (that +
	// Handoffs), in [0,1]; 0 without data.
	DeflectionRate float64 `json:"deflection_rate"`
}

// Count is one label of a labelled counter.
type Count struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// Histogram is a duration distribution in DurationBuckets.
type Histogram struct {
	Buckets        []Bucket `json:"buckets"`
	Count          int64    `json:"count"`
	SumSeconds     int64    `json:"sum_seconds"`
	AverageSeconds float64  `json:"average_seconds"`
	// Median is the label of the bucket holding the median observation
	// ("≤ 15 min"); empty without observations.
	Median string `json:"median"`
}

// Bucket is one bucket of a Histogram: durations above the previous
// bucket's bound up to UpToSeconds (0 for the last, open bucket).
type Bucket struct {
	UpToSeconds int64  `json:"up_to_seconds"`
	Label       string `json:"label"`
	Count       int64  `json:"count"`
}

// CSAT is the satisfaction ratings (first rating of each ticket).
type CSAT struct {
	// Scores[i] counts ratings of i+1.
	Scores  [5]int64 `json:"scores"`
	Count   int64    `json:"count"`
	Average float64  `json:"average"`
}

// Summarize turns the stored days of fromDay..toDay into a Report with
// at most gaps knowledge gaps. Days of stats outside the range are
// ignored. Errors: Invalid for a malformed range.
func Summarize(fromDay, toDay string, stats []DayStats, gaps int) (Report, error) {
	from, n, err := CheckRange(fromDay, toDay)
	if err != nil {
		return Report{}, err
	}
	byDay := make(map[string]DayStats, len(stats))
	for _, s := range stats {
		byDay[s.Day] = s
	}
	rep := Report{From: fromDay, To: toDay, Days: make([]Figures, 0, n)}
	total := make(map[string]int64)
	questions := make(map[string]int64)
	for _, day := range Days(from, n) {
		s := byDay[day]
		f := figures(s.Counters)
		f.Day = day
		rep.Days = append(rep.Days, f)
		for k, v := range s.Counters {
			total[k] += v
		}
		for q, v := range s.Questions {
			questions[q] += v
		}
	}
	rep.Totals = figures(total)
	rep.HandoffReasons = labelled(total, HandoffReasonPrefix)
	rep.NotSureReasons = labelled(total, NotSureReasonPrefix)
	rep.SLABreaches = labelled(total, SLAPrefix)
	rep.Channels = labelled(total, ChannelPrefix)
	rep.Actions = labelled(total, ActionPrefix)
	rep.Languages = labelled(total, LanguagePrefix)
	rep.FirstReply = histogram(total, FirstReply)
	rep.Resolution = histogram(total, Resolution)
	for i := range rep.CSAT.Scores {
		rep.CSAT.Scores[i] = total[CSATPrefix+strconv.Itoa(i+1)]
	}
	rep.CSAT.Count = total[CSATCount]
	if rep.CSAT.Count > 0 {
		rep.CSAT.Average = float64(total[CSATSum]) / float64(rep.CSAT.Count)
	}
	rep.KnowledgeGaps = KnowledgeGaps(questions, gaps)
	if rep.KnowledgeGaps == nil {
		rep.KnowledgeGaps = []Gap{}
	}
	rep.QuestionsDropped = total[QuestionsDropped]
	return rep, nil
}

// figures derives the main figures from one day's (or a range's) counters.
func figures(c map[string]int64) Figures {
	f := Figures{
		Conversations:    c[Conversations],
		Messages:         c[Messages],
		Answered:         c[Answered],
		NotSure:          c[NotSure],
		Consulting:       c[Consulting],
		Handoffs:         c[Handoffs],
		AnswersConfirmed: c[AnswersConfirmed],
		AnswersRejected:  c[AnswersRejected],
		CSATConfirmed:    c[CSATPrefix+"4"] + c[CSATPrefix+"5"],
		TicketsResolved:  c[TicketsResolved],
		ActionRuns:       c[ActionRuns],
	}
	// A verdict may land on the day after its answer; a day never shows
	// fewer than zero assumed answers.
	f.AnswersAssumed = max(f.Answered-f.AnswersConfirmed-f.AnswersRejected, 0)
	f.ConfirmedResolved = f.AnswersConfirmed + f.CSATConfirmed
	f.AssumedResolved = f.AnswersAssumed
	if bot := f.AnswersConfirmed + f.AnswersAssumed; bot+f.Handoffs > 0 {
		f.DeflectionRate = float64(bot) / float64(bot+f.Handoffs)
	}
	return f
}

// labelled returns the counters of one family by label, largest first.
func labelled(c map[string]int64, prefix string) []Count {
	out := []Count{}
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if label, ok := strings.CutPrefix(k, prefix); ok && c[k] > 0 {
			out = append(out, Count{Label: label, Count: c[k]})
		}
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

func histogram(c map[string]int64, h string) Histogram {
	names, count, sum := HistogramNames(h)
	out := Histogram{Count: c[count], SumSeconds: c[sum], Buckets: make([]Bucket, len(names))}
	for i, name := range names {
		b := Bucket{Count: c[name]}
		if i < len(DurationBuckets) {
			b.UpToSeconds = DurationBuckets[i]
			b.Label = "≤ " + FormatSeconds(b.UpToSeconds)
		} else {
			b.Label = "> " + FormatSeconds(DurationBuckets[len(DurationBuckets)-1])
		}
		out.Buckets[i] = b
	}
	if out.Count > 0 {
		out.AverageSeconds = float64(out.SumSeconds) / float64(out.Count)
		// The bucket where the running count passes half of all
		// observations (bucket counts, not Count, in case they differ).
		var all, seen int64
		for _, b := range out.Buckets {
			all += b.Count
		}
		for _, b := range out.Buckets {
			seen += b.Count
			if all > 0 && 2*seen >= all {
				out.Median = b.Label
				break
			}
		}
	}
	return out
}

// FormatSeconds writes a duration for people: "45 s", "15 min", "2 h",
// "3 d", "1 h 30 min".
func FormatSeconds(s int64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min", s/60)
	case s < 86400:
		if m := s % 3600 / 60; m != 0 {
			return fmt.Sprintf("%d h %d min", s/3600, m)
		}
		return fmt.Sprintf("%d h", s/3600)
	}
	if h := s % 86400 / 3600; h != 0 {
		return fmt.Sprintf("%d d %d h", s/86400, h)
	}
	return fmt.Sprintf("%d d", s/86400)
}
