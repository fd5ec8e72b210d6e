package knowledge

// NearestForTest exposes the vector scan: the indices of the n vectors
// most similar to q, best first, and their similarities.
func NearestForTest(vecs [][]float32, q []float32, n int) ([]int, []float64) {
	var docs []int
	var sims []float64
	for _, h := range newVectorTable(vecs).nearest(q, n, nil) {
		docs = append(docs, h.doc)
		sims = append(sims, h.sim)
	}
	return docs, sims
}

// CoverageBySetsForTest makes Retrieve compute coverage from each chunk's
// term set instead of the postings until the returned func is called.
func CoverageBySetsForTest() (restore func()) {
	coverageBySets = true
	return func() { coverageBySets = false }
}

// SplitCompound exposes the bridge's compound splitter to the tests.
func SplitCompound(w string) []string { return loadBridge().split(w) }
