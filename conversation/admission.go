package conversation

import (
	"sync"
	"sync/atomic"
	"time"
)

// ErrOverloaded: the engine refused a new turn because the turns already
// in it would take longer than its latency budget to serve (see
// AdmissionConfig). Nothing was written; the message may be handed in
// again after the delay RetryAfter reports. Its code is Unavailable.
var ErrOverloaded = &Error{Code: Unavailable, Message: "too many turns in progress; try again shortly"}

// AdmissionConfig bounds the turns waiting inside one engine. Zero values
// take the defaults.
type AdmissionConfig struct {
	// Budget is the latency budget of a turn (default 2s; negative: no
	// admission control). A new turn is refused with ErrOverloaded when
	// the turns in flight would take longer than Budget to finish at the
	// rate the engine completed turns over the last seconds (Little's
	// law: wait ≈ in flight / completion rate).
	Budget time.Duration
	// MinInFlight turns are always admitted, whatever the measured rate
	// (default 256), so a cold or idle engine never refuses a burst.
	MinInFlight int
}

func (c AdmissionConfig) withDefaults() AdmissionConfig {
	if c.Budget == 0 {
		c.Budget = 2 * time.Second
	}
	if c.MinInFlight <= 0 {
		c.MinInFlight = 256
	}
	return c
}

// Load is a snapshot of the work inside an engine, for gauges.
type Load struct {
	// InFlight is the number of turns being handled (waiting for their
	// conversation, for CPU, for the store, or deciding).
	InFlight int
	// OldestTurn is how long the oldest turn in flight has been running.
	OldestTurn time.Duration
	// TurnsPerSecond is the recent completion rate the admission uses.
	TurnsPerSecond float64
	// Limit is the number of turns in flight above which new ones are
	// refused right now (0 without admission control).
	Limit int
	// Refused counts the turns refused with ErrOverloaded since start.
	Refused uint64
}

// admissionSample is how often the completion rate is sampled; the rate is an
// exponentially weighted average of the samples.
const admissionSample = 250 * time.Millisecond

// admission tracks turns in flight and the completion rate.
type admission struct {
	cfg       AdmissionConfig
	inFlight  atomic.Int64
	completed atomic.Int64
	refused   atomic.Uint64

	mu       sync.Mutex
	started  map[uint64]time.Time // turn id → start, for the oldest turn's age
	nextID   uint64
	sampleAt time.Time
	sampleN  int64
	rate     float64 // turns per second (EWMA)
}

func newAdmission(cfg AdmissionConfig) *admission {
	return &admission{cfg: cfg.withDefaults(), started: make(map[uint64]time.Time)}
}

// enter admits a turn at now, or returns ErrOverloaded wrapped in a
// RetryAfterError. done must be called when the admitted turn ends.
func (a *admission) enter(now time.Time) (done func(), err error) {
	a.mu.Lock()
	a.sampleLocked(now)
	limit := a.limitLocked()
	if limit > 0 && int(a.inFlight.Load()) >= limit {
		wait := time.Second
		if a.rate > 0 {
			wait = max(wait, time.Duration(float64(a.inFlight.Load())/a.rate*float64(time.Second)))
		}
		a.mu.Unlock()
		a.refused.Add(1)
		return nil, &RetryAfterError{After: wait.Round(time.Second), Err: ErrOverloaded}
	}
	a.nextID++
	id := a.nextID
	a.started[id] = now
	a.inFlight.Add(1)
	a.mu.Unlock()
	return func() {
		a.inFlight.Add(-1)
		a.completed.Add(1)
		a.mu.Lock()
		delete(a.started, id)
		a.mu.Unlock()
	}, nil
}

// sampleLocked folds the completions since the last sample into the rate.
func (a *admission) sampleLocked(now time.Time) {
	if a.sampleAt.IsZero() {
		a.sampleAt, a.sampleN = now, a.completed.Load()
		return
	}
	dt := now.Sub(a.sampleAt)
	if dt < admissionSample {
		return
	}
	n := a.completed.Load()
	r := float64(n-a.sampleN) / dt.Seconds()
	if a.rate == 0 {
		a.rate = r
	} else {
		a.rate = 0.7*a.rate + 0.3*r
	}
	a.sampleAt, a.sampleN = now, n
}

// limitLocked is the number of turns in flight the engine serves within
// its budget at the current rate; 0 without admission control.
func (a *admission) limitLocked() int {
	if a.cfg.Budget < 0 {
		return 0
	}
	return max(a.cfg.MinInFlight, int(a.rate*a.cfg.Budget.Seconds()))
}

func (a *admission) load(now time.Time) Load {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sampleLocked(now)
	l := Load{InFlight: int(a.inFlight.Load()), TurnsPerSecond: a.rate, Limit: a.limitLocked(), Refused: a.refused.Load()}
	for _, t := range a.started {
		if age := now.Sub(t); age > l.OldestTurn {
			l.OldestTurn = age
		}
	}
	return l
}
