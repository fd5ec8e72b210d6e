package knowledge

import (
	"context"
	"math"
)

// vocabulary holds, for the content terms of the indexed chunks, how many
// chunks contain each (document frequency). The answerer weighs query terms
// with it: a term found in few chunks says more about what the question is
// about than one found in many, and a term found in none marks a question
// the documents likely do not cover.
type vocabulary struct {
	chunks int
	df     map[string]int
}

func newVocabulary(chunks []Chunk) *vocabulary {
	v := &vocabulary{chunks: len(chunks), df: map[string]int{}}
	for _, c := range chunks {
		for _, t := range contentTerms(c.lexicalText()) {
			v.df[t]++
		}
	}
	return v
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
	chunks, err := ix.stored(ctx)
	if err != nil {
		return err
	}
	ix.vocab.Store(newVocabulary(chunks))
	return nil
}

// termWeights returns the weight of each term (see vocabulary.weight).
func (ix *Index) termWeights(terms []string) []float64 {
	v := ix.vocab.Load()
	w := make([]float64, len(terms))
	for i, t := range terms {
		w[i] = v.weight(t)
	}
	return w
}
