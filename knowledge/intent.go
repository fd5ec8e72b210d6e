package knowledge

import (
	"math"
	"math/rand/v2"
	"sort"
)

// The intent model: multinomial logistic regression over the phrasings of
// the FAQ cards, trained with plain SGD whenever the lexicon is rebuilt
// (on Open and after each ingestion). Cards with example questions are
// exactly what such a model is for: it learns which words and word parts
// tell one card's phrasings from the others', where nearest-neighbour
// search only sees overall similarity.
//
// Training is deterministic: examples in chunk ID order, shuffled by a
// fixed seed, float32 weights updated in a fixed order.
const (
	// intentEpochs is the number of passes over the phrasings.
	intentEpochs = 12
	// intentRate is the initial learning rate; it decays as
	// rate/(1+epoch·intentRateDecay).
	intentRate      = 2.0
	intentRateDecay = 0.1
	// intentDecay shrinks all weights once per epoch (L2 regularisation).
	intentDecay = 0.0005
	// intentMinCount is how many phrasings must hold a feature for it to
	// get weights: rarer features only memorise single phrasings.
	intentMinCount = 2
	// Weights of the model's feature kinds, and the character n-gram sizes.
	modelWordWeight   = 1.0
	modelBigramWeight = 0.7
	modelNgramWeight  = 0.35
	// modelAltWeight is the weight of a German word's alternative terms
	// (see analyze), shared among them.
	modelAltWeight   = 1.0
	ngramLo, ngramHi = 3, 5
)

const (
	// intentMaxWeights bounds the model (features × cards); rarer features
	// are dropped until it fits.
	intentMaxWeights = 24 << 20
	// intentSkipGradient is the gradient below which a card's weights are
	// not updated for an example (a big saving once the model is fit).
	intentSkipGradient = 1e-4
	// intentMaxClasses is the most cards a model is trained for, and
	// intentMinPhrasings the phrasings a card needs on average: with fewer
	// examples per card there is nothing to learn that retrieval does not
	// see already.
	intentMaxClasses   = 2000
	intentMinPhrasings = 3
	// intentSeed fixes the shuffle.
	intentSeed = 0x7469657230
)

// intentModel scores the FAQ cards of an index for a text.
type intentModel struct {
	classes []string         // card groups (see Chunk.group)
	index   map[string]int   // card group → class
	first   []string         // per class, the ID of its first chunk
	rows    map[uint64]int32 // feature hash → weight row
	w       []float32        // rows × len(classes)
	bias    []float32
}

// sparseVec is a feature vector: weight rows and values.
type sparseVec struct {
	rows []int32
	vals []float32
}

// modelFeatures returns the features of text for the intent model: every
// word's stem (stop words included: "can I" and "I can" differ in intent),
// stem bigrams, and the character 3- to 5-grams of each word, each weighted
// 1+ln(tf) times its kind's weight, the whole L2-normalised.
//
// bridged reports whether a word has alternative terms (see analyze).
func modelFeatures(text string) (hashes []uint64, vals []float32, bridged bool) {
	if len(text) > maxEmbedBytes {
		text = truncateUTF8(text, maxEmbedBytes)
	}
	bag := newFeatureBag(len(text))
	prev := "<s>"
	for _, w := range analyze(text) {
		bag.add(hashKey('W', w.stem, ""), modelWordWeight)
		for i, a := range w.alts {
			bag.add(hashKey('W', a, ""), modelAltWeight*altWeight(i))
			bridged = true
		}
		bag.add(hashKey('B', prev, w.stem), modelBigramWeight)
		prev = w.stem
		marked := "<" + w.folded + ">"
		starts := runeStarts(marked)
		for n := ngramLo; n <= ngramHi; n++ {
			for i := 0; i+n < len(starts); i++ {
				bag.add(hashKey('C', marked[starts[i]:starts[i+n]], ""), modelNgramWeight)
			}
		}
	}
	hashes = make([]uint64, len(bag.feats))
	vals = make([]float32, len(bag.feats))
	var norm float64
	for i, f := range bag.feats {
		x := f.weight * (1 + math.Log(f.tf))
		hashes[i] = f.hash
		vals[i] = float32(x)
		norm += x * x
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range vals {
			vals[i] *= inv
		}
	}
	return hashes, vals, bridged
}

