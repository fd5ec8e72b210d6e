package knowledge_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/tier0/tier0/knowledge"
)

// The posting-list scan must rank exactly like a brute-force cosine over
// every vector, for sparse and dense vectors mixed.
func TestVectorScanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const dims = 64
	vec := func(density float64) []float32 {
		v := make([]float32, dims)
		for j := range v {
			if rng.Float64() < density {
				v[j] = float32(rng.NormFloat64())
			}
		}
		return v
	}
	var vecs [][]float32
	for i := range 300 {
		density := 0.1
		if i%5 == 0 {
			density = 0.9 // kept dense
		}
		vecs = append(vecs, vec(density))
	}
	vecs = append(vecs, make([]float32, dims)) // a zero vector is never returned
	cosine := func(a, b []float32) float64 {
		var dot, na, nb float64
		for i := range a {
			dot += float64(a[i]) * float64(b[i])
			na += float64(a[i]) * float64(a[i])
			nb += float64(b[i]) * float64(b[i])
		}
		if na == 0 || nb == 0 {
			return math.Inf(-1)
		}
		return dot / math.Sqrt(na*nb)
	}
	for trial := range 20 {
		q := vec(0.3)
		want := make([]int, len(vecs)-1)
		for i := range want {
			want[i] = i
		}
		sort.SliceStable(want, func(a, b int) bool { return cosine(q, vecs[want[a]]) > cosine(q, vecs[want[b]]) })
		got, sims := knowledge.NearestForTest(vecs, q, 10)
		if len(got) != 10 {
			t.Fatalf("trial %d: got %d hits, want 10", trial, len(got))
		}
		for i, d := range got {
			if d != want[i] {
				t.Fatalf("trial %d: rank %d is vector %d, want %d", trial, i, d, want[i])
			}
			if c := cosine(q, vecs[d]); math.Abs(c-sims[i]) > 1e-4 {
				t.Fatalf("trial %d: vector %d similarity %.6f, want %.6f", trial, d, sims[i], c)
			}
		}
	}
}
