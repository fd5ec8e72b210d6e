package knowledge

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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

	// terms and weights are the query's content terms and their weights,
	// so the answerer does not analyse the question again.
	terms   []string
	alts    [][]string // per term, its alternatives (see queryTerms); nil when none
	weights []float64
}

// group collects what the retrievers found of one result group. Chunks
// are positions in the vocabulary's lexical index, -1 for none.
type group struct {
	key      string
	vecDoc   int // the best chunk the vector search found
	vec      float64
	lexDoc   int // the best chunk BM25 found
	lex      float64
	vecRank  int
	lexRank  int
	model    float64
	modelDoc int // the card's first phrasing, when the intent model ranked it
	fused    float64
	doc      int // the chunk that represents the group: vector, BM25, model
	score    float64
	coverage float64
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
	words := analyze(text)
	var vec []float32
	if _, hashed := ix.emb.(*HashEmbedder); hashed && len(text) <= maxEmbedBytes {
		if err := ctx.Err(); err != nil {
			return Retrieval{}, fmt.Errorf("embed query: %w", err)
		}
		vec = embedWords(text, words) // the same vector as Embed, without analysing twice
	} else {
		var err error
		if vec, err = ix.emb.Embed(ctx, text); err != nil {
			return Retrieval{}, fmt.Errorf("embed query: %w", err)
		}
	}
	terms, alts := termsOf(words)
	weights := ix.termWeights(terms, alts)
	if err := ix.checkCurrent(len(vec)); err != nil {
		return Retrieval{}, err
	}
	// Each retriever returns at most pool chunks, so there are at most
	// 3·pool groups (and no more than chunks), found by their key.
	most := min(3*pool, len(v.lex.docs))
	groups := make([]group, 0, most)
	slot := make([]int32, len(v.groupKeys)) // group id → position in groups + 1
	get := func(doc int) *group {
		id := v.groupOf[doc]
		i := slot[id] - 1
		if i < 0 {
			i = int32(len(groups))
			slot[id] = i + 1
			groups = append(groups, group{key: v.groupKeys[id], vecDoc: -1, lexDoc: -1, modelDoc: -1})
		}
		return &groups[i]
	}
	var keep func(int) bool // nil: no filter, nothing to check per vector
	if !opt.Filter.empty() {
		keep = func(d int) bool { return opt.Filter.keep(&v.lex.docs[d]) }
	}
	vecGroups := 0
	for _, h := range v.lex.vectors.nearest(vec, pool, keep) {
		g := get(h.doc)
		if g.vecDoc < 0 {
			g.vecRank = vecGroups + 1
			vecGroups++
			g.vecDoc, g.vec = h.doc, h.sim
		}
	}
	rank := 0
	lexTerms, boost := lexicalQuery(terms, alts)
	for _, h := range v.lex.search(lexTerms, boost, pool, opt.Filter.keep) {
		g := get(h.doc)
		if g.lexDoc < 0 {
			rank++
			g.lexDoc, g.lex, g.lexRank = h.doc, h.score, rank
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
			g := get(i)
			g.model, g.modelDoc = probs[c], i
		}
		// Groups found by the retrievers but outside the model's top.
		for i := range groups {
			g := &groups[i]
			if g.modelDoc < 0 {
				if c, ok := v.model.classIndex(g.key); ok {
					g.model = probs[c]
				}
			}
		}
	}
	ideal := max(v.lex.ideal(terms, alts), 1e-9)
	full := fullSimilarity
	if _, hashed := ix.emb.(*HashEmbedder); hashed && alts != nil {
		// A question asked through the language bridge meets the chunks'
		// words only through its translations: its hash vectors are less
		// alike. A multilingual embedding model needs no such allowance.
		full = bridgedFullSimilarity
	}
	partials := v.partialMatches(terms)
	var textCov, headCov *postingCoverage
	if partials != nil && !coverageBySets {
		textCov = newPostingCoverage(len(v.lex.docs), v.textHolders, terms, alts, weights, partials)
		headCov = newPostingCoverage(len(v.lex.docs), v.headingHolders, terms, alts, weights, partials)
	}
	vecNorm := -1.0
	for i := range groups {
		g := &groups[i]
		if g.vecRank > 0 {
			g.fused += 1 / float64(rrfK+g.vecRank)
		}
		if g.lexRank > 0 {
			g.fused += 1 / float64(rrfK+g.lexRank)
		}
		switch {
		case g.vecDoc >= 0:
			g.doc = g.vecDoc
		case g.lexDoc >= 0:
			g.doc = g.lexDoc
		default:
			g.doc = g.modelDoc
		}
		c := &v.lex.docs[g.doc]
		ct := v.docTerms[g.doc]
		if textCov != nil {
			g.coverage = textCov.of(g.doc)
		} else {
			g.coverage = coverage(terms, alts, weights, partials, ct.text)
		}
		switch {
		case c.Card == "":
			if g.vecDoc < 0 {
				if vecNorm < 0 {
					vecNorm = norm(vec)
				}
				g.vec = v.lex.vectors.cosine(vec, vecNorm, g.doc)
			}
			var head float64
			if headCov != nil {
				head = headCov.of(g.doc)
			} else {
				head = coverage(terms, alts, weights, partials, ct.heading)
			}
			g.score = vectorWeight*min(1, max(0, g.vec/full)) + coverageWeight*g.coverage + headingWeight*head
		case v.model != nil:
			g.score = cardModelWeight*g.model + cardVectorWeight*min(1, max(0, g.vec/cardFullSimilarity)) + cardCoverageWeight*g.coverage
		default:
			g.score = cardOnlyLexicalWeight*min(1, g.lex/ideal) + cardOnlyVectorWeight*min(1, max(0, g.vec/cardFullSimilarity)) + cardOnlyCoverageWeight*g.coverage
		}
		g.score = min(1, max(0, g.score))
	}
	// Sort small positions, not the groups or the hits (a Chunk each).
	ranked := make([]int32, len(groups))
	for i := range ranked {
		ranked[i] = int32(i)
	}
	slices.SortStableFunc(ranked, func(a, b int32) int {
		ga, gb := &groups[a], &groups[b]
		switch {
		case ga.score != gb.score:
			return cmp.Compare(gb.score, ga.score)
		case ga.fused != gb.fused:
			return cmp.Compare(gb.fused, ga.fused)
		}
		return strings.Compare(v.lex.docs[ga.doc].ID, v.lex.docs[gb.doc].ID)
	})
	r.Signals = signalsOf(groups, ranked, len(terms))
	hits := make([]RetrievedHit, 0, min(k, len(ranked)))
	for _, i := range ranked[:min(k, len(ranked))] {
		g := &groups[i]
		hits = append(hits, RetrievedHit{Chunk: v.lex.docs[g.doc], Score: g.score, Fused: g.fused, Vector: g.vec, Lexical: g.lex,
			Model: g.model, Coverage: g.coverage, VectorRank: g.vecRank, LexicalRank: g.lexRank})
	}
	r.Hits = hits
	r.terms, r.alts, r.weights = terms, alts, weights
	if len(terms) > 0 && len(hits) > 0 {
		r.Score = hits[0].Score
	}
	r.Answerable = len(hits) > 0 && r.Score >= r.Threshold
	r.Ambiguous = ambiguous(hits, r.Threshold)
	return r, nil
}