// trainIntentModel trains the model on the card chunks among chunks (their
// Question is the example, their group the class). Nil when there are
// fewer than two cards.
func trainIntentModel(chunks []Chunk) *intentModel {
	type example struct {
		hashes []uint64
		vals   []float32
		class  int
	}
	sorted := make([]*Chunk, 0, len(chunks))
	for i := range chunks {
		if chunks[i].Card != "" {
			sorted = append(sorted, &chunks[i])
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	m := &intentModel{rows: map[uint64]int32{}, index: map[string]int{}}
	classOf := m.index
	var exs []example
	counts := map[uint64]int{}
	for _, c := range sorted {
		g := c.group()
		k, ok := classOf[g]
		if !ok {
			k = len(m.classes)
			classOf[g] = k
			m.classes = append(m.classes, g)
			m.first = append(m.first, c.ID)
		} else if c.Part == 0 {
			m.first[k] = c.ID
		}
		h, v, _ := modelFeatures(c.Question)
		for _, x := range h {
			counts[x]++
		}
		exs = append(exs, example{hashes: h, vals: v, class: k})
	}
	nc := len(m.classes)
	if nc < 2 || nc > intentMaxClasses || len(exs) < intentMinPhrasings*nc {
		return nil
	}
	// Keep the features held by enough phrasings, raising the bar until the
	// weights fit the budget.
	for minCount := intentMinCount; ; minCount++ {
		n := 0
		for _, c := range counts {
			if c >= minCount {
				n++
			}
		}
		if n*nc <= intentMaxWeights || n == 0 {
			keys := make([]uint64, 0, n)
			for h, c := range counts {
				if c >= minCount {
					keys = append(keys, h)
				}
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for i, h := range keys {
				m.rows[h] = int32(i)
			}
			break
		}
	}
	m.w = make([]float32, len(m.rows)*nc)
	m.bias = make([]float32, nc)
	xs := make([]sparseVec, len(exs))
	for i, e := range exs {
		xs[i] = m.vector(e.hashes, e.vals)
	}
	rng := rand.New(rand.NewPCG(intentSeed, uint64(len(exs))))
	scores := make([]float64, nc)
	active := make([]int, 0, nc)
	grads := make([]float32, 0, nc)
	for epoch := 0; epoch < intentEpochs; epoch++ {
		rate := intentRate / (1 + float64(epoch)*intentRateDecay)
		for _, i := range rng.Perm(len(exs)) {
			x := xs[i]
			m.scores(x, scores)
			softmax(scores)
			scores[exs[i].class] -= 1
			active, grads = active[:0], grads[:0]
			for c, g := range scores {
				if g > intentSkipGradient || g < -intentSkipGradient {
					active = append(active, c)
					grads = append(grads, float32(rate*g))
				}
			}
			for k, c := range active {
				m.bias[c] -= grads[k]
			}
			for j, r := range x.rows {
				row := m.w[int(r)*nc : int(r+1)*nc]
				v := x.vals[j]
				for k, c := range active {
					row[c] -= grads[k] * v
				}
			}
		}
		keep := float32(1 - intentDecay)
		for i := range m.w {
			m.w[i] *= keep
		}
	}
	return m
}

// vector maps hashed features to the model's rows, dropping unknown ones.
func (m *intentModel) vector(hashes []uint64, vals []float32) sparseVec {
	var x sparseVec
	for i, h := range hashes {
		if r, ok := m.rows[h]; ok {
			x.rows = append(x.rows, r)
			x.vals = append(x.vals, vals[i])
		}
	}
	return x
}

// normalize scales x to unit length.
func (x *sparseVec) normalize() {
	var norm float64
	for _, v := range x.vals {
		norm += float64(v) * float64(v)
	}
	if norm == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range x.vals {
		x.vals[i] *= inv
	}
}

// scores writes the linear score of each class for x into out.
func (m *intentModel) scores(x sparseVec, out []float64) {
	nc := len(m.classes)
	acc := make([]float32, nc)
	copy(acc, m.bias)
	for j, r := range x.rows {
		row := m.w[int(r)*nc : int(r+1)*nc]
		v := x.vals[j]
		for c, w := range row {
			acc[c] += w * v
		}
	}
	for c, a := range acc {
		out[c] = float64(a)
	}
}

// softmax turns scores into probabilities in place.
func softmax(s []float64) {
	top := math.Inf(-1)
	for _, x := range s {
		top = max(top, x)
	}
	var sum float64
	for i, x := range s {
		s[i] = math.Exp(x - top)
		sum += s[i]
	}
	for i := range s {
		s[i] /= sum
	}
}

// predict returns the probability of each class (card) for text.
//
// A question analysed through the language bridge (German words with
// English translations, see analyze) is scaled to unit length over the
// features the model knows: its untranslatable German words and word
// parts would otherwise shrink the translated evidence towards the
// class priors.
func (m *intentModel) predict(text string) []float64 {
	h, v, bridged := modelFeatures(text)
	x := m.vector(h, v)
	if bridged {
		x.normalize()
	}
	p := make([]float64, len(m.classes))
	m.scores(x, p)
	softmax(p)
	return p
}
