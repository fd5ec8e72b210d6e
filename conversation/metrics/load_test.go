package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/metrics"
)

func TestLoadGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	load := conversation.Load{InFlight: 7, OldestTurn: 1500 * time.Millisecond, TurnsPerSecond: 120, Limit: 240, Refused: 3}
	err := metrics.RegisterLoad(reg, metrics.LoadSources{
		Engine:        func() conversation.Load { return load },
		DeliveryQueue: func() int { return 4 },
	})
	if err != nil {
		t.Fatalf("RegisterLoad: %v", err)
	}
	want := `
# HELP tier0_delivery_queue Conversations waiting for delivery or being delivered on this replica.
# TYPE tier0_delivery_queue gauge
tier0_delivery_queue 4
# HELP tier0_engine_admission_limit Turns in flight above which new ones are refused as overloaded (0: no admission control).
# TYPE tier0_engine_admission_limit gauge
tier0_engine_admission_limit 240
# HELP tier0_engine_oldest_turn_seconds Age of the oldest turn in flight.
# TYPE tier0_engine_oldest_turn_seconds gauge
tier0_engine_oldest_turn_seconds 1.5
# HELP tier0_engine_turns_in_flight Customer turns inside the engine: waiting for their conversation, the store or CPU, or deciding.
# TYPE tier0_engine_turns_in_flight gauge
tier0_engine_turns_in_flight 7
# HELP tier0_engine_turns_per_second Recent completion rate of turns, as the admission control measures it.
# TYPE tier0_engine_turns_per_second gauge
tier0_engine_turns_per_second 120
# HELP tier0_engine_turns_refused_total Customer turns refused because the engine was past its latency budget.
# TYPE tier0_engine_turns_refused_total counter
tier0_engine_turns_refused_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	load.InFlight = 9
	if got := testutil.ToFloat64(collector(t, reg, "tier0_engine_turns_in_flight")); got != 9 {
		t.Errorf("in flight after a change = %v, want 9 (read at each scrape)", got)
	}
	if err := metrics.RegisterLoad(reg, metrics.LoadSources{Engine: func() conversation.Load { return load }}); conversation.ErrorCode(err) != conversation.Conflict {
		t.Errorf("second RegisterLoad: %v, want Conflict", err)
	}
	if err := metrics.RegisterLoad(prometheus.NewRegistry(), metrics.LoadSources{}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("RegisterLoad without an engine: %v, want Invalid", err)
	}
}

// collector gathers one metric family from reg as a collector.
func collector(tb testing.TB, reg *prometheus.Registry, name string) prometheus.Collector {
	tb.Helper()
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			v := f.GetMetric()[0].GetGauge().GetValue()
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(v)
			return g
		}
	}
	tb.Fatalf("no metric %s", name)
	return nil
}
