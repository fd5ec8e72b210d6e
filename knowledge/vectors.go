package knowledge

import (
	"math"
	"sort"
)

// sparseDensity is the share of non-zero components below which a vector
// is kept sparse. Feature-hash vectors of short texts hold a few hundred
// non-zero components of 1024.
const sparseDensity = 0.4

// vectorTable is an in-memory copy of the stored vectors for exact
// nearest-neighbour scans. chromem-go stays the store of record (it
// persists the vectors and Index.Search queries it); the copy is rebuilt
// with the lexicon and lets Retrieve scan sparse feature-hash vectors in a
// fraction of the time of a dense scan. Vectors are kept L2-normalised, so
// the dot product is the cosine similarity.
type vectorTable struct {
	idx  [][]int32   // per vector, the non-zero components; nil when dense
	vals [][]float32 // per vector, their values (all components when dense)
}

func newVectorTable(vecs [][]float32) vectorTable {
	t := vectorTable{idx: make([][]int32, len(vecs)), vals: make([][]float32, len(vecs))}
	for i, v := range vecs {
		norm := 0.0
		nz := 0
		for _, x := range v {
			norm += float64(x) * float64(x)
			if x != 0 {
				nz++
			}
		}
		if norm == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(norm))
		if float64(nz) < sparseDensity*float64(len(v)) {
			idx := make([]int32, 0, nz)
			vals := make([]float32, 0, nz)
			for j, x := range v {
				if x != 0 {
					idx = append(idx, int32(j))
					vals = append(vals, x*inv)
				}
			}
			t.idx[i], t.vals[i] = idx, vals
			continue
		}
		vals := make([]float32, len(v))
		for j, x := range v {
			vals[j] = x * inv
		}
		t.vals[i] = vals
	}
	return t
}

// vectorHit is a vector's cosine similarity to a query.
type vectorHit struct {
	doc int
	sim float64
}

// nearest returns the n vectors most similar to q that pass keep (by
// position), best first. q need not be normalised.
func (t vectorTable) nearest(q []float32, n int, keep func(int) bool) []vectorHit {
	norm := 0.0
	for _, x := range q {
		norm += float64(x) * float64(x)
	}
	if norm == 0 || n < 1 {
		return nil
	}
	inv := float32(1 / math.Sqrt(norm))
	qn := make([]float32, len(q))
	for i, x := range q {
		qn[i] = x * inv
	}
	top := newTopN(n)
	for d, vals := range t.vals {
		if vals == nil || (keep != nil && !keep(d)) {
			continue
		}
		var dot float32
		if idx := t.idx[d]; idx != nil {
			for k, j := range idx {
				if int(j) < len(qn) {
					dot += qn[j] * vals[k]
				}
			}
		} else if len(vals) == len(qn) {
			for j, x := range vals {
				dot += qn[j] * x
			}
		}
		top.offer(vectorHit{doc: d, sim: float64(dot)})
	}
	return top.sorted()
}

// topN keeps the n best hits offered (higher sim, then lower doc) in a
// min-heap whose root is the worst kept hit.
type topN struct {
	n    int
	heap []vectorHit
}

func newTopN(n int) *topN { return &topN{n: n, heap: make([]vectorHit, 0, min(n, 1024))} }

// worse reports whether a ranks below b.
func worse(a, b vectorHit) bool {
	if a.sim != b.sim {
		return a.sim < b.sim
	}
	return a.doc > b.doc
}

func (t *topN) offer(h vectorHit) {
	if len(t.heap) < t.n {
		t.heap = append(t.heap, h)
		for i := len(t.heap) - 1; i > 0; {
			p := (i - 1) / 2
			if !worse(t.heap[i], t.heap[p]) {
				break
			}
			t.heap[i], t.heap[p] = t.heap[p], t.heap[i]
			i = p
		}
		return
	}
	if !worse(t.heap[0], h) {
		return
	}
	t.heap[0] = h
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(t.heap) && worse(t.heap[l], t.heap[m]) {
			m = l
		}
		if r < len(t.heap) && worse(t.heap[r], t.heap[m]) {
			m = r
		}
		if m == i {
			break
		}
		t.heap[i], t.heap[m] = t.heap[m], t.heap[i]
		i = m
	}
}

// sorted returns the kept hits, best first.
func (t *topN) sorted() []vectorHit {
	out := append([]vectorHit(nil), t.heap...)
	sort.Slice(out, func(i, j int) bool { return worse(out[j], out[i]) })
	return out
}

// similarity returns the cosine of q and vector d.
func (t vectorTable) similarity(q []float32, d int) float64 {
	if d < 0 || d >= len(t.vals) {
		return 0
	}
	hits := vectorTable{idx: t.idx[d : d+1], vals: t.vals[d : d+1]}.nearest(q, 1, nil)
	if len(hits) == 0 {
		return 0
	}
	return hits[0].sim
}
