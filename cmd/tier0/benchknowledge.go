package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
	"github.com/tier0/tier0/knowledge/eval"
)

// runBenchKnowledge measures the knowledge layer on a 10,000-chunk index
// built from public text: ingestion rate with the offline embedding,
// retrieval latency (retrieval plus answerability, as in production) and
// memory. It prints one RESULT line.
func runBenchKnowledge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench knowledge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", filepath.Join("..", "shared", "bench"), "folder with banking77/train.csv (the corpus) and clinc150/data_full.json (the queries)")
	chunks := fs.Int("chunks", 10000, "chunks to index (rows of banking77/train.csv, at most 10,003)")
	queries := fs.Int("queries", 2000, "queries to time (clinc150 val utterances)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the query phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	corpus, err := readBanking77Texts(filepath.Join(*data, "banking77", "train.csv"), *chunks)
	if err != nil {
		return err
	}
	qs, err := readClincTexts(filepath.Join(*data, "clinc150", "data_full.json"), *queries)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tier0-bench-knowledge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	docs := filepath.Join(tmp, "docs")
	if err := writeCorpus(docs, corpus); err != nil {
		return err
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ix, err := knowledge.Open(filepath.Join(tmp, "index"), knowledge.NewHashEmbedder())
	if err != nil {
		return err
	}
	bar := newProgress(stderr, "ingest")
	start := time.Now()
	st, err := ix.Ingest(ctx, docs, bar.update)
	bar.finish()
	if err != nil {
		return err
	}
	ingestTime := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	disk, err := dirSize(filepath.Join(tmp, "index"))
	if err != nil {
		return err
	}

	ans := knowledge.NewAnswerer(ix, knowledge.AnswerConfig{})
	lat := make([]time.Duration, 0, len(qs))
	qbar := newProgress(stderr, "query")
	defer qbar.finish()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for i, q := range qs {
		qbar.update(i, len(qs))
		t0 := time.Now()
		if _, err := ans.Answer(ctx, conversation.Query{Text: q}); err != nil && conversation.ErrorCode(err) != conversation.Invalid {
			return fmt.Errorf("query %q: %w", q, err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	heapMB := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	fmt.Fprintf(stdout, "RESULT suite=knowledge chunks=%d ingest_chunks_per_sec=%.0f retrieval_p50_ms=%.2f retrieval_p99_ms=%.2f queries=%d heap_mb=%.1f disk_mb=%.1f\n",
		st.Chunks, float64(st.Chunks)/ingestTime.Seconds(), pct(lat, 50), pct(lat, 99), len(lat), heapMB, float64(disk)/(1<<20))
	return nil
}

// readBanking77Texts returns the first n texts of banking77's train.csv.
func readBanking77Texts(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench knowledge corpus: %w (pass -data, the folder that holds banking77/)", err)
	}
	defer f.Close()
	rows, err := eval.ReadBanking77(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(rows) < n {
		return nil, fmt.Errorf("%s has %d texts, %d asked for", path, len(rows), n)
	}
	return texts(rows[:n]), nil
}

// readClincTexts returns up to n utterances of clinc150's val split
// (in scope and out of scope).
func readClincTexts(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench knowledge queries: %w", err)
	}
	defer f.Close()
	d, err := eval.ReadCLINC150(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(d.Val) == 0 {
		return nil, errors.New(path + ": no val utterances")
	}
	return texts(d.Val[:min(n, len(d.Val))]), nil
}

func texts(ex []eval.Example) []string {
	out := make([]string, len(ex))
	for i, e := range ex {
		out[i] = e.Text
	}
	return out
}

// writeCorpus writes texts as markdown files of 100 sections each, so
// every text becomes one chunk.
func writeCorpus(dir string, texts []string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for f := 0; f*100 < len(texts); f++ {
		var b strings.Builder
		fmt.Fprintf(&b, "# Banking questions %d\n\n", f)
		for i := f * 100; i < min(len(texts), (f+1)*100); i++ {
			fmt.Fprintf(&b, "## Question %d\n\n%s\n\n", i, texts[i])
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%03d.md", f)), []byte(b.String()), 0o640); err != nil {
			return err
		}
	}
	return nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}
