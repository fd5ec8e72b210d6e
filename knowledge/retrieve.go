package knowledge

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Retrieval defaults.
const (
	// DefaultRetrieveK is how many results Retrieve returns by default.
	DefaultRetrieveK = 10
	// MaxRetrieveK bounds RetrieveOptions.K.
	MaxRetrieveK = 100
	// rrfK is the rank offset of reciprocal-rank fusion.
	rrfK = 60
	// minPool is the fewest chunks each retriever returns before grouping:
	// FAQ cards have many phrasings each, so many chunks make few results.
	minPool = 100
	// filteredPool is the pool when a filter is set: the vector store
	// cannot filter on "empty or equal", so more chunks are fetched and
	// filtered after.
	filteredPool = 400
	// AmbiguityGap is how close (in score) the best result of another
	// topic must come to the best one for the retrieval to be ambiguous.
	AmbiguityGap = 0.05
	// ambiguityFloor is the share of the threshold both competing results
	// must reach: two weak matches are not a choice, only weak.
	ambiguityFloor = 0.8
)

// Weights of a card result's score (see Retrieve).
const (
	cardModelWeight    = 0.6
	cardVectorWeight   = 0.25
	cardCoverageWeight = 0.15
	// cardFullSimilarity is the cosine to the nearest phrasing that counts
	// as a full match: phrasings are short, like the questions.
	cardFullSimilarity = 0.8
	// Without a model: weights of the lexical score (relative to the ideal
	// one, see lexicalIndex.ideal), vector similarity and coverage.
	cardOnlyLexicalWeight  = 0.5
	cardOnlyVectorWeight   = 0.3
	cardOnlyCoverageWeight = 0.2
)

// Filter selects chunks by their metadata. An empty field selects
// everything; a set field selects the chunks with that value and the
// chunks that leave the field empty (meant for everyone). Values compare
// case-insensitively.
type Filter struct {
	Audience string // "internal" or "external"
	Language string // e.g. "en", "de"
	Product  string // a product line
}

func (f Filter) empty() bool { return f == Filter{} }

// keep reports whether c passes the filter.
func (f Filter) keep(c *Chunk) bool {
	pass := func(want, have string) bool { return want == "" || have == "" || strings.EqualFold(want, have) }
	return pass(f.Audience, c.Audience) && pass(f.Language, c.Language) && pass(f.Product, c.Product)
}

// RetrieveOptions tunes one Retrieve call. Zero fields take the defaults.
type RetrieveOptions struct {
	// K is the most results returned (default DefaultRetrieveK, at most
	// MaxRetrieveK).
	K      int
	Filter Filter
}

// RetrievedHit is one result of Retrieve: the best chunk of one source
// section or one FAQ card, with the signals behind its rank.
type RetrievedHit struct {
	Chunk Chunk
	// Score is the result's answerability score in [0,1] (see Retrieve);
	// results are sorted by it.
	Score float64
	// Fused is the reciprocal-rank fusion of the vector and lexical ranks.
	Fused float64
	// Vector is the cosine similarity of the query and the chunk (for a
	// card: its nearest phrasing), 0 when not among the vector results.
	Vector float64
	// Lexical is the chunk's BM25 score, 0 when it holds no query term.
	Lexical float64
	// Model is the intent model's probability of the card, 0 for document
	// chunks and indexes without a model.
	Model float64
	// Coverage is the weighted share of the query's terms the chunk holds.
	Coverage float64
	// VectorRank and LexicalRank are the result's 1-based ranks among the
	// groups each retriever found, 0 when it found none of the group.
	VectorRank, LexicalRank int
}

// Signals are the query-level retrieval signals behind the answerability
// score.
type Signals struct {
	Top       float64 // score of the best result
	Margin    float64 // Top minus the runner-up's score
	Agreement bool    // the vector and lexical retrievers rank the same result first
	Coverage  float64 // query-term coverage of the best result
	Model     float64 // the intent model's probability of the best result (cards)
	Terms     int     // content terms of the query
}

// Retrieval is the result of Retrieve.
type Retrieval struct {
	Hits []RetrievedHit // best first
	// Score is the answerability of the query in [0,1]: the best result's
	// score, 0 without results or content terms.
	Score float64
	// Threshold is the index's calibrated threshold (see Calibrate), or
	// DefaultThreshold for an index never calibrated.
	Threshold float64
	// Answerable is Score >= Threshold.
	Answerable bool
	// Ambiguous is set when the best results belong to different topics
	// (documents or FAQ cards) with scores within AmbiguityGap, both near
	// or above the threshold: a consulting question should choose.
	Ambiguous bool
	Signals   Signals
}

