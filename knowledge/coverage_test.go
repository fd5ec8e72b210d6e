package knowledge_test

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/tier0/tier0/knowledge"
)

// TestRetrieveCoverageFromPostingsMatchesTermSets checks that Retrieve's
// coverage from the postings (of the chunks' texts and headings, with a
// German question's translations) equals the coverage computed from each
// chunk's own term sets, on the sample IT-helpdesk and shop knowledge
// with their English and German questions: the two analyses must stay
// the same.
func TestRetrieveCoverageFromPostingsMatchesTermSets(t *testing.T) {
	for _, sample := range []string{"it-helpdesk", "shop"} {
		t.Run(sample, func(t *testing.T) {
			ix := ingested(t, "../configs/"+sample+"/knowledge")
			ctx := context.Background()
			for _, q := range sampleQuestions(t, "../configs/"+sample) {
				got, err := ix.Retrieve(ctx, q, knowledge.RetrieveOptions{K: knowledge.MaxRetrieveK})
				if err != nil {
					t.Fatalf("retrieve %q: %v", q, err)
				}
				restore := knowledge.CoverageBySetsForTest()
				want, err := ix.Retrieve(ctx, q, knowledge.RetrieveOptions{K: knowledge.MaxRetrieveK})
				restore()
				if err != nil {
					t.Fatalf("retrieve %q: %v", q, err)
				}
				if len(got.Hits) != len(want.Hits) {
					t.Fatalf("%q: %d hits from postings, %d from term sets", q, len(got.Hits), len(want.Hits))
				}
				for i := range want.Hits {
					g, w := got.Hits[i], want.Hits[i]
					if g.Chunk.ID != w.Chunk.ID || math.Abs(g.Coverage-w.Coverage) > 1e-12 || math.Abs(g.Score-w.Score) > 1e-12 {
						t.Fatalf("%q hit %d: postings give %s coverage %.4f score %.4f, term sets %s coverage %.4f score %.4f",
							q, i, g.Chunk.ID, g.Coverage, g.Score, w.Chunk.ID, w.Coverage, w.Score)
					}
				}
			}
		})
	}
}

// sampleQuestions reads the questions of a sample configuration: one per
// line in questions.txt, the first column of questions.de.tsv.
func sampleQuestions(tb testing.TB, dir string) []string {
	tb.Helper()
	var qs []string
	for _, name := range []string{"questions.txt", "questions.de.tsv"} {
		raw, err := os.ReadFile(dir + "/" + name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			tb.Fatalf("read questions: %v", err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			q, _, _ := strings.Cut(strings.TrimSpace(line), "\t")
			if q != "" && !strings.HasPrefix(q, "#") {
				qs = append(qs, q)
			}
		}
	}
	if len(qs) < 20 {
		tb.Fatalf("%s: %d sample questions, want at least 20", dir, len(qs))
	}
	return qs
}
