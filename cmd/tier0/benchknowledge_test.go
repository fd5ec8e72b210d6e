package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestBenchKnowledgeOnFixtures(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "knowledge", "-data", "../../knowledge/eval/testdata", "-chunks", "6", "-queries", "3"}
	if err := run(context.Background(), args, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("bench knowledge: %v\n%s", err, errb.String())
	}
	line := strings.TrimSpace(out.String())
	for _, want := range []string{"RESULT suite=knowledge chunks=6 ", "ingest_chunks_per_sec=", "retrieval_p50_ms=", "retrieval_p99_ms=", "queries=3 ", "heap_mb=", "disk_mb="} {
		if !strings.Contains(line, want) {
			t.Errorf("RESULT line %q lacks %q", line, want)
		}
	}
	// Asking for more chunks than the corpus has is an error, not a smaller run.
	args[5] = "100000"
	if err := run(context.Background(), args, strings.NewReader(""), &out, &errb); err == nil || !strings.Contains(err.Error(), "asked for") {
		t.Errorf("bench knowledge with too few texts: err = %v, want one saying how many were asked for", err)
	}
}