// group collects what the retrievers found of one result group.
type group struct {
	key         string
	vecChunk    *Chunk
	vec         float64
	lexChunk    *Chunk
	lex         float64
	vecRank     int
	lexRank     int
	model       float64
	modelChunk  string
	fused       float64
	represented *Chunk
}

// Retrieve finds the chunks that answer text: vector search (chromem-go)
// and BM25 over the in-memory lexical index, each over a pool of chunks
// that pass opt.Filter, grouped to one result per source section or FAQ
// card, the groups' ranks fused by reciprocal-rank fusion (k = 60). Each
// result then gets an answerability score in [0,1]:
//
//   - a document chunk: 0.5 · min(1, cosine/0.5) + 0.4 · coverage + 0.1 ·
//     heading coverage (see Answerer);
//   - an FAQ card with an intent model (see intent.go): 0.6 · model
//     probability + 0.25 · min(1, cosine/0.8) + 0.15 · coverage, the cosine
//     being that of the nearest phrasing;
//   - a card without model (fewer than 3 phrasings per card on average,
//     see intent.go): 0.5 · min(1, BM25/ideal) + 0.3 · min(1, cosine/0.8)
//   - 0.2 · coverage, ideal being the BM25 score of an average-length
//     chunk holding every query term once.
//
// Results are sorted by score (ties by fused rank). An empty index gives
// no results. Errors: Invalid for blank text or K out of range,
// Unavailable when the index must be rebuilt, the embedder's errors.
func (ix *Index) Retrieve(ctx context.Context, text string, opt RetrieveOptions) (Retrieval, error) {
	k := opt.K
	if k == 0 {
		k = DefaultRetrieveK
	}
	if k < 0 || k > MaxRetrieveK {
		return Retrieval{}, conversation.Errorf(conversation.Invalid, "retrieve: k = %d, want 1 to %d", k, MaxRetrieveK)
	}
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > MaxQueryChars {
		text = string([]rune(text)[:MaxQueryChars])
	}
	if text == "" {
		return Retrieval{}, conversation.Errorf(conversation.Invalid, "retrieve: empty question")
	}
	r := Retrieval{Threshold: ix.Threshold()}
	v := ix.vocab.Load()
	if ix.Count() == 0 || v == nil {
		return r, nil
	}
	pool := max(minPool, 4*k)
	if !opt.Filter.empty() {
		pool = max(filteredPool, 20*k)
	}
	vec, err := ix.emb.Embed(ctx, text)
	if err != nil {
		return Retrieval{}, fmt.Errorf("embed query: %w", err)
	}
	terms := contentTerms(text)
	weights := ix.termWeights(terms)
	vecGroups := 0
	groups := map[string]*group{}
	var order []*group
	get := func(c *Chunk) *group {
		key := c.group()
		g, ok := groups[key]
		if !ok {
			g = &group{key: key}
			groups[key] = g
			order = append(order, g)
		}
		return g
	}
	if err := ix.checkCurrent(len(vec)); err != nil {
		return Retrieval{}, err
	}
	var keep func(int) bool // nil: no filter, nothing to check per vector
	if !opt.Filter.empty() {
		keep = func(d int) bool { return opt.Filter.keep(&v.lex.docs[d]) }
	}
	for _, h := range v.lex.vectors.nearest(vec, pool, keep) {
		c := &v.lex.docs[h.doc]
		g := get(c)
		if g.vecChunk == nil {
			g.vecRank = vecGroups + 1
			vecGroups++
			g.vecChunk, g.vec = c, h.sim
		}
	}
	rank := 0
	for _, h := range v.lex.search(terms, pool, opt.Filter.keep) {
		c := &v.lex.docs[h.doc]
		g := get(c)
		if g.lexChunk == nil {
			rank++
			g.lexChunk, g.lex, g.lexRank = c, h.score, rank
		}
	}
	if v.model != nil {
		probs := v.model.predict(text)
		top := topIndexes(probs, pool)
		for _, c := range top {
			i, ok := v.lex.byID[v.model.first[c]]
			if !ok || !opt.Filter.keep(&v.lex.docs[i]) {
				continue
			}
			g := get(&v.lex.docs[i])
			g.model, g.modelChunk = probs[c], v.model.first[c]
		}
		// Groups found by the retrievers but outside the model's top.
		for _, g := range order {
			if g.modelChunk == "" {
				if c, ok := v.model.classIndex(g.key); ok {
					g.model = probs[c]
				}
			}
		}
	}
	for _, g := range order {
		if g.vecRank > 0 {
			g.fused += 1 / float64(rrfK+g.vecRank)
		}
		if g.lexRank > 0 {
			g.fused += 1 / float64(rrfK+g.lexRank)
		}
		switch {
		case g.vecChunk != nil:
			g.represented = g.vecChunk
		case g.lexChunk != nil:
			g.represented = g.lexChunk
		default:
			i := v.lex.byID[g.modelChunk]
			g.represented = &v.lex.docs[i]
		}
	}
	ideal := max(v.lex.ideal(terms), 1e-9)
	partials := v.partialMatches(terms)
	hits := make([]RetrievedHit, 0, len(order))
	for _, g := range order {
		c := *g.represented
		h := RetrievedHit{Chunk: c, Fused: g.fused, Vector: g.vec, Lexical: g.lex, Model: g.model, VectorRank: g.vecRank, LexicalRank: g.lexRank}
		ct := ix.termsOf(c)
		h.Coverage = coverage(terms, weights, partials, ct.text)
		switch {
		case c.Card == "":
			if g.vecChunk == nil {
				h.Vector = v.lex.vectors.similarity(vec, v.lex.byID[c.ID])
			}
			head := coverage(terms, weights, partials, ct.heading)
			h.Score = vectorWeight*min(1, max(0, h.Vector/fullSimilarity)) + coverageWeight*h.Coverage + headingWeight*head
		case v.model != nil:
			h.Score = cardModelWeight*h.Model + cardVectorWeight*min(1, max(0, h.Vector/cardFullSimilarity)) + cardCoverageWeight*h.Coverage
		default:
			h.Score = cardOnlyLexicalWeight*min(1, h.Lexical/ideal) + cardOnlyVectorWeight*min(1, max(0, h.Vector/cardFullSimilarity)) + cardOnlyCoverageWeight*h.Coverage
		}
		h.Score = min(1, max(0, h.Score))
		hits = append(hits, h)
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		if hits[i].Fused != hits[j].Fused {
			return hits[i].Fused > hits[j].Fused
		}
		return hits[i].Chunk.ID < hits[j].Chunk.ID
	})
	r.Signals = signalsOf(hits, terms)
	if len(hits) > k {
		hits = hits[:k]
	}
	r.Hits = hits
	if len(terms) > 0 && len(hits) > 0 {
		r.Score = hits[0].Score
	}
	r.Answerable = len(hits) > 0 && r.Score >= r.Threshold
	r.Ambiguous = ambiguous(hits, r.Threshold)
	return r, nil
}

