package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestEvalCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantLast string // prefix of the last stdout line
		wantErr  string
	}{
		{
			name:     "clinc150 fixture",
			args:     []string{"eval", "-dataset", "clinc150", "-path", "../../knowledge/eval/testdata/clinc150", "-workdir", t.TempDir()},
			wantLast: "RESULT dataset=clinc150 split=val in_scope_acc=",
		},
		{
			name:     "clariq fixture",
			args:     []string{"eval", "-dataset", "clariq", "-path", "../../knowledge/eval/testdata/clariq", "-split", "val", "-workdir", t.TempDir()},
			wantLast: "RESULT dataset=clariq split=val recall_at_5=",
		},
		{
			name:     "all data sets, table and one RESULT line each",
			args:     []string{"eval", "-dataset", "all", "-path", "../../knowledge/eval/testdata", "-workdir", t.TempDir()},
			wantLast: "RESULT dataset=xsid split=val accuracy=",
		},
		{
			name:     "xsid fixture, sealed-style test split",
			args:     []string{"eval", "-dataset", "xsid", "-path", "../../knowledge/eval/testdata/xsid", "-split", "test", "-workdir", t.TempDir()},
			wantLast: "RESULT dataset=xsid split=test accuracy=",
		},
		{name: "unknown data set", args: []string{"eval", "-dataset", "imdb", "-path", "x"}, wantErr: `data set "imdb"`},
		{name: "stray argument", args: []string{"eval", "-dataset", "clinc150", "-path", "x", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v (stderr %s), want none", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tt.wantLast) {
				t.Errorf("got last line %q, want it to start with %q", last, tt.wantLast)
			}
			if tt.args[2] == "all" {
				out := stdout.String()
				for _, want := range []string{"published", "RESULT dataset=clinc150", "RESULT dataset=banking77", "RESULT dataset=clariq", "BM25 0.325", "TF-IDF 1-NN 0.293"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
			}
			if !strings.Contains(stderr.String(), "ingest") {
				t.Errorf("got stderr %q, want a progress bar", stderr.String())
			}
		})
	}
}
