// Package analytics turns tier0's domain events into help desk figures
// that every replica shares: conversations per day, answers, deflection,
// handoffs by reason, conversations by language, time to the first human reply, resolution time,
// satisfaction (CSAT), SLA breaches and the knowledge gaps behind the
// questions the bot could not answer.
//
// A [Recorder] is a [conversation.EventSink]. Record only adds the events
// of a turn to counters in memory (under a mutex, never I/O); every
// FlushInterval (default 2 s) and on Close the counters are added to a
// [Store] shared by all replicas (conversation/redisstore, or
// conversation/boltstore for a single node), one batch per UTC day. A
// process that is killed without Close loses at most the counts of one
// interval; a failed flush keeps its counts in memory and retries them
// with the next one. [Recorder.Report] reads a range of days back and
// [Summarize] turns them into a [Report].
//
// # Figures
//
// Every event counts on the UTC day it happened. The resolution figures
// are counted per answer the bot gave (the engine marks, on each
// feedback click and handoff, whether it settles the latest answer):
//
//   - an answer is confirmed when the customer's next verdict on it is a
//     "helpful" click;
//   - it is rejected when the next verdict is a "not helpful" click, or
//     the conversation is handed to a person before any verdict or newer
//     answer;
//   - every other answer (the customer moved on to another question, or
//     left) is assumed to have resolved its question: assumed = answers −
//     confirmed − rejected.
//
// Confirmed resolved adds the tickets rated 4 or 5 (CSAT, first rating of
// a ticket only) to the confirmed answers. The deflection rate is the
// share of questions the bot settled without a person: (confirmed +
// assumed answers) / (confirmed + assumed answers + handoffs).
//
// Customer text is kept only for knowledge gaps: the question of each
// not_sure event, normalised by [NormalizeQuestion] (lower case, no
// punctuation, e-mail addresses and long numbers masked, at most
// [MaxQuestionRunes] characters).
package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Store keeps the daily figures of every replica. Implementations:
// conversation/redisstore, conversation/boltstore; both pass the
// conformance suite conversation/storetest.RunStats.
type Store interface {
	// AddStats adds counters and question counts to day ("2006-01-02",
	// UTC) in one atomic step. Zero counts are skipped. A day's figures
	// are kept for [Retention] after the day ends; adding to an older day
	// does nothing. Each day keeps at most [StoredQuestionsPerDay]
	// distinct questions, the most frequent where it has to choose.
	// Errors: Invalid (see [CheckStats]), Unavailable.
	AddStats(ctx context.Context, day string, counters, questions map[string]int64) error
	// Stats returns the figures of the days from fromDay to toDay
	// (inclusive) that have any, oldest first, each with at most
	// [QuestionsPerDay] questions: the most frequent, ties in any order.
	// Errors: Invalid (malformed days, from after to, a range longer than
	// [MaxRangeDays]), Unavailable.
	Stats(ctx context.Context, fromDay, toDay string) ([]DayStats, error)
}

// DayStats is what a Store holds for one day.
type DayStats struct {
	Day       string           `json:"day"`
	Counters  map[string]int64 `json:"counters"`
	Questions map[string]int64 `json:"questions"`
}

// Limits shared by every Store implementation.
const (
	// DayLayout is the format of days ("2006-01-02", UTC).
	DayLayout = "2006-01-02"
	// Retention is how long a day's figures are kept after the day.
	Retention = 400 * 24 * time.Hour
	// MaxRangeDays bounds the days one Stats call reads.
	MaxRangeDays = 400
	// QuestionsPerDay is how many questions Stats returns per day.
	QuestionsPerDay = 200
	// StoredQuestionsPerDay bounds the distinct questions kept per day.
	StoredQuestionsPerDay = 2000
	// MaxNameLen bounds a counter name, in bytes.
	MaxNameLen = 128
	// MaxQuestionRunes bounds a normalised question, in characters.
	MaxQuestionRunes = 200
	// MaxQuestionLen bounds a question a Store accepts, in bytes.
	MaxQuestionLen = 4 * MaxQuestionRunes
	// MaxEntries bounds the counters, and separately the questions, of
	// one AddStats call.
	MaxEntries = 5000
)

// ParseDay parses a day in DayLayout. Errors: Invalid.
func ParseDay(day string) (time.Time, error) {
	t, err := time.Parse(DayLayout, day)
	if err != nil || t.Format(DayLayout) != day {
		return time.Time{}, conversation.Errorf(conversation.Invalid, "analytics: day %q is not a date like 2006-01-02", day)
	}
	return t, nil
}

// DayOf returns the UTC day of t in DayLayout.
func DayOf(t time.Time) string { return t.UTC().Format(DayLayout) }

