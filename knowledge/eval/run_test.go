package eval_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
		{eval.XSID, []string{"RESULT dataset=xsid split=val accuracy=", " queries=3 cards=3 phrasings=9"}},
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
		{"xsid without test_de", eval.Config{Dataset: eval.XSID, Path: xsidWithout(t, "test_de"), Split: eval.SplitTest}, conversation.NotFound},
		{"xsid without dev_de", eval.Config{Dataset: eval.XSID, Path: xsidWithout(t, "dev_de"), Split: eval.SplitDev}, conversation.Invalid},
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

// The xSID fixture's German questions reach the English cards, on the dev
// split (also called val) and on a sealed-style copy's test_de split.
func TestRunXSIDSplits(t *testing.T) {
	for _, tt := range []struct{ split, want string }{
		{eval.SplitDev, " queries=3 cards=3"},
		{eval.SplitTest, " queries=2 cards=3"},
	} {
		t.Run(tt.split, func(t *testing.T) {
			r, err := eval.Run(context.Background(), eval.Config{Dataset: eval.XSID, Path: "testdata/xsid", Split: tt.split, WorkDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Line(), tt.want) || !strings.HasPrefix(r.Line(), "RESULT dataset=xsid split="+tt.split+" accuracy=") {
				t.Errorf("got %q, want split %s and %q", r.Line(), tt.split, tt.want)
			}
			if acc := r.Metrics[0].Value; acc < 0.5 {
				t.Errorf("accuracy %.2f on the fixture's German questions, want at least 0.5 (the English cards are not reached)", acc)
			}
		})
	}
}

// xsidWithout writes a copy of the xSID fixture without key and returns
// its folder.
func xsidWithout(tb testing.TB, key string) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/xsid/xsid.json")
	if err != nil {
		tb.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		tb.Fatal(err)
	}
	delete(raw, key)
	out, err := json.Marshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "xsid.json"), out, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}
