package knowledge_test

import (
	"context"
	"math"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// faqIndex returns an index of the shop FAQ fixture.
func faqIndex(tb testing.TB, dir string) *knowledge.Index {
	tb.Helper()
	ix := openIndex(tb, dir, knowledge.NewHashEmbedder())
	if _, err := ix.Ingest(context.Background(), "testdata/faq", nil); err != nil {
		tb.Fatal(err)
	}
	return ix
}

func retrieve(tb testing.TB, ix *knowledge.Index, q string, opt knowledge.RetrieveOptions) knowledge.Retrieval {
	tb.Helper()
	r, err := ix.Retrieve(context.Background(), q, opt)
	if err != nil {
		tb.Fatalf("retrieve %q: %v", q, err)
	}
	return r
}

func TestRetrieveCards(t *testing.T) {
	ix := faqIndex(t, t.TempDir())
	tests := []struct {
		query    string
		opt      knowledge.RetrieveOptions
		wantCard string
		notCards []string // must not be among the hits
	}{
		{query: "how can I return my item", wantCard: "returns"},
		{query: "when does my parcel arrive", wantCard: "shipping-time"},
		{query: "employee discount", opt: knowledge.RetrieveOptions{Filter: knowledge.Filter{Audience: "internal"}}, wantCard: "staff-discount"},
		{query: "employee discount", opt: knowledge.RetrieveOptions{Filter: knowledge.Filter{Audience: "external"}}, notCards: []string{"staff-discount"}},
		{query: "warranty claim", opt: knowledge.RetrieveOptions{Filter: knowledge.Filter{Product: "ski"}}, wantCard: "ski-warranty", notCards: []string{"boot-warranty"}},
		{query: "warranty claim", opt: knowledge.RetrieveOptions{Filter: knowledge.Filter{Product: "BOOTS"}}, wantCard: "boot-warranty", notCards: []string{"ski-warranty"}},
		{query: "return policy", opt: knowledge.RetrieveOptions{Filter: knowledge.Filter{Language: "de"}}, notCards: []string{"returns", "shipping-time"}},
	}
	for _, tt := range tests {
		t.Run(tt.query+"/"+tt.opt.Filter.Audience+tt.opt.Filter.Product+tt.opt.Filter.Language, func(t *testing.T) {
			r := retrieve(t, ix, tt.query, tt.opt)
			if tt.wantCard != "" && (len(r.Hits) == 0 || r.Hits[0].Chunk.Card != tt.wantCard) {
				t.Fatalf("got hits %v, want %s first", cards(r), tt.wantCard)
			}
			for _, h := range r.Hits {
				for _, no := range tt.notCards {
					if h.Chunk.Card == no {
						t.Errorf("got %s among the hits %v, want it filtered out", no, cards(r))
					}
				}
			}
		})
	}
}

func cards(r knowledge.Retrieval) []string {
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.Chunk.Card)
	}
	return out
}

func TestRetrieveOneResultPerGroup(t *testing.T) {
	// The returns card has three phrasings and the IT corpus sections are
	// split into parts: each card and each section appears once.
	for _, folder := range []string{"testdata/faq", corpus} {
		t.Run(folder, func(t *testing.T) {
			ix := ingested(t, folder)
			r := retrieve(t, ix, "return order refund password printer", knowledge.RetrieveOptions{K: 50})
			seen := map[string]bool{}
			for _, h := range r.Hits {
				key := h.Chunk.Source + "#" + h.Chunk.Card + "#" + h.Chunk.Section
				if seen[key] {
					t.Errorf("got %s twice, want one result per card or section", key)
				}
				seen[key] = true
			}
			if len(r.Hits) == 0 {
				t.Fatal("got no hits, want some")
			}
		})
	}
}