// Expired reports whether day's figures are past Retention at now.
func Expired(day time.Time, now time.Time) bool {
	return now.After(day.Add(24 * time.Hour).Add(Retention))
}

// CheckStats checks the arguments of Store.AddStats: a well-formed day;
// at most MaxEntries counters and questions; names of 1..MaxNameLen and
// questions of 1..MaxQuestionLen bytes of valid UTF-8 without control
// characters; no negative counts. Errors: Invalid.
func CheckStats(day string, counters, questions map[string]int64) error {
	if _, err := ParseDay(day); err != nil {
		return err
	}
	if len(counters) > MaxEntries || len(questions) > MaxEntries {
		return conversation.Errorf(conversation.Invalid, "analytics: at most %d counters and %d questions per call", MaxEntries, MaxEntries)
	}
	for name, n := range counters {
		if !conversation.Printable(name, MaxNameLen) || n < 0 {
			return conversation.Errorf(conversation.Invalid, "analytics: counter %q must be a name of 1..%d bytes with a count >= 0", name, MaxNameLen)
		}
	}
	for q, n := range questions {
		if !conversation.Printable(q, MaxQuestionLen) || n < 0 {
			return conversation.Errorf(conversation.Invalid, "analytics: questions must be 1..%d bytes with a count >= 0", MaxQuestionLen)
		}
	}
	return nil
}

// CheckRange checks the arguments of Store.Stats and returns the first
// day and the number of days. Errors: Invalid.
func CheckRange(fromDay, toDay string) (time.Time, int, error) {
	from, err := ParseDay(fromDay)
	if err != nil {
		return time.Time{}, 0, err
	}
	to, err := ParseDay(toDay)
	if err != nil {
		return time.Time{}, 0, err
	}
	n := int(to.Sub(from)/(24*time.Hour)) + 1
	if n < 1 || n > MaxRangeDays {
		return time.Time{}, 0, conversation.Errorf(conversation.Invalid, "analytics: range %s..%s must run forward over at most %d days", fromDay, toDay, MaxRangeDays)
	}
	return from, n, nil
}

// Days lists the n days starting at from, in DayLayout.
func Days(from time.Time, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = from.AddDate(0, 0, i).Format(DayLayout)
	}
	return out
}

// Counter names. Labelled families end in ':' and take a label such as a
// reason ("handoff_reason:frustration"); duration histograms are named
// by [HistogramNames].
const (
	Conversations    = "conversations" // first messages of new conversations
	Messages         = "messages"      // customer messages
	Answered         = "answered"      // answers from knowledge
	NotSure          = "not_sure"      // turns the bot could not answer
	Consulting       = "consulting"    // consulting questions asked
	Handoffs         = "handoffs"      // conversations handed to a person
	Helpful          = "feedback_helpful"
	NotHelpful       = "feedback_not_helpful"
	AnswersConfirmed = "answers_confirmed" // answers settled by a helpful click
	AnswersRejected  = "answers_rejected"  // answers settled by a not-helpful click or a handoff
	TicketsResolved  = "tickets_resolved"
	TicketsHandBack  = "tickets_handed_back"
	TicketsEscalated = "tickets_escalated"
	CSATCount        = "csat_count"
	CSATSum          = "csat_sum"
	QuestionsDropped = "questions_dropped" // unanswered questions not kept (caps)
	ActionRuns       = "action_runs"       // actions finished, refused or cancelled

	ChannelPrefix       = "conversations_channel:"
	HandoffReasonPrefix = "handoff_reason:"
	NotSureReasonPrefix = "not_sure_reason:"
	SLAPrefix           = "sla_breach:"
	CSATPrefix          = "csat:"   // csat:1 … csat:5
	ActionPrefix        = "action:" // action:order_status.ok
	// LanguagePrefix counts conversations by language (language:de): each
	// time a conversation's language is set or switches to it.
	LanguagePrefix = "language:"
)

// Duration histograms.
const (
	FirstReply = "first_reply" // ticket opened → first agent reply
	Resolution = "resolution"  // ticket opened → resolved
)

// DurationBuckets are the upper bounds, in seconds, of the duration
// histograms' buckets; a last bucket takes everything longer.
var DurationBuckets = []int64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200}

// HistogramNames returns the counter names of histogram h: one per
// bucket ("<h>_le:<seconds>", the last "<h>_le:inf"), the observation
// count ("<h>_count") and the sum of seconds ("<h>_sum_s").
func HistogramNames(h string) (buckets []string, count, sum string) {
	for _, b := range DurationBuckets {
		buckets = append(buckets, fmt.Sprintf("%s_le:%d", h, b))
	}
	return append(buckets, h+"_le:inf"), h + "_count", h + "_sum_s"
}
