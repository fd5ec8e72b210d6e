package knowledge

import (
	"math"
	"slices"
	"sort"
	"unicode/utf8"
)

// BM25 parameters: the usual term-frequency saturation and length
// normalisation.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// lexicalIndex is an in-memory BM25 index over the lexical text of the
// stored chunks (see Chunk.lexicalText), analysed like the rest of the
// package: folded, stop words left out, light stems. It is rebuilt from
// the stored chunks, never persisted.
type lexicalIndex struct {
	docs     []Chunk // sorted by ID
	length   []float64
	avgLen   float64
	postings map[string][]posting
	idf      map[string]float64
	byID     map[string]int
	vectors  vectorTable // of docs, same order
}

// posting is one chunk holding a term, with how often.
type posting struct {
	doc int32
	tf  float32
}

// lexicalHit is a chunk's BM25 score for a query.
type lexicalHit struct {
	doc   int
	score float64
}

func newLexicalIndex(chunks []Chunk, vecs [][]float32, df map[string]int) *lexicalIndex {
	order := make([]int, len(chunks))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return chunks[order[a]].ID < chunks[order[b]].ID })
	docs := make([]Chunk, len(chunks))
	sortedVecs := make([][]float32, len(chunks))
	for i, j := range order {
		docs[i] = chunks[j]
		if j < len(vecs) {
			sortedVecs[i] = vecs[j]
		}
	}
	lx := &lexicalIndex{
		vectors:  newVectorTable(sortedVecs),
		docs:     docs,
		length:   make([]float64, len(docs)),
		postings: map[string][]posting{},
		idf:      make(map[string]float64, len(df)),
		byID:     make(map[string]int, len(docs)),
	}
	var total float64
	for i, c := range docs {
		lx.byID[c.ID] = i
		counts, n := termCounts(c.lexicalText())
		lx.length[i] = float64(n)
		total += float64(n)
		for t, tf := range counts {
			lx.postings[t] = append(lx.postings[t], posting{doc: int32(i), tf: float32(tf)})
		}
	}
	if len(docs) > 0 {
		lx.avgLen = total / float64(len(docs))
	}
	n := float64(len(docs))
	for t, d := range df {
		lx.idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
	}
	return lx
}

// termCounts returns how often each content term (see contentTerms)
// occurs in text, and their total. The alternative terms of German words
// (see analyze) count too, but not towards the total: a German chunk is
// as long as its words.
func termCounts(text string) (map[string]int, int) {
	counts := map[string]int{}
	n := 0
	for _, w := range analyze(text) {
		if w.stop || utf8.RuneCountInString(w.folded) < 2 {
			continue
		}
		counts[w.stem]++
		for _, a := range w.alts {
			counts[a]++
		}
		n++
	}
	return counts, n
}

// search returns the BM25 scores of the chunks that hold at least one of
// terms and pass keep, best first, at most k. boost, when not nil, scales
// each term's contribution.
func (lx *lexicalIndex) search(terms []string, boost []float64, k int, keep func(*Chunk) bool) []lexicalHit {
	if lx == nil || len(lx.docs) == 0 || k < 1 {
		return nil
	}
	// Scores in an array by position, with the positions touched, for
	// indexes of up to denseScores chunks; a map above.
	var (
		dense   []float64
		held    []bool
		touched []int32
		sparse  map[int32]float64
	)
	if len(lx.docs) <= denseScores {
		dense, held = make([]float64, len(lx.docs)), make([]bool, len(lx.docs))
	} else {
		sparse = map[int32]float64{}
	}
	for i, t := range terms {
		idf := lx.idf[t]
		if boost != nil {
			idf *= boost[i]
		}
		for _, p := range lx.postings[t] {
			tf := float64(p.tf)
			norm := 1 - bm25B + bm25B*lx.length[p.doc]/lx.avgLen
			s := idf * tf * (bm25K1 + 1) / (tf + bm25K1*norm)
			if dense == nil {
				sparse[p.doc] += s
				continue
			}
			if !held[p.doc] {
				held[p.doc] = true
				touched = append(touched, p.doc)
			}
			dense[p.doc] += s
		}
	}
	var hits []lexicalHit
	if dense != nil {
		hits = make([]lexicalHit, 0, len(touched))
		for _, d := range touched {
			if keep == nil || keep(&lx.docs[d]) {
				hits = append(hits, lexicalHit{doc: int(d), score: dense[d]})
			}
		}
	} else {
		hits = make([]lexicalHit, 0, len(sparse))
		for d, s := range sparse {
			if keep == nil || keep(&lx.docs[d]) {
				hits = append(hits, lexicalHit{doc: int(d), score: s})
			}
		}
	}
	slices.SortFunc(hits, func(a, b lexicalHit) int { return bestFirst(a.score, b.score, a.doc, b.doc) })
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}

// denseScores is the largest index whose BM25 scores search keeps in an
// array (8 bytes per chunk per query) rather than a map.
const denseScores = 1 << 16

// ideal is the BM25 score of a chunk of average length holding each of
// terms once: the scale Retrieve measures lexical scores against. A term
// no chunk holds counts with the best of its alternatives (alts, may be
// nil; see queryTerms), weighed as search weighs them.
func (lx *lexicalIndex) ideal(terms []string, alts [][]string) float64 {
	var sum float64
	for i, t := range terms {
		idf := lx.idf[t]
		if idf == 0 && i < len(alts) {
			share := altShare(len(alts[i]))
			for _, a := range alts[i] {
				idf = max(idf, lx.idf[a]*share)
			}
		}
		sum += idf
	}
	return sum
}

// altShare is the weight of each of n alternative terms of a word in the
// lexical search: together they count about as much as a second word.
func altShare(n int) float64 { return 1 / math.Sqrt(float64(n)) }

// lexicalQuery returns terms followed by their alternatives (alts, may be
// nil), and the boost search gives each: 1 for terms, altShare for
// alternatives.
func lexicalQuery(terms []string, alts [][]string) ([]string, []float64) {
	if alts == nil {
		return terms, nil
	}
	all := append([]string(nil), terms...)
	boost := make([]float64, len(terms), len(terms)*2)
	for i := range boost {
		boost[i] = 1
	}
	seen := map[string]bool{}
	for _, t := range terms {
		seen[t] = true
	}
	for _, as := range alts {
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				all = append(all, a)
				boost = append(boost, altShare(len(as)))
			}
		}
	}
	return all, boost
}
