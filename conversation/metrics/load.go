package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tier0/tier0/conversation"
)

// LoadSources are what the load gauges read at each scrape.
type LoadSources struct {
	// Engine reports the turns in flight (conversation.Engine.Load).
	Engine func() conversation.Load
	// DeliveryQueue reports the conversations waiting for delivery
	// (conversation.Dispatcher.Queued); nil leaves the gauge out.
	DeliveryQueue func() int
}

// RegisterLoad registers the gauges of the engine's queue on reg:
// tier0_engine_turns_in_flight, tier0_engine_oldest_turn_seconds,
// tier0_engine_turns_per_second, tier0_engine_admission_limit,
// tier0_engine_turns_refused_total and tier0_delivery_queue. Errors:
// Invalid without an Engine source, Conflict when reg already holds them.
func RegisterLoad(reg prometheus.Registerer, src LoadSources) error {
	if src.Engine == nil {
		return conversation.Errorf(conversation.Invalid, "metrics: load gauges need the engine's Load")
	}
	gauge := func(name, help string, f func(conversation.Load) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(src.Engine()) })
	}
	cs := []prometheus.Collector{
		gauge("tier0_engine_turns_in_flight", "Customer turns inside the engine: waiting for their conversation, the store or CPU, or deciding.",
			func(l conversation.Load) float64 { return float64(l.InFlight) }),
		gauge("tier0_engine_oldest_turn_seconds", "Age of the oldest turn in flight.",
			func(l conversation.Load) float64 { return l.OldestTurn.Seconds() }),
		gauge("tier0_engine_turns_per_second", "Recent completion rate of turns, as the admission control measures it.",
			func(l conversation.Load) float64 { return l.TurnsPerSecond }),
		gauge("tier0_engine_admission_limit", "Turns in flight above which new ones are refused as overloaded (0: no admission control).",
			func(l conversation.Load) float64 { return float64(l.Limit) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tier0_engine_turns_refused_total", Help: "Customer turns refused because the engine was past its latency budget."},
			func() float64 { return float64(src.Engine().Refused) }),
	}
	if src.DeliveryQueue != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tier0_delivery_queue", Help: "Conversations waiting for delivery or being delivered on this replica."},
			func() float64 { return float64(src.DeliveryQueue()) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return conversation.Errorf(conversation.Conflict, "metrics: register load gauges: %w", err)
		}
	}
	return nil
}
