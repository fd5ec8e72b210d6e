package knowledge_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

func TestIngestIncremental(t *testing.T) {
	ctx := context.Background()
	folder := copyCorpus(t)
	dir := t.TempDir()
	all := chunkCount(t, folder)
	vpn := chunkCount(t, folder, "vpn.md")
	emb := &countingEmbedder{name: "counting-v1"}
	ix := openIndex(t, dir, emb)

	steps := []struct {
		name   string
		change func(t *testing.T) *knowledge.Index // nil: keep the index
		want   knowledge.IngestStats
		embeds int
	}{
		{
			name:   "first run embeds everything",
			want:   knowledge.IngestStats{Files: 6, Chunks: all, Added: all},
			embeds: all,
		},
		{
			name:   "second run changes nothing",
			want:   knowledge.IngestStats{Files: 6, Chunks: all, Unchanged: all},
			embeds: 0,
		},
		{
			name: "edit one section",
			change: func(t *testing.T) *knowledge.Index {
				edit(t, filepath.Join(folder, "vpn.md"), "Quit and reopen GlobalProtect", "Restart GlobalProtect")
				return nil
			},
			want:   knowledge.IngestStats{Files: 6, Chunks: all, Updated: 1, Unchanged: all - 1},
			embeds: 1,
		},
		{
			name: "change a file's front matter updates all its chunks",
			change: func(t *testing.T) *knowledge.Index {
				edit(t, filepath.Join(folder, "vpn.md"), "tags: [network, remote]", "tags: [network, remote, vpn]")
				return nil
			},
			want:   knowledge.IngestStats{Files: 6, Chunks: all, Updated: vpn, Unchanged: all - vpn},
			embeds: vpn,
		},
		{
			name: "add a file",
			change: func(t *testing.T) *knowledge.Index {
				writeFile(t, filepath.Join(folder, "extra", "phone.md"), "# Desk phone\n\n## Voicemail\n\nDial 9 for voicemail.\n")
				return nil
			},
			want:   knowledge.IngestStats{Files: 7, Chunks: all + 1, Added: 1, Unchanged: all},
			embeds: 1,
		},
		{
			name: "delete a file",
			change: func(t *testing.T) *knowledge.Index {
				if err := os.Remove(filepath.Join(folder, "vpn.md")); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			want:   knowledge.IngestStats{Files: 6, Chunks: all + 1 - vpn, Removed: vpn, Unchanged: all + 1 - vpn},
			embeds: 0,
		},
		{
			name: "reopened with the same embedder changes nothing",
			change: func(t *testing.T) *knowledge.Index {
				return openIndex(t, dir, emb)
			},
			want:   knowledge.IngestStats{Files: 6, Chunks: all + 1 - vpn, Unchanged: all + 1 - vpn},
			embeds: 0,
		},
		{
			name: "another embedder rebuilds everything",
			change: func(t *testing.T) *knowledge.Index {
				emb.name = "counting-v2"
				return openIndex(t, dir, emb)
			},
			want:   knowledge.IngestStats{Files: 6, Chunks: all + 1 - vpn, Added: all + 1 - vpn},
			embeds: all + 1 - vpn,
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.change != nil {
				if next := step.change(t); next != nil {
					ix = next
				}
			}
			emb.take()
			var last [2]int
			calls := 0
			got, err := ix.Ingest(ctx, folder, func(done, total int) {
				calls++
				if done < last[0] || total != step.want.Chunks {
					t.Errorf("progress went from %v to (%d, %d)", last, done, total)
				}
				last = [2]int{done, total}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Duration <= 0 {
				t.Errorf("got duration %v, want it measured", got.Duration)
			}
			got.Duration = 0
			if got != step.want {
				t.Errorf("got stats %+v, want %+v", got, step.want)
			}
			if n := emb.take(); n != step.embeds {
				t.Errorf("got %d embed calls, want %d", n, step.embeds)
			}
			if n := ix.Count(); n != step.want.Chunks {
				t.Errorf("got count %d, want %d", n, step.want.Chunks)
			}
			if calls != step.want.Chunks || last != [2]int{step.want.Chunks, step.want.Chunks} {
				t.Errorf("got %d progress calls ending at %v, want %d ending at done == total", calls, last, step.want.Chunks)
			}
		})
	}
}

func TestIngestErrorsLeaveIndexAlone(t *testing.T) {
	ctx := context.Background()
	folder := copyCorpus(t)
	ix := ingested(t, folder)
	before := ix.Count()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	huge := t.TempDir()
	writeFile(t, filepath.Join(huge, "huge.md"), strings.Repeat("x", knowledge.MaxFileBytes+1))
	tests := []struct {
		name     string
		ctx      context.Context
		folder   string
		wantCode conversation.Code
	}{
		{"missing folder", ctx, filepath.Join(folder, "missing"), conversation.NotFound},
		{"oversized file", ctx, huge, conversation.Invalid},
		{"canceled", canceled, folder, conversation.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ix.Ingest(tt.ctx, tt.folder, nil)
			if got := conversation.ErrorCode(err); got != tt.wantCode {
				t.Errorf("got error %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if n := ix.Count(); n != before {
				t.Errorf("got count %d after a failed ingest, want %d", n, before)
			}
		})
	}
}

func TestIngestRejectsDuplicateIDs(t *testing.T) {
	folder := t.TempDir()
	writeFile(t, filepath.Join(folder, "a.md"), "## b.md#S\n\nOne.\n")
	writeFile(t, filepath.Join(folder, "a.md#b.md"), "## S\n\nTwo.\n")
	ix := openIndex(t, t.TempDir(), knowledge.NewHashEmbedder())
	_, err := ix.Ingest(context.Background(), folder, nil)
	if got := conversation.ErrorCode(err); got != conversation.Invalid || !strings.Contains(err.Error(), "twice") {
		t.Errorf("got error %v (code %q), want code %q about an id occurring twice", err, got, conversation.Invalid)
	}
}

func TestIngestRecoversAfterCancel(t *testing.T) {
	folder := copyCorpus(t)
	dir := t.TempDir()
	ix := openIndex(t, dir, knowledge.NewHashEmbedder())
	ctx, cancel := context.WithCancel(context.Background())
	_, err := ix.Ingest(ctx, folder, func(done, total int) {
		if done == 3 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("got no error from a canceled ingest")
	}
	st, err := ix.Ingest(context.Background(), folder, nil)
	if err != nil {
		t.Fatal(err)
	}
	if all := chunkCount(t, folder); st.Unchanged != 3 || st.Added != all-3 || ix.Count() != all {
		t.Errorf("got %+v and count %d, want the 3 stored chunks kept and %d added", st, ix.Count(), all-3)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	first := openIndex(t, dir, knowledge.NewHashEmbedder())
	if _, err := first.Ingest(context.Background(), corpus, nil); err != nil {
		t.Fatal(err)
	}
	reopened := openIndex(t, dir, knowledge.NewHashEmbedder())
	if got, want := reopened.Count(), first.Count(); got != want {
		t.Fatalf("got %d chunks after reopening, want %d", got, want)
	}
	questions := []string{"How do I reset my password?", "VPN does not connect", "recommend a pizza place"}
	for _, q := range questions {
		t.Run(q, func(t *testing.T) {
			want := ask(t, knowledge.NewAnswerer(first, knowledge.AnswerConfig{}), q)
			got := ask(t, knowledge.NewAnswerer(reopened, knowledge.AnswerConfig{}), q)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v after reopening, want %+v", got, want)
			}
		})
	}
}

func TestSearchOnStaleIndex(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir, &countingEmbedder{name: "old-model"})
	if _, err := ix.Ingest(context.Background(), corpus, nil); err != nil {
		t.Fatal(err)
	}
	stale := openIndex(t, dir, &countingEmbedder{name: "new-model"})
	_, err := stale.Search(context.Background(), "reset password", 3)
	if got := conversation.ErrorCode(err); got != conversation.Unavailable {
		t.Fatalf("got error %v (code %q), want code %q until re-ingested", err, got, conversation.Unavailable)
	}
	if _, err := stale.Ingest(context.Background(), corpus, nil); err != nil {
		t.Fatal(err)
	}
	hits, err := stale.Search(context.Background(), "reset password", 3)
	if err != nil || len(hits) != 3 {
		t.Errorf("got %d hits, error %v after re-ingesting, want 3 and none", len(hits), err)
	}
}

func TestSearch(t *testing.T) {
	small := t.TempDir()
	writeFile(t, filepath.Join(small, "a.md"), "# A\n\n## One\n\nPrinter toner.\n\n## Two\n\nPrinter paper.\n")
	ix := ingested(t, small)
	tests := []struct {
		name     string
		text     string
		k        int
		wantHits int
		wantCode conversation.Code
	}{
		{"more results than chunks", "printer", 10, 2, ""},
		{"fewer", "printer", 1, 1, ""},
		{"blank query", "   ", 3, 0, ""},
		{"zero k", "printer", 0, 0, conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, err := ix.Search(context.Background(), tt.text, tt.k)
			if conversation.ErrorCode(err) != tt.wantCode || len(hits) != tt.wantHits {
				t.Fatalf("got %d hits, error %v, want %d hits, code %q", len(hits), err, tt.wantHits, tt.wantCode)
			}
			for i := 1; i < len(hits); i++ {
				if hits[i].Similarity > hits[i-1].Similarity {
					t.Errorf("hits not sorted by similarity: %v after %v", hits[i].Similarity, hits[i-1].Similarity)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	tests := []struct {
		name string
		dir  string
		emb  knowledge.Embedder
	}{
		{"no embedder", t.TempDir(), nil},
		{"empty dir", "", knowledge.NewHashEmbedder()},
		{"dir is a file", file, knowledge.NewHashEmbedder()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := knowledge.Open(tt.dir, tt.emb); err == nil {
				t.Error("got no error")
			}
		})
	}
}

func TestConcurrentAnswersDuringIngest(t *testing.T) {
	folder := copyCorpus(t)
	ix := ingested(t, folder)
	a := knowledge.NewAnswerer(ix, knowledge.AnswerConfig{})
	if err := os.Remove(filepath.Join(folder, "printer.md")); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(folder, "wifi.md"), "Guest access is valid for one day.", "Guest access is valid for two days.")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if _, err := a.Answer(context.Background(), conversation.Query{Text: "guest wifi password"}); err != nil {
					t.Errorf("answer during ingest: %v", err)
					return
				}
			}
		})
	}
	if _, err := ix.Ingest(context.Background(), folder, nil); err != nil {
		t.Errorf("ingest: %v", err)
	}
	wg.Wait()
	if got, want := ix.Count(), chunkCount(t, folder); got != want {
		t.Errorf("got count %d, want %d", got, want)
	}
}

// edit replaces old with new in the file at path; old must occur.
func edit(tb testing.TB, path, old, new string) {
	tb.Helper()
	data := readFile(tb, path)
	if !strings.Contains(string(data), old) {
		tb.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(tb, path, strings.Replace(string(data), old, new, 1))
}
