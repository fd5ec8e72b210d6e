package knowledge_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// corpus is the fixture folder of six short IT articles.
const corpus = "testdata/it"

// countingEmbedder wraps the built-in embedder, counts Embed calls and
// reports a configurable name.
type countingEmbedder struct {
	name  string
	inner knowledge.HashEmbedder
	calls atomic.Int64
}

func (e *countingEmbedder) Embed(ctx context.Context, text string) ([]float32, error) {
	e.calls.Add(1)
	return e.inner.Embed(ctx, text)
}

func (e *countingEmbedder) Name() string { return e.name }

// take returns the number of calls since the last take.
func (e *countingEmbedder) take() int { return int(e.calls.Swap(0)) }

func openIndex(tb testing.TB, dir string, emb knowledge.Embedder) *knowledge.Index {
	tb.Helper()
	ix, err := knowledge.Open(dir, emb)
	if err != nil {
		tb.Fatalf("open index %s: %v", dir, err)
	}
	return ix
}

// ingested returns an index of folder under a fresh directory.
func ingested(tb testing.TB, folder string) *knowledge.Index {
	tb.Helper()
	ix := openIndex(tb, tb.TempDir(), knowledge.NewHashEmbedder())
	if _, err := ix.Ingest(context.Background(), folder, nil); err != nil {
		tb.Fatalf("ingest %s: %v", folder, err)
	}
	return ix
}

func ask(tb testing.TB, a *knowledge.Answerer, q string) conversation.Answer {
	tb.Helper()
	ans, err := a.Answer(context.Background(), conversation.Query{Text: q})
	if err != nil {
		tb.Fatalf("answer %q: %v", q, err)
	}
	return ans
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// copyCorpus copies the fixture corpus into a temporary folder the test may change.
func copyCorpus(tb testing.TB) string {
	tb.Helper()
	dst := tb.TempDir()
	entries, err := os.ReadDir(corpus)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		writeFile(tb, filepath.Join(dst, e.Name()), string(readFile(tb, filepath.Join(corpus, e.Name()))))
	}
	return dst
}

// chunkCount returns the number of chunks of the markdown under folder.
func chunkCount(tb testing.TB, folder string, only ...string) int {
	tb.Helper()
	docs, err := knowledge.LoadDir(context.Background(), folder)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, d := range docs {
		if len(only) == 0 || d.Source == only[0] {
			n += len(d.Chunks)
		}
	}
	return n
}