// signalsOf summarises the sorted results.
func signalsOf(hits []RetrievedHit, terms []string) Signals {
	s := Signals{Terms: len(terms)}
	if len(hits) == 0 {
		return s
	}
	s.Top, s.Coverage, s.Model = hits[0].Score, hits[0].Coverage, hits[0].Model
	s.Margin = s.Top
	if len(hits) > 1 {
		s.Margin = s.Top - hits[1].Score
	}
	var byVec, byLex string
	for _, h := range hits {
		if h.VectorRank == 1 {
			byVec = h.Chunk.group()
		}
		if h.LexicalRank == 1 {
			byLex = h.Chunk.group()
		}
	}
	s.Agreement = byVec != "" && byVec == byLex
	return s
}

// topic is what counts as a different topic for ambiguity: the FAQ card,
// or the document of a document chunk.
func topic(c Chunk) string {
	if c.Card != "" {
		return c.group()
	}
	return c.Source
}

// ambiguous reports whether the best result of another topic comes within
// AmbiguityGap of the best result, both near or above threshold.
func ambiguous(hits []RetrievedHit, threshold float64) bool {
	if len(hits) < 2 {
		return false
	}
	best := hits[0]
	for _, h := range hits[1:] {
		if best.Score-h.Score > AmbiguityGap {
			return false
		}
		if topic(h.Chunk) != topic(best.Chunk) {
			return h.Score >= ambiguityFloor*threshold
		}
	}
	return false
}

// topIndexes returns the indexes of the n largest values, largest first.
func topIndexes(v []float64, n int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
	if len(idx) > n {
		idx = idx[:n]
	}
	return idx
}

// classIndex returns the class of a card group.
func (m *intentModel) classIndex(key string) (int, bool) {
	i, ok := m.index[key]
	return i, ok
}

// checkCurrent reports whether the stored vectors were made by ix.emb and
// have n dimensions. Errors: Unavailable (run ingest).
func (ix *Index) checkCurrent(n int) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.current() {
		return conversation.Errorf(conversation.Unavailable, "knowledge index was built with embedder %q, not %q: run ingest", ix.man.Embedder, ix.emb.Name())
	}
	if ix.man.Dimensions != n {
		return conversation.Errorf(conversation.Unavailable, "knowledge index holds %d-dimensional vectors, the embedder made %d: run ingest", ix.man.Dimensions, n)
	}
	return nil
}
