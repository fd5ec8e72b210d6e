package knowledge

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/philippgille/chromem-go"
)

// Embedder turns text into a vector for similarity search. Implementations
// must be safe for concurrent use and deterministic enough that the same
// text maps to the same vector within one index.
type Embedder interface {
	// Embed returns the vector of text. Every call of one Embedder returns
	// vectors of the same length. Errors: Unavailable (provider down),
	// Invalid (text rejected), the context's error.
	Embed(ctx context.Context, text string) ([]float32, error)
	// Name identifies the model and its settings. It is stored with the
	// index: when it changes, Index.Ingest wipes the index and re-embeds
	// everything, because vectors of different models do not compare.
	Name() string
}

// EmbeddingFunc adapts e to chromem-go's embedding function type, for code
// that lets chromem-go embed documents or queries itself.
func EmbeddingFunc(e Embedder) chromem.EmbeddingFunc {
	return e.Embed
}

// BatchEmbedder is an Embedder that embeds many texts in one call, such
// as a remote embeddings API taking an array of inputs. Index.Ingest uses
// it when the embedder has it. The vectors come back in the order of texts.
type BatchEmbedder interface {
	Embedder
	EmbedBatch(ctx context.Context, texts []string) ([][]float32, error)
}

// HashDimensions is the vector length of the built-in HashEmbedder.
const HashDimensions = 1024

// maxEmbedBytes bounds the text one Embed call of the HashEmbedder reads;
// the rest is ignored. Chunks and queries are far shorter.
const maxEmbedBytes = 64 << 10

// Feature weights of the HashEmbedder, before sublinear tf weighting.
const (
	weightUnigram = 1.0
	weightBigram  = 0.6
	weightNgram   = 0.3
	// weightAlt is the weight of a German word's alternative terms (see
	// analyze), shared among them.
	weightAlt = 1.0
	// bridgedSurface scales the word and n-gram features of a German word
	// that has translations.
	bridgedSurface = 0.3
)

// HashEmbedder is the built-in offline embedding: no network, no model
// files, any language. It is what tier0 uses unless an embeddings endpoint
// is configured.
//
// A text becomes a bag of features:
//
//   - word unigrams: the light stem of each word that is not a stop word
//     (see stem and stopWords: English and German);
//   - word bigrams: two consecutive such stems;
//   - character 3- to 5-grams of each such word, with "<" and ">" marking
//     the word's start and end, so related forms ("Passwort",
//     "Passwörter") and compounds share features and scripts without
//     spaces still match.
//
// Words are lower-cased and accent-folded (ä → a, ß → ss), and hyphenated
// words are joined (Wi-Fi → wifi). Each feature counts 1+ln(tf) times its
// kind's weight (unigram 1.0, bigram 0.6, n-gram 0.3). Features are hashed
// (64-bit FNV-1a with a bit-mixing finaliser) into HashDimensions buckets;
// the top hash bit picks the sign, so collisions cancel out on average
// instead of piling up. The vector is L2-normalised. A text of stop words only is embedded with its stop words,
// a text without words (emoji, symbols) as one feature of its own; only a
// blank text gets the zero vector.
//
// The mapping is deterministic: the same text gives the same vector on every
// machine and in every version with the same Name.
type HashEmbedder struct{}

var _ Embedder = (*HashEmbedder)(nil)

// NewHashEmbedder returns the built-in offline embedder.
func NewHashEmbedder() *HashEmbedder { return &HashEmbedder{} }

// Name identifies the feature set and dimension; it changes whenever the
// vectors would.
func (*HashEmbedder) Name() string { return fmt.Sprintf("tier0-hash-v2-%d", HashDimensions) }

// Embed returns the normalised feature-hash vector of text (see
// HashEmbedder). Only the context's error is returned.
func (*HashEmbedder) Embed(ctx context.Context, text string) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(text) > maxEmbedBytes {
		text = truncateUTF8(text, maxEmbedBytes)
	}
	return embedWords(text, analyze(text)), nil
}