func TestRetrieveSignals(t *testing.T) {
	ix := faqIndex(t, t.TempDir())
	r := retrieve(t, ix, "How long does shipping take?", knowledge.RetrieveOptions{})
	top := r.Hits[0]
	// Both retrievers rank the exact phrasing first: the fused score is
	// the sum of two first ranks, 2/(60+1).
	if top.VectorRank != 1 || top.LexicalRank != 1 || top.Fused != 2.0/61 {
		t.Errorf("got ranks %d/%d fused %v, want 1/1 and %v", top.VectorRank, top.LexicalRank, top.Fused, 2.0/61)
	}
	if top.Vector < 0.99 || top.Lexical <= 0 || top.Coverage != 1 {
		t.Errorf("got vector %v lexical %v coverage %v, want ~1, > 0 and 1", top.Vector, top.Lexical, top.Coverage)
	}
	if !r.Signals.Agreement || r.Signals.Top != top.Score || r.Score != top.Score || r.Signals.Margin <= 0 {
		t.Errorf("got signals %+v score %v, want agreement and the top score", r.Signals, r.Score)
	}
	for i := 1; i < len(r.Hits); i++ {
		if r.Hits[i].Score > r.Hits[i-1].Score {
			t.Errorf("hit %d scores %v above hit %d (%v), want best first", i, r.Hits[i].Score, i-1, r.Hits[i-1].Score)
		}
	}
}

func TestRetrieveLexical(t *testing.T) {
	// BM25: a rare term outweighs a frequent one, and a chunk without any
	// query term scores 0.
	ix := openIndex(t, t.TempDir(), knowledge.NewHashEmbedder())
	doc, err := knowledge.NewFAQDocument("b.faq", "B", []knowledge.Card{
		{ID: "common", Questions: []string{"order status order"}, Answer: "1"},
		{ID: "rare", Questions: []string{"order voucher"}, Answer: "2"},
		{ID: "other", Questions: []string{"order tracking"}, Answer: "3"},
		{ID: "none", Questions: []string{"opening hours"}, Answer: "4"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.IngestDocuments(context.Background(), []knowledge.Document{doc}, nil); err != nil {
		t.Fatal(err)
	}
	r := retrieve(t, ix, "voucher order", knowledge.RetrieveOptions{})
	lex := map[string]float64{}
	for _, h := range r.Hits {
		lex[h.Chunk.Card] = h.Lexical
	}
	if !(lex["rare"] > lex["common"] && lex["common"] > 0 && lex["none"] == 0) {
		t.Errorf("got BM25 scores %v, want rare > common > none = 0", lex)
	}
	if r.Hits[0].Chunk.Card != "rare" {
		t.Errorf("got %v, want rare first", cards(r))
	}
}

func TestRetrieveErrors(t *testing.T) {
	ix := faqIndex(t, t.TempDir())
	for _, tt := range []struct {
		name string
		q    string
		k    int
	}{{"blank", "  ", 0}, {"k too large", "x", knowledge.MaxRetrieveK + 1}, {"negative k", "x", -1}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ix.Retrieve(context.Background(), tt.q, knowledge.RetrieveOptions{K: tt.k})
			if conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("got %v, want Invalid", err)
			}
		})
	}
	empty := openIndex(t, t.TempDir(), knowledge.NewHashEmbedder())
	if r := retrieve(t, empty, "anything", knowledge.RetrieveOptions{}); len(r.Hits) != 0 || r.Answerable {
		t.Errorf("got %+v from an empty index, want nothing", r)
	}
}

