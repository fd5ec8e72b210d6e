package knowledge

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/tier0/tier0/conversation"
)

// MaxCalibrationExamples bounds one Calibrate call.
const MaxCalibrationExamples = 100000

// Calibration is the answerability threshold chosen on labelled questions,
// stored in the index manifest so every process that opens the index
// answers with it.
type Calibration struct {
	// Threshold is the score from which a question counts as answerable.
	Threshold float64 `json:"threshold"`
	// Examples, Answerable: how many questions were used, and how many of
	// them the index should answer.
	Examples   int `json:"examples"`
	Answerable int `json:"answerable"`
	// Accuracy is the share of the answerable questions answered with the
	// right source or card at Threshold; DeclineRecall the share of the
	// unanswerable ones declined (0 without any).
	Accuracy      float64   `json:"accuracy"`
	DeclineRecall float64   `json:"decline_recall"`
	At            time.Time `json:"at"`
}

// CalibrationExample is one labelled question for Calibrate.
type CalibrationExample struct {
	Query string
	// Want is the FAQ card id or the document source that answers Query,
	// "" when nothing in the index does (the question must be declined).
	Want string
}

// CalibrateOptions tunes Calibrate.
type CalibrateOptions struct {
	Filter Filter
	// DeclineWeight is how much declining one unanswerable question is
	// worth next to answering one answerable question right. 0 means 1:
	// every question counts once. A negative weight balances the two
	// kinds: both weigh the same in total.
	DeclineWeight float64
	// Progress, if not nil, is called after each question.
	Progress func(done, total int)
}

// Outcome is what Retrieve made of one labelled question.
type Outcome struct {
	// Got is the best result's FAQ card id, or its source for a document
	// chunk; "" without results.
	Got     string
	Score   float64
	Correct bool // the best result is the wanted card or source
	// Answerable is the label: Want != "".
	Answerable bool
}

// Evaluate runs Retrieve for each example and returns the outcomes, for
// calibration and evaluation. Errors: Invalid for too many examples,
// those of Retrieve.
func (ix *Index) Evaluate(ctx context.Context, examples []CalibrationExample, opt CalibrateOptions) ([]Outcome, error) {
	if len(examples) > MaxCalibrationExamples {
		return nil, conversation.Errorf(conversation.Invalid, "calibrate: %d examples, more than %d", len(examples), MaxCalibrationExamples)
	}
	out := make([]Outcome, len(examples))
	for i, e := range examples {
		r, err := ix.Retrieve(ctx, e.Query, RetrieveOptions{K: 1, Filter: opt.Filter})
		if err != nil {
			return nil, fmt.Errorf("calibrate on %.40q: %w", e.Query, err)
		}
		out[i] = Outcome{Score: r.Score, Answerable: e.Want != ""}
		if len(r.Hits) > 0 {
			c := r.Hits[0].Chunk
			out[i].Got = c.Card
			if c.Card == "" {
				out[i].Got = c.Source
			}
			out[i].Correct = e.Want != "" && out[i].Got == e.Want
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(examples))
		}
	}
	return out, nil
}

// Calibrate chooses the answerability threshold on labelled questions and
// stores it with the index: the threshold that maximises the weighted
// number of right decisions (an answerable question answered with the
// right result, an unanswerable one declined; see DeclineWeight). Errors:
// Invalid without examples, Unavailable when the index is empty, those of
// Evaluate, Internal when the manifest cannot be written.
func (ix *Index) Calibrate(ctx context.Context, examples []CalibrationExample, opt CalibrateOptions) (Calibration, error) {
	if len(examples) == 0 {
		return Calibration{}, conversation.Errorf(conversation.Invalid, "calibrate: no examples")
	}
	if ix.Count() == 0 {
		return Calibration{}, conversation.Errorf(conversation.Unavailable, "calibrate: the index is empty: run ingest first")
	}
	outs, err := ix.Evaluate(ctx, examples, opt)
	if err != nil {
		return Calibration{}, err
	}
	cal := ChooseThreshold(outs, opt.DeclineWeight)
	if err := ix.SaveCalibration(cal); err != nil {
		return Calibration{}, err
	}
	return cal, nil
}

