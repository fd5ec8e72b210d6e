package eval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge/eval"
)

func TestRun(t *testing.T) {
	tests := []struct {
		dataset string
		want    []string // RESULT line fragments
	}{
		{eval.CLINC150, []string{"RESULT dataset=clinc150 split=val in_scope_acc=1.0000 oos_recall=1.0000 queries=4 cards=3 phrasings=12"}},
		{eval.Banking77, []string{"RESULT dataset=banking77 split=val accuracy=1.0000 queries=4 cards=2 phrasings=36"}},
		{eval.ClariQ, []string{"RESULT dataset=clariq split=val recall_at_5=1.0000 recall_at_10=1.0000 recall_at_20=1.0000 recall_at_30=1.0000 queries=2 cards=4"}},
	}
	for _, tt := range tests {
		t.Run(tt.dataset, func(t *testing.T) {
			stages := map[string]bool{}
			r, err := eval.Run(context.Background(), eval.Config{
				Dataset: tt.dataset, Path: "testdata/" + tt.dataset, Split: eval.SplitVal, WorkDir: t.TempDir(),
				Progress: func(stage string, done, total int) { stages[stage] = true },
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Line(), w) {
					t.Errorf("got %q, want it to contain %q", r.Line(), w)
				}
			}
			if !stages["ingest"] {
				t.Errorf("got progress stages %v, want ingest among them", stages)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  eval.Config
		want conversation.Code
	}{
		{"unknown data set", eval.Config{Dataset: "mnist", Path: "x", Split: eval.SplitVal}, conversation.Invalid},
		{"unknown split", eval.Config{Dataset: eval.CLINC150, Path: "x", Split: "train"}, conversation.Invalid},
		{"no path", eval.Config{Dataset: eval.CLINC150, Split: eval.SplitVal}, conversation.Invalid},
		{"missing files", eval.Config{Dataset: eval.CLINC150, Path: t.TempDir(), Split: eval.SplitVal}, conversation.NotFound},
		{"sealed test split absent", eval.Config{Dataset: eval.Banking77, Path: "testdata/banking77", Split: eval.SplitTest}, conversation.NotFound},
		{"clinc150 without test items", eval.Config{Dataset: eval.CLINC150, Path: "testdata/clinc150", Split: eval.SplitTest}, conversation.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.WorkDir = t.TempDir()
			_, err := eval.Run(context.Background(), tt.cfg)
			if got := conversation.ErrorCode(err); got != tt.want {
				t.Errorf("got %v (code %q), want code %q", err, got, tt.want)
			}
		})
	}
}