func TestAmbiguity(t *testing.T) {
	ix := faqIndex(t, t.TempDir())
	tests := []struct {
		query string
		want  bool
	}{
		// Ski and boot warranty cards match equally well.
		{"warranty claim", true},
		{"How do I return an item?", false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := retrieve(t, ix, tt.query, knowledge.RetrieveOptions{})
			if r.Ambiguous != tt.want {
				t.Errorf("got ambiguous %v (hits %v, scores %v/%v), want %v", r.Ambiguous, cards(r), r.Hits[0].Score, r.Hits[1].Score, tt.want)
			}
			g, err := knowledge.NewAnswerer(ix, knowledge.AnswerConfig{}).Ground(context.Background(), conversation.Query{Text: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			if g.Ambiguous != tt.want {
				t.Errorf("got Grounded.Ambiguous %v, want %v", g.Ambiguous, tt.want)
			}
			// An ambiguous answer names the competing topics for the
			// consulting question, each distinct and short enough for a button.
			alts := g.Answer.Alternatives
			if tt.want != (len(alts) >= 2) {
				t.Errorf("got alternatives %+v, want two or more exactly when ambiguous", alts)
			}
			seen := map[string]bool{}
			for _, a := range alts {
				if a.Label == "" || a.Query == "" || seen[a.Label] || len([]rune(a.Label)) > 75 {
					t.Errorf("alternative %+v: want a short, distinct label and a query", a)
				}
				seen[a.Label] = true
			}
		})
	}
}

func TestAnswerFromCard(t *testing.T) {
	ix := faqIndex(t, t.TempDir())
	ans := ask(t, knowledge.NewAnswerer(ix, knowledge.AnswerConfig{}), "can I send my order back?")
	if !ans.Confident || ans.Text != "You can return any item within 30 days for a full refund." {
		t.Fatalf("got %+v, want the returns card's answer, confident", ans)
	}
	if c := ans.Citations[0]; c.Source != "shop.faq.yaml" || c.Section != "How do I return an item?" || c.URL != "https://shop.example/faq" {
		t.Errorf("got citation %+v, want the card cited", c)
	}
}

func TestCalibration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix := faqIndex(t, dir)
	if ix.Calibration() != nil || ix.Threshold() != knowledge.DefaultThreshold {
		t.Fatalf("got calibration %+v threshold %v before Calibrate, want none and the default", ix.Calibration(), ix.Threshold())
	}
	examples := []knowledge.CalibrationExample{
		{Query: "I want my money back for the order", Want: "returns"},
		{Query: "how many days until my parcel comes", Want: "shipping-time"},
		{Query: "what is the capital of France", Want: ""},
		{Query: "recipe for pancakes", Want: ""},
	}
	cal, err := ix.Calibrate(ctx, examples, knowledge.CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cal.Examples != 4 || cal.Answerable != 2 || cal.Accuracy != 1 || cal.DeclineRecall != 1 {
		t.Errorf("got %+v, want 4 examples, 2 answerable, all decided right", cal)
	}
	reopened := openIndex(t, dir, knowledge.NewHashEmbedder())
	if got := reopened.Threshold(); got != cal.Threshold {
		t.Errorf("got threshold %v after reopening, want the stored %v", got, cal.Threshold)
	}
	a := knowledge.NewAnswerer(reopened, knowledge.AnswerConfig{})
	for _, e := range examples {
		if got := ask(t, a, e.Query).Confident; got != (e.Want != "") {
			t.Errorf("%q: got confident %v, want %v with the calibrated threshold", e.Query, got, e.Want != "")
		}
	}
	if _, err := ix.Calibrate(ctx, nil, knowledge.CalibrateOptions{}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("got %v for no examples, want Invalid", err)
	}
}

func TestChooseThreshold(t *testing.T) {
	outs := []knowledge.Outcome{
		{Score: 0.9, Correct: true, Answerable: true},
		{Score: 0.7, Correct: true, Answerable: true},
		{Score: 0.6, Answerable: false},
		{Score: 0.5, Correct: false, Answerable: true},
		{Score: 0.3, Answerable: false},
	}
	tests := []struct {
		name          string
		weight        float64
		wantThreshold float64
		wantAcc       float64
		wantDecline   float64
	}{
		// Declining everything up to 0.6 keeps both right answers and
		// declines both unanswerable questions.
		{"every question once", 0, 0.65, 2.0 / 3, 1},
		{"balanced", -1, 0.65, 2.0 / 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := knowledge.ChooseThreshold(outs, tt.weight)
			if math.Abs(c.Threshold-tt.wantThreshold) > 1e-9 || c.Accuracy != tt.wantAcc || c.DeclineRecall != tt.wantDecline {
				t.Errorf("got %+v, want threshold %v accuracy %v decline %v", c, tt.wantThreshold, tt.wantAcc, tt.wantDecline)
			}
		})
	}
	t.Run("all answerable and right", func(t *testing.T) {
		c := knowledge.ChooseThreshold(outs[:2], 0)
		if c.Threshold != 0 || c.Accuracy != 1 {
			t.Errorf("got %+v, want threshold 0 and accuracy 1", c)
		}
	})
}