// SaveCalibration stores cal in the index manifest (stamped with the time
// when cal.At is zero), for callers that ran Evaluate and ChooseThreshold
// themselves. Errors: Invalid for a threshold outside [0,1], Internal when
// the manifest cannot be written.
func (ix *Index) SaveCalibration(cal Calibration) error {
	if !(cal.Threshold >= 0 && cal.Threshold <= 1) {
		return conversation.Errorf(conversation.Invalid, "calibration threshold %v, want 0 to 1", cal.Threshold)
	}
	if cal.At.IsZero() {
		cal.At = time.Now().UTC()
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	m := ix.man
	m.Calibration = &cal
	return ix.saveManifest(m)
}

// ChooseThreshold picks the threshold for outcomes (see Calibrate) and
// reports the accuracy and decline recall it gives. Among equally good
// thresholds it takes the lowest range, and the midpoint of that range.
func ChooseThreshold(outs []Outcome, declineWeight float64) Calibration {
	var pos, neg int
	for _, o := range outs {
		if o.Answerable {
			pos++
		} else {
			neg++
		}
	}
	wPos, wNeg := 1.0, declineWeight
	switch {
	case declineWeight == 0:
		wNeg = 1
	case declineWeight < 0 && neg > 0:
		wNeg = float64(pos) / float64(neg)
	}
	// Candidate thresholds: just above each score, and 0.
	sorted := append([]Outcome(nil), outs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Score < sorted[j].Score })
	// At threshold t every outcome with Score >= t is answered. Start with
	// t = 0 (all answered) and move t past one score at a time.
	gain := 0.0
	for _, o := range sorted {
		if o.Answerable && o.Correct {
			gain += wPos
		}
	}
	best, lo, hi := gain, 0.0, 0.0
	for i := 0; i < len(sorted); i++ {
		o := sorted[i]
		switch {
		case o.Answerable && o.Correct:
			gain -= wPos
		case !o.Answerable:
			gain += wNeg
		}
		if i+1 < len(sorted) && sorted[i+1].Score == o.Score {
			continue
		}
		t := o.Score
		next := 1.0
		if i+1 < len(sorted) {
			next = sorted[i+1].Score
		}
		if gain > best {
			best, lo, hi = gain, t, next
		}
	}
	th := min(1, (lo+hi)/2)
	if lo == 0 && hi == 0 {
		th = 0
	}
	cal := Calibration{Threshold: th, Examples: len(outs), Answerable: pos}
	cal.Accuracy, cal.DeclineRecall = Rates(outs, th)
	return cal
}

// Rates returns, at threshold th, the share of answerable outcomes answered
// correctly and the share of unanswerable ones declined (0 when there are
// none of a kind).
func Rates(outs []Outcome, th float64) (accuracy, declineRecall float64) {
	var pos, neg, right, declined int
	for _, o := range outs {
		answered := o.Score >= th
		if o.Answerable {
			pos++
			if answered && o.Correct {
				right++
			}
		} else {
			neg++
			if !answered {
				declined++
			}
		}
	}
	if pos > 0 {
		accuracy = float64(right) / float64(pos)
	}
	if neg > 0 {
		declineRecall = float64(declined) / float64(neg)
	}
	return accuracy, declineRecall
}

// Threshold returns the calibrated answerability threshold of the index,
// DefaultThreshold when it was never calibrated.
func (ix *Index) Threshold() float64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if c := ix.man.Calibration; c != nil && c.Threshold >= 0 && c.Threshold <= 1 {
		return c.Threshold
	}
	return DefaultThreshold
}

// Calibration returns the stored calibration, nil when there is none.
func (ix *Index) Calibration() *Calibration {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.man.Calibration == nil {
		return nil
	}
	c := *ix.man.Calibration
	return &c
}
