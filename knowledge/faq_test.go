package knowledge_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

func TestParseFAQ(t *testing.T) {
	tests := []struct {
		name       string
		source     string
		data       string
		wantChunks int
		wantCards  []string
		wantErr    string // substring; "" for success
	}{
		{name: "yaml with defaults", source: "a.faq.yaml", data: "title: T\nlanguage: de\ncards:\n  - id: x\n    questions: [eins, zwei]\n    answer: A\n", wantChunks: 2, wantCards: []string{"x", "x"}},
		{name: "top-level list", source: "b.faq.yml", data: "- id: x\n  question: one\n  answer: A\n- id: y\n  phrasings: [two, three]\n  answer: B\n", wantChunks: 3, wantCards: []string{"x", "y", "y"}},
		{name: "json", source: "c.faq.json", data: `{"cards":[{"id":"x","questions":["one","one","two"],"answer":"A"}]}`, wantChunks: 2, wantCards: []string{"x", "x"}},
		{name: "no cards", source: "d.faq.yaml", data: "title: empty\n", wantErr: "no cards"},
		{name: "missing id", source: "e.faq.yaml", data: "- questions: [q]\n  answer: A\n", wantErr: "has no id"},
		{name: "duplicate id", source: "f.faq.yaml", data: "- {id: x, questions: [q], answer: A}\n- {id: x, questions: [r], answer: B}\n", wantErr: "occurs twice"},
		{name: "no answer", source: "g.faq.yaml", data: "- {id: x, questions: [q]}\n", wantErr: "has no answer"},
		{name: "no question", source: "h.faq.yaml", data: "- {id: x, questions: ['  '], answer: A}\n", wantErr: "has no question"},
		{name: "id with hash", source: "i.faq.yaml", data: "- {id: 'a#b', questions: [q], answer: A}\n", wantErr: "holds '#'"},
		{name: "malformed yaml", source: "j.faq.yaml", data: "cards: [\n", wantErr: "j.faq.yaml"},
		{name: "invalid utf-8", source: "k.faq.yaml", data: "\xff\xfe", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := knowledge.ParseFAQ(tt.source, []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || conversation.ErrorCode(err) != conversation.Invalid {
					t.Fatalf("got error %v, want an Invalid error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(doc.Chunks) != tt.wantChunks {
				t.Fatalf("got %d chunks, want %d", len(doc.Chunks), tt.wantChunks)
			}
			for i, c := range doc.Chunks {
				if c.Card != tt.wantCards[i] || c.Question == "" || c.Content == "" || c.Hash == "" {
					t.Errorf("chunk %d: got card %q question %q content %q hash %q, want card %q and the rest set", i, c.Card, c.Question, c.Content, c.Hash, tt.wantCards[i])
				}
			}
		})
	}
}

func TestParseFAQDefaults(t *testing.T) {
	doc, err := knowledge.ParseFAQ("shop.faq.yaml", readFile(t, "testdata/faq/shop.faq.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byCard := map[string]knowledge.Chunk{}
	for _, c := range doc.Chunks {
		byCard[c.Card] = c
	}
	if got := byCard["returns"]; got.URL != "https://shop.example/faq" || got.Language != "en" || got.Title != "Shop FAQ" || got.Section != "How do I return an item?" {
		t.Errorf("got %+v, want the file's url, language and title and the first question as section", got)
	}
	if got := byCard["staff-discount"].Audience; got != "internal" {
		t.Errorf("got audience %q, want internal", got)
	}
}

func TestLoadDirDispatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "guide.md"), "# Guide\n\n## Start\n\nPress the button.\n")
	writeFile(t, filepath.Join(dir, "help.faq.yaml"), string(readFile(t, "testdata/faq/shop.faq.yaml")))
	writeFile(t, filepath.Join(dir, "notes.yaml"), "not: knowledge\n")
	docs, err := knowledge.LoadDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Source)
	}
	if strings.Join(got, ",") != "guide.md,help.faq.yaml" {
		t.Errorf("got documents %v, want guide.md and help.faq.yaml (plain .yaml is not knowledge)", got)
	}
}

func TestIngestDocumentsIncremental(t *testing.T) {
	ctx := context.Background()
	emb := &countingEmbedder{name: "counting-v1"}
	ix := openIndex(t, t.TempDir(), emb)
	cards := []knowledge.Card{
		{ID: "a", Questions: []string{"one", "two"}, Answer: "A"},
		{ID: "b", Questions: []string{"three"}, Answer: "B"},
	}
	doc := func(cs []knowledge.Card) []knowledge.Document {
		t.Helper()
		d, err := knowledge.NewFAQDocument("set.faq", "Set", cs)
		if err != nil {
			t.Fatal(err)
		}
		return []knowledge.Document{d}
	}
	steps := []struct {
		name   string
		docs   []knowledge.Document
		want   knowledge.IngestStats
		embeds int
	}{
		{"first run", doc(cards), knowledge.IngestStats{Files: 1, Chunks: 3, Added: 3}, 3},
		{"same again", doc(cards), knowledge.IngestStats{Files: 1, Chunks: 3, Unchanged: 3}, 0},
		{"answer changed", doc([]knowledge.Card{cards[0], {ID: "b", Questions: []string{"three"}, Answer: "B2"}}), knowledge.IngestStats{Files: 1, Chunks: 3, Updated: 1, Unchanged: 2}, 1},
		{"card removed", doc(cards[:1]), knowledge.IngestStats{Files: 1, Chunks: 2, Removed: 1, Unchanged: 2}, 0},
		{"chunk without hash gets one", []knowledge.Document{{Source: "x", Chunks: []knowledge.Chunk{{ID: "x#1", Source: "x", Content: "plain"}}}}, knowledge.IngestStats{Files: 1, Chunks: 1, Added: 1, Removed: 2}, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			st, err := ix.IngestDocuments(ctx, s.docs, nil)
			if err != nil {
				t.Fatal(err)
			}
			st.Duration = 0
			if st != s.want {
				t.Errorf("got %+v, want %+v", st, s.want)
			}
			if got := emb.take(); got != s.embeds {
				t.Errorf("got %d embeddings, want %d", got, s.embeds)
			}
		})
	}
	_, err := ix.IngestDocuments(ctx, []knowledge.Document{{Source: "y", Chunks: []knowledge.Chunk{{Content: "no id"}}}}, nil)
	if conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("got error %v, want Invalid for a chunk without id", err)
	}
}
