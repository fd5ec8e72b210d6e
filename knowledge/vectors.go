package knowledge

import (
	"math"
	"slices"
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
//
// Sparse vectors are also indexed by component (postings), so a scan
// touches only the components the query has: with a few hundred of 1,024
// components set, that is several times less work than visiting every
// vector's components, and it reads memory in order.
type vectorTable struct {
	idx   [][]int32       // per vector, the non-zero components; nil when dense
	vals  [][]float32     // per vector, their values (all components when dense)
	post  []vectorPosting // per component, the sparse vectors that have it
	dense []int           // the vectors kept dense
}

// vectorPosting lists the sparse vectors with a non-zero value in one component.
type vectorPosting struct {
	docs []int32
	vals []float32
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
	t.index()
	return t
}

// index builds the postings of the sparse vectors.
func (t *vectorTable) index() {
	dims := 0
	for i, idx := range t.idx {
		if idx == nil {
			if t.vals[i] != nil {
				t.dense = append(t.dense, i)
			}
			continue
		}
		if n := int(idx[len(idx)-1]) + 1; n > dims {
			dims = n
		}
	}
	t.post = make([]vectorPosting, dims)
	for d, idx := range t.idx {
		for k, j := range idx {
			p := &t.post[j]
			p.docs = append(p.docs, int32(d))
			p.vals = append(p.vals, t.vals[d][k])
		}
	}
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
	// The query's non-zero components: a question sets a few hundred of
	// 1,024 or fewer.
	qIdx := make([]int32, 0, len(qn))
	for j, x := range qn {
		if x != 0 {
			qIdx = append(qIdx, int32(j))
		}
	}
	// Accumulate the sparse vectors' dot products component by component.
	scores := make([]float32, len(t.vals))
	for _, j := range qIdx {
		if int(j) >= len(t.post) {
			break
		}
		x, p := qn[j], t.post[j]
		for k, d := range p.docs {
			scores[d] += x * p.vals[k]
		}
	}
	// A dense vector meets a sparse query only in the query's components.
	sparseQuery := float64(len(qIdx)) < sparseDensity*float64(len(qn))
	dense := t.dense
	if sparseQuery {
		// Four vectors at a time: the query's components are read once
		// for all four and the four sums do not wait on each other.
		for ; len(dense) >= 4; dense = dense[4:] {
			a, b, c, d := t.vals[dense[0]], t.vals[dense[1]], t.vals[dense[2]], t.vals[dense[3]]
			if len(a) != len(qn) || len(b) != len(qn) || len(c) != len(qn) || len(d) != len(qn) {
				break
			}
			scores[dense[0]], scores[dense[1]], scores[dense[2]], scores[dense[3]] = gatherDot4(qn, qIdx, a, b, c, d)
		}
	}
	for _, d := range dense {
		if vals := t.vals[d]; sparseQuery && len(vals) == len(qn) {
			scores[d] = gatherDot(qn, qIdx, vals)
		} else {
			scores[d] = t.dot(qn, d)
		}
	}
	if len(t.vals) <= 4*n {
		// A small table: sorting every hit beats keeping a heap.
		all := make([]vectorHit, 0, len(t.vals))
		for d, vals := range t.vals {
			if vals != nil && (keep == nil || keep(d)) {
				all = append(all, vectorHit{doc: d, sim: float64(scores[d])})
			}
		}
		sortHits(all)
		return all[:min(n, len(all))]
	}
	top := newTopN(n)
	for d, vals := range t.vals {
		if vals == nil || (keep != nil && !keep(d)) {
			continue
		}
		top.offer(vectorHit{doc: d, sim: float64(scores[d])})
	}
	return top.sorted()
}

// sortHits orders hits best first: higher sim, then lower doc (see worse).
func sortHits(hits []vectorHit) {
	slices.SortFunc(hits, func(a, b vectorHit) int { return bestFirst(a.sim, b.sim, a.doc, b.doc) })
}

// bestFirst orders two scored chunks (positions ad, bd) for sorting: the
// higher score first, then the lower position.
func bestFirst(as, bs float64, ad, bd int) int {
	switch {
	case as > bs:
		return -1
	case as < bs:
		return 1
	}
	return ad - bd
}

// dot is the dot product of the normalised query qn with vector d.
func (t vectorTable) dot(qn []float32, d int) float32 {
	var dot float32
	vals := t.vals[d]
	if idx := t.idx[d]; idx != nil {
		for k, j := range idx {
			if int(j) < len(qn) {
				dot += qn[j] * vals[k]
			}
		}
	} else if len(vals) == len(qn) {
		dot = denseDot(qn, vals)
	}
	return dot
}

// denseDot is the dot product of two vectors of equal length, with four
// independent sums so the additions do not wait on each other.
func denseDot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// gatherDot is the dot product of q and v (of equal length) over the
// components idx, where q is non-zero.
func gatherDot(q []float32, idx []int32, v []float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(idx); i += 2 {
		s0 += q[idx[i]] * v[idx[i]]
		s1 += q[idx[i+1]] * v[idx[i+1]]
	}
	if i < len(idx) {
		s0 += q[idx[i]] * v[idx[i]]
	}
	return s0 + s1
}

// gatherDot4 is gatherDot of q with four vectors at once (each of q's
// length), summed in the same order, so the results are the same.
func gatherDot4(q []float32, idx []int32, a, b, c, d []float32) (float32, float32, float32, float32) {
	var a0, a1, b0, b1, c0, c1, d0, d1 float32
	n := len(q)
	a, b, c, d = a[:n], b[:n], c[:n], d[:n]
	i := 0
	for ; i+2 <= len(idx); i += 2 {
		j, k := idx[i], idx[i+1]
		x, y := q[j], q[k]
		a0 += x * a[j]
		a1 += y * a[k]
		b0 += x * b[j]
		b1 += y * b[k]
		c0 += x * c[j]
		c1 += y * c[k]
		d0 += x * d[j]
		d1 += y * d[k]
	}
	if i < len(idx) {
		j := idx[i]
		x := q[j]
		a0 += x * a[j]
		b0 += x * b[j]
		c0 += x * c[j]
		d0 += x * d[j]
	}
	return a0 + a1, b0 + b1, c0 + c1, d0 + d1
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

// sorted returns the kept hits, best first; t is empty afterwards.
func (t *topN) sorted() []vectorHit {
	out := t.heap
	sortHits(out)
	t.heap = nil
	return out
}

// cosine returns the cosine of q, whose L2 norm (see norm) is qNorm, and
// vector d.
func (t vectorTable) cosine(q []float32, qNorm float64, d int) float64 {
	if d < 0 || d >= len(t.vals) || t.vals[d] == nil || qNorm == 0 {
		return 0
	}
	return float64(t.dot(q, d)) / qNorm
}

// norm is the L2 norm of q.
func norm(q []float32) float64 {
	sum := 0.0
	for _, x := range q {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}