// coverageBySets makes Retrieve compute every chunk's coverage from its
// term set, for the test that checks postingCoverage agrees.
var coverageBySets = false

// postingCoverage computes coverage (see coverage) of the query terms for
// every chunk of the lexical index at once, from the postings: a chunk's
// lexical text holds exactly the terms whose postings list it (both come
// from contentTerms of Chunk.lexicalText). Per query term it marks the
// chunks holding the term and those holding one of its partial matches.
type postingCoverage struct {
	weights []float64
	total   float64
	exact   [][]uint64 // per query term, a bit per chunk
	part    [][]uint64
}

func newPostingCoverage(docs int, holders func(term string, mark func(doc int32)), terms []string, alts [][]string, weights []float64, partials [][]string) *postingCoverage {
	words := (docs + 63) / 64
	c := &postingCoverage{weights: weights, exact: make([][]uint64, len(terms)), part: make([][]uint64, len(terms))}
	// One allocation for all the bit sets.
	bits := make([]uint64, 2*len(terms)*words)
	next := func() []uint64 {
		b := bits[:words:words]
		bits = bits[words:]
		return b
	}
	var cur []uint64
	mark := func(doc int32) { cur[doc/64] |= 1 << (doc % 64) }
	for i, t := range terms {
		c.total += weights[i]
		c.exact[i] = next()
		cur = c.exact[i]
		holders(t, mark)
		if i < len(alts) {
			for _, a := range alts[i] {
				holders(a, mark)
			}
		}
		if len(partials[i]) > 0 {
			c.part[i] = next()
			cur = c.part[i]
			for _, p := range partials[i] {
				holders(p, mark)
			}
		}
	}
	return c
}

// of returns the coverage of chunk doc's lexical text.
func (c *postingCoverage) of(doc int) float64 {
	if c.total == 0 {
		return 0
	}
	w, bit := doc/64, uint64(1)<<(doc%64)
	var got float64
	for i := range c.exact {
		switch {
		case c.exact[i][w]&bit != 0:
			got += c.weights[i]
		case c.part[i] != nil && c.part[i][w]&bit != 0:
			got += c.weights[i] * partialMatch
		}
	}
	return got / c.total
}

// signalsOf summarises the results: groups in the order of ranked, best
// first.
func signalsOf(groups []group, ranked []int32, terms int) Signals {
	s := Signals{Terms: terms}
	if len(ranked) == 0 {
		return s
	}
	best := &groups[ranked[0]]
	s.Top, s.Coverage, s.Model = best.score, best.coverage, best.model
	s.Margin = s.Top
	if len(ranked) > 1 {
		s.Margin = s.Top - groups[ranked[1]].score
	}
	// Both retrievers rank the same group first.
	for i := range groups {
		if groups[i].vecRank == 1 && groups[i].lexRank == 1 {
			s.Agreement = true
		}
	}
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