// embedWords is Embed of text whose analysis is words (Retrieve analyses a
// question once for its vector and its terms).
func embedWords(text string, words []word) []float32 {
	bag := newFeatureBag(len(text))
	bag.addWords(words, false)
	if len(bag.feats) == 0 {
		// Only stop words: they are all the text has to say.
		bag.addWords(words, true)
	}
	if len(bag.feats) == 0 {
		// No words at all (symbols, emoji): the text itself is the feature.
		if t := strings.TrimSpace(text); t != "" {
			bag.add(hashKey('t', t, ""), weightUnigram)
		}
	}
	return bag.vector()
}

// feature is one hashed feature of a text with its count and weight.
type feature struct {
	hash   uint64
	tf     float64
	weight float64
}

// featureBag collects the features of a text in order of first
// appearance, so the vector sums them in the same order on every run.
type featureBag struct {
	index map[uint64]int
	feats []feature
}

// newFeatureBag returns an empty bag for a text of n bytes: each byte
// starts about two features (its character n-grams, less stop words).
func newFeatureBag(n int) *featureBag {
	n = min(2*n, 4096)
	return &featureBag{index: make(map[uint64]int, n), feats: make([]feature, 0, n)}
}

func (b *featureBag) add(h uint64, weight float64) {
	if i, ok := b.index[h]; ok {
		b.feats[i].tf++
		return
	}
	b.index[h] = len(b.feats)
	b.feats = append(b.feats, feature{hash: h, tf: 1, weight: weight})
}

// addWords adds the features of words (see HashEmbedder). Stop words are
// skipped unless withStop is set.
func (b *featureBag) addWords(words []word, withStop bool) {
	prev := ""
	for _, w := range words {
		if w.stop && !withStop {
			continue
		}
		// A German word with translations counts partly as itself and
		// partly as its translations (see analyze).
		surface := 1.0
		if len(w.alts) > 0 {
			surface = bridgedSurface
		}
		b.add(hashKey('w', w.stem, ""), weightUnigram*surface)
		for i, a := range w.alts {
			b.add(hashKey('w', a, ""), weightAlt*altWeight(i))
		}
		if prev != "" {
			b.add(hashKey('b', prev, w.stem), weightBigram)
		}
		prev = w.stem
		marked := "<" + w.folded + ">"
		starts := runeStarts(marked)
		for n := 3; n <= 5; n++ {
			for i := 0; i+n < len(starts); i++ {
				b.add(hashKey('c', marked[starts[i]:starts[i+n]], ""), weightNgram*surface)
			}
		}
	}
}

// vector hashes the features into HashDimensions signed buckets and
// normalises the result.
func (b *featureBag) vector() []float32 {
	// The sums come from a pool: 8 KB on the stack would grow a fresh
	// goroutine's stack (a copy) on every question.
	buf := sums.Get().(*[HashDimensions]float64)
	defer sums.Put(buf)
	v := buf[:]
	clear(v)
	for _, f := range b.feats {
		x := f.weight * (1 + math.Log(f.tf))
		if f.hash>>63 == 1 {
			x = -x
		}
		v[f.hash%HashDimensions] += x
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, HashDimensions)
	if norm == 0 {
		return out
	}
	inv := 1 / math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x * inv)
	}
	return out
}

var sums = sync.Pool{New: func() any { return new([HashDimensions]float64) }}

// runeStarts returns the byte offset of every rune of s and len(s).
func runeStarts(s string) []int {
	starts := make([]int, 0, len(s)+1)
	for i := range s {
		starts = append(starts, i)
	}
	return append(starts, len(s))
}

// hashKey hashes a feature: its kind and one or two strings. It is 64-bit
// FNV-1a followed by a finaliser that spreads the bits, so both the low bits
// (bucket) and the top bit (sign) are well mixed.
func hashKey(kind byte, a, b string) uint64 {
	h := uint64(14695981039346656037)
	step := func(c byte) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	step(kind)
	step(0)
	for i := 0; i < len(a); i++ {
		step(a[i])
	}
	if b != "" {
		step(' ')
		for i := 0; i < len(b); i++ {
			step(b[i])
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
