package eval_test

import (
	"math"
	"testing"

	"github.com/tier0/tier0/knowledge/eval"
)

func TestIntentMetrics(t *testing.T) {
	ps := []eval.Prediction{
		{Want: "a", Got: "a"},
		{Want: "a", Got: "b"},
		{Want: "b", Got: ""}, // in scope but declined: wrong
		{Want: "b", Got: "b"},
		{Want: "", Got: ""},  // out of scope, declined
		{Want: "", Got: "a"}, // out of scope, answered
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"accuracy", eval.Accuracy(ps), 3.0 / 6},
		{"in-scope accuracy", eval.InScopeAccuracy(ps), 2.0 / 4},
		{"oos recall", eval.OOSRecall(ps), 1.0 / 2},
		{"accuracy of nothing", eval.Accuracy(nil), 0},
		{"in-scope accuracy without in-scope", eval.InScopeAccuracy(ps[4:]), 0},
		{"oos recall without oos", eval.OOSRecall(ps[:4]), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if math.Abs(tt.got-tt.want) > 1e-12 {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestRecallAtK(t *testing.T) {
	rel := map[string]bool{"q1": true, "q2": true, "q3": true, "q4": true}
	ranked := []string{"x", "q1", "q1", "y", "q2", "q3"}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"k=1", eval.RecallAtK(ranked, rel, 1), 0},
		{"k=3 counts a repeated id once", eval.RecallAtK(ranked, rel, 3), 1.0 / 4},
		{"k=5", eval.RecallAtK(ranked, rel, 5), 2.0 / 4},
		{"k beyond the ranking", eval.RecallAtK(ranked, rel, 30), 3.0 / 4},
		{"nothing relevant", eval.RecallAtK(ranked, nil, 5), 0},
		{"mean skips queries without relevant ids", eval.MeanRecallAtK([][]string{ranked, {"q9"}, {"z"}}, []map[string]bool{rel, {"q9": true}, {}}, 5), (2.0/4 + 1) / 2},
		{"mean of nothing", eval.MeanRecallAtK(nil, nil, 5), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if math.Abs(tt.got-tt.want) > 1e-12 {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
