package knowledge

import (
	"context"
	"math"
	"sync"
)

// vocabulary holds, for the content terms of the indexed chunks, how many
// chunks contain each (document frequency). The answerer weighs query terms
// with it: a term found in few chunks says more about what the question is
// about than one found in many, and a term found in none marks a question
// the documents likely do not cover.
//
// It also keeps each chunk's analysed terms, so answering a question does
// not analyse the candidate chunks' text again.
//
// Beside that it is the in-memory lexical index of the stored chunks (see
// lexical.go) and holds the intent model of their FAQ cards (intent.go);
// all of it is rebuilt from the stored chunks on Open and after each
// ingestion.
type vocabulary struct {
	chunks int
	df     map[string]int
	terms  map[string]chunkTerms // chunk ID → its terms

	lex   *lexicalIndex
	model *intentModel // nil without at least two FAQ cards

	// groupOf and docTerms are, per chunk of lex.docs (same order), its
	// result group (see Chunk.group; a position in groupKeys) and its
	// analysed terms: Retrieve looks them up by position instead of
	// building keys per query.
	groupOf   []int32
	groupKeys []string
	docTerms  []chunkTerms
	// headings holds, per term, the chunks (positions in lex.docs) whose
	// heading has it: heading coverage for every chunk at once.
	headings map[string][]int32

	// known holds every term of every chunk (text and heading); fuzzy
	// caches, per query term, the known terms that match it partly.
	known   []string
	fuzzyMu sync.Mutex
	fuzzy   map[string][]string
}

// maxFuzzyCache bounds the per-term cache of partial matches.
const maxFuzzyCache = 50000

// termSet is the content terms of a text, as a list and as a set.
type termSet struct {
	list []string
	set  map[string]bool
	// known is true when every term is in the vocabulary's known terms,
	// so partial matches can be looked up instead of scanned.
	known bool
}

// newTermSet holds the content terms of text and the alternative terms of
// its German words (see analyze).
func newTermSet(text string) termSet {
	list, alts := queryTerms(text)
	set := make(map[string]bool, len(list))
	for _, t := range list {
		set[t] = true
	}
	for _, as := range alts {
		for _, a := range as {
			if !set[a] {
				set[a] = true
				list = append(list, a)
			}
		}
	}
	return termSet{list: list, set: set}
}

// chunkTerms is what coverage needs of a chunk: the terms of its whole
// lexical text and of its heading.
type chunkTerms struct {
	text, heading termSet
}

func newChunkTerms(c Chunk) chunkTerms {
	heading := c.Section
	if heading == "" {
		heading = c.Title
	}
	return chunkTerms{text: newTermSet(c.lexicalText()), heading: newTermSet(heading)}
}

func newVocabulary(chunks []Chunk, vecs [][]float32) *vocabulary {
	v := &vocabulary{chunks: len(chunks), df: map[string]int{}, terms: make(map[string]chunkTerms, len(chunks))}
	known := map[string]bool{}
	for _, c := range chunks {
		ct := newChunkTerms(c)
		ct.text.known, ct.heading.known = true, true
		v.terms[c.ID] = ct
		for t := range ct.text.set {
			v.df[t]++
			known[t] = true
		}
		for t := range ct.heading.set {
			known[t] = true
		}
	}
	v.known = make([]string, 0, len(known))
	for t := range known {
		v.known = append(v.known, t)
	}
	v.fuzzy = map[string][]string{}
	v.lex = newLexicalIndex(chunks, vecs, v.df)
	v.groupOf = make([]int32, len(v.lex.docs))
	groupIDs := map[string]int32{}
	v.docTerms = make([]chunkTerms, len(v.lex.docs))
	v.headings = map[string][]int32{}
	for i, c := range v.lex.docs {
		key := c.group()
		id, ok := groupIDs[key]
		if !ok {
			id = int32(len(v.groupKeys))
			groupIDs[key] = id
			v.groupKeys = append(v.groupKeys, key)
		}
		v.groupOf[i] = id
		v.docTerms[i] = v.terms[c.ID]
		for _, t := range v.docTerms[i].heading.list {
			v.headings[t] = append(v.headings[t], int32(i))
		}
	}
	v.model = trainIntentModel(chunks)
	return v
}

// textHolders calls mark for every chunk whose lexical text holds term:
// a chunk's text terms are exactly those whose postings list it (both
// come from its lexical text).
func (v *vocabulary) textHolders(term string, mark func(doc int32)) {
	for _, p := range v.lex.postings[term] {
		mark(p.doc)
	}
}

// headingHolders calls mark for every chunk whose heading holds term.
func (v *vocabulary) headingHolders(term string, mark func(doc int32)) {
	for _, d := range v.headings[term] {
		mark(d)
	}
}

// weight is the BM25 inverse document frequency of term,
// ln(1 + (N − df + 0.5) / (df + 0.5)): about ln(2N) for a term no chunk
// holds, near 0 for one every chunk holds. Without a vocabulary every term
// weighs 1.
func (v *vocabulary) weight(term string) float64 {
	if v == nil || v.chunks == 0 {
		return 1
	}
	df := float64(v.df[term])
	return math.Sqrt(math.Log(1 + (float64(v.chunks)-df+0.5)/(df+0.5)))
}

// refreshVocabulary recounts the vocabulary from the stored chunks.
func (ix *Index) refreshVocabulary(ctx context.Context) error {
	chunks, vecs, err := ix.storedWithVectors(ctx)
	if err != nil {
		return err
	}
	ix.vocab.Store(newVocabulary(chunks, vecs))
	return nil
}

// termWeights returns the weight of each term (see vocabulary.weight). A
// term no chunk holds but some of whose alternatives (alts, may be nil;
// see queryTerms) chunks hold weighs as the mean of those: a German word
// asked of English knowledge says as much as its translation.
func (ix *Index) termWeights(terms []string, alts [][]string) []float64 {
	v := ix.vocab.Load()
	w := make([]float64, len(terms))
	for i, t := range terms {
		w[i] = v.weight(t)
		if v == nil || v.df[t] > 0 || i >= len(alts) {
			continue
		}
		var sum float64
		n := 0
		for _, a := range alts[i] {
			if v.df[a] > 0 {
				sum += v.weight(a)
				n++
			}
		}
		if n > 0 {
			w[i] = sum / float64(n)
		}
	}
	return w
}

// partialMatches returns, for each query term, the known terms that match
// it only partly (see partial): what coverage counts at partialMatch.
// Nil without a vocabulary.
func (v *vocabulary) partialMatches(terms []string) [][]string {
	if v == nil || v.fuzzy == nil {
		return nil
	}
	out := make([][]string, len(terms))
	for i, q := range terms {
		v.fuzzyMu.Lock()
		m, ok := v.fuzzy[q]
		v.fuzzyMu.Unlock()
		if !ok {
			m = []string{}
			for _, t := range v.known {
				if t != q && partial(q, t) {
					m = append(m, t)
				}
			}
			v.fuzzyMu.Lock()
			if len(v.fuzzy) >= maxFuzzyCache {
				clear(v.fuzzy)
			}
			v.fuzzy[q] = m
			v.fuzzyMu.Unlock()
		}
		out[i] = m
	}
	return out
}
