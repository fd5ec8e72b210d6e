package knowledge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/philippgille/chromem-go"

	"github.com/tier0/tier0/conversation"
)

const (
	// collectionName is the one chromem-go collection of an index.
	collectionName = "knowledge"
	// manifestName is the file beside the collection that records which
	// embedder built the index. chromem-go ignores files in its root.
	manifestName = "tier0-index.json"
	// manifestFormat is bumped when the stored layout changes, forcing a
	// rebuild.
	manifestFormat = 1
)

// Metadata keys of a stored chunk.
const (
	metaSource  = "source"
	metaTitle   = "title"
	metaSection = "section"
	metaURL     = "url"
	metaTags    = "tags" // newline-separated
	metaIndex   = "index"
	metaPart    = "part"
	metaHash    = "hash"
	// Set only when not empty, so older chunks read back the same.
	metaCard     = "card"
	metaQuestion = "question"
	metaAudience = "audience"
	metaLanguage = "language"
	metaProduct  = "product"
)

// manifest is the index's own metadata.
type manifest struct {
	Format     int    `json:"format"`
	Embedder   string `json:"embedder"`
	Dimensions int    `json:"dimensions,omitempty"`
	// Calibration is the answerability threshold chosen by Calibrate;
	// nil until then.
	Calibration *Calibration `json:"calibration,omitempty"`
}

// Index is a persistent vector index of document chunks on chromem-go. It is
// safe for concurrent use: searches run while an ingestion is in progress
// (they see a mix of old and new chunks until it finishes); ingestions run
// one at a time.
type Index struct {
	dir string
	emb Embedder
	db  *chromem.DB

	ingestMu sync.Mutex // one Ingest at a time

	mu  sync.RWMutex // guards col and man; held for writing while chunks are deleted
	col *chromem.Collection
	man manifest // as stored on disk; man.Embedder == "" when there is none

	vocab atomic.Pointer[vocabulary] // of the stored chunks; nil before the first count
}

// IngestStats reports what one Ingest did.
type IngestStats struct {
	Files     int // files read (documents given to IngestDocuments)
	Chunks    int // chunks they hold
	Added     int // chunks new to the index
	Updated   int // chunks whose content changed (re-embedded)
	Removed   int // chunks whose section or file is gone
	Unchanged int // chunks kept without re-embedding
	Duration  time.Duration
}

// Hit is one search result.
type Hit struct {
	Chunk Chunk
	// Similarity is the cosine similarity of query and chunk vectors, in [-1,1].
	Similarity float64
}

// Open opens (or creates) the index persisted under dir, using emb for
// chunks and queries. An index built by another embedder (a different
// emb.Name()) is kept until the next Ingest rebuilds it; until then Search
// fails with Unavailable. Errors: Invalid when dir is not usable,
// Internal when the stored index cannot be read.
func Open(dir string, emb Embedder) (*Index, error) {
	if emb == nil {
		return nil, conversation.Errorf(conversation.Invalid, "open knowledge index: no embedder")
	}
	if dir == "" {
		return nil, conversation.Errorf(conversation.Invalid, "open knowledge index: empty directory")
	}
	db, err := chromem.NewPersistentDB(dir, false)
	if err != nil {
		return nil, fmt.Errorf("open knowledge index %s: %w", dir, err)
	}
	col, err := db.GetOrCreateCollection(collectionName, nil, EmbeddingFunc(emb))
	if err != nil {
		return nil, fmt.Errorf("open knowledge index %s: %w", dir, err)
	}
	ix := &Index{dir: dir, emb: emb, db: db, col: col}
	if ix.man, err = readManifest(dir); err != nil {
		return nil, fmt.Errorf("open knowledge index %s: %w", dir, err)
	}
	if ix.current() {
		if err := ix.refreshVocabulary(context.Background()); err != nil {
			return nil, fmt.Errorf("open knowledge index %s: %w", dir, err)
		}
	}
	return ix, nil
}

// Count returns the number of chunks in the index.
func (ix *Index) Count() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.col.Count()
}

// current reports whether the stored chunks were embedded by ix.emb.
func (ix *Index) current() bool {
	return ix.man.Format == manifestFormat && ix.man.Embedder == ix.emb.Name()
}

// Search returns up to k chunks most similar to text, best first. An empty
// index returns no hits. Errors: Unavailable when the index was built by
// another embedder (run Ingest), Invalid for k < 1, the embedder's errors.
func (ix *Index) Search(ctx context.Context, text string, k int) ([]Hit, error) {
	if k < 1 {
		return nil, conversation.Errorf(conversation.Invalid, "search: k = %d, want at least 1", k)
	}
	if ix.Count() == 0 {
		return nil, nil
	}
	vec, err := ix.emb.Embed(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if isZero(vec) {
		return nil, nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.current() {
		return nil, conversation.Errorf(conversation.Unavailable, "knowledge index was built with embedder %q, not %q: run ingest", ix.man.Embedder, ix.emb.Name())
	}
	if ix.man.Dimensions != len(vec) {
		return nil, conversation.Errorf(conversation.Unavailable, "knowledge index holds %d-dimensional vectors, the embedder made %d: run ingest", ix.man.Dimensions, len(vec))
	}
	// chromem-go refuses nResults > Count; deletions hold mu, so the
	// count cannot drop between here and the query.
	n := min(k, ix.col.Count())
	if n == 0 {
		return nil, nil
	}
	res, err := ix.col.QueryEmbedding(ctx, vec, n, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("query knowledge index: %w", err)
	}
	hits := make([]Hit, len(res))
	for i, r := range res {
		hits[i] = Hit{Chunk: chunkFromStored(r.ID, r.Metadata, r.Content), Similarity: float64(r.Similarity)}
	}
	return hits, nil
}

// around returns the parts of c's section from c.Part-n to c.Part+n that
// are stored, in order, c included: the context of a chunk cut from a long
// section.
func (ix *Index) around(ctx context.Context, c Chunk, n int) []Chunk {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []Chunk
	for p := max(0, c.Part-n); p <= c.Part+n; p++ {
		if p == c.Part {
			out = append(out, c)
			continue
		}
		d, err := ix.col.GetByID(ctx, chunkID(c.Source, c.Section, p))
		if err != nil {
			continue
		}
		// Another section with the same heading is not a neighbour.
		if s := chunkFromStored(d.ID, d.Metadata, d.Content); s.Index-c.Index == p-c.Part {
			out = append(out, s)
		}
	}
	return out
}

// Ingest brings the index up to date with the knowledge files under folder
// (see LoadDir):
// new and changed chunks are embedded and stored, unchanged ones (same ID
// and hash) are kept as they are, and chunks that no longer exist are
// removed. When the index was built by another embedder it is wiped and
// rebuilt. progress, if not nil, is called after each chunk with the number
// of chunks done and the total. Errors: those of LoadDir (nothing is
// changed then), the embedder's, Internal for storage failures; after an
// error mid-way the index holds a consistent mix and the next Ingest
// completes it.
func (ix *Index) Ingest(ctx context.Context, folder string, progress func(done, total int)) (IngestStats, error) {
	start := time.Now()
	docs, err := LoadDir(ctx, folder)
	if err != nil {
		return IngestStats{Duration: time.Since(start)}, err
	}
	return ix.ingestLocked(ctx, docs, progress, start)
}

// IngestDocuments brings the index up to date with docs, which stand for
// the whole content of the index, exactly as Ingest does with the files of
// a folder: new and changed chunks are embedded, unchanged ones kept,
// chunks not in docs removed. Chunks without Hash get one. The eval builds
// its indexes with it from data sets. Errors: Invalid for a chunk without
// ID or an ID that occurs twice, otherwise as Ingest.
func (ix *Index) IngestDocuments(ctx context.Context, docs []Document, progress func(done, total int)) (IngestStats, error) {
	start := time.Now()
	docs = append([]Document(nil), docs...)
	for i := range docs {
		chunks := append([]Chunk(nil), docs[i].Chunks...)
		for j := range chunks {
			if chunks[j].ID == "" {
				return IngestStats{}, conversation.Errorf(conversation.Invalid, "document %s: chunk %d has no id", docs[i].Source, j)
			}
			if chunks[j].Hash == "" {
				chunks[j].Hash = chunkHash(chunks[j])
			}
		}
		docs[i].Chunks = chunks
	}
	return ix.ingestLocked(ctx, docs, progress, start)
}

// ingestLocked runs one ingestion of docs under ingestMu and rebuilds the
// lexicon when anything changed.
func (ix *Index) ingestLocked(ctx context.Context, docs []Document, progress func(done, total int), start time.Time) (IngestStats, error) {
	ix.ingestMu.Lock()
	defer ix.ingestMu.Unlock()
	st, err := ix.ingest(ctx, docs, progress)
	if st.Added+st.Updated+st.Removed > 0 || ix.vocab.Load() == nil {
		// Count even after a failure: part of the chunks may have changed.
		if verr := ix.refreshVocabulary(context.WithoutCancel(ctx)); err == nil {
			err = verr
		}
	}
	st.Duration = time.Since(start)
	return st, err
}

func (ix *Index) ingest(ctx context.Context, docs []Document, progress func(done, total int)) (IngestStats, error) {
	var st IngestStats
	if err := ix.resetIfStale(); err != nil {
		return st, err
	}
	chunks, err := ix.stored(ctx)
	if err != nil {
		return st, err
	}
	stored := make(map[string]string, len(chunks))
	for _, c := range chunks {
		stored[c.ID] = c.Hash
	}
	st.Files = len(docs)
	for _, d := range docs {
		st.Chunks += len(d.Chunks)
	}
	keep := make(map[string]bool, st.Chunks)
	done := 0
	report := func() {
		done++
		if progress != nil {
			progress(done, st.Chunks)
		}
	}
	var todo []Chunk
	for _, d := range docs {
		for _, c := range d.Chunks {
			if keep[c.ID] {
				return st, conversation.Errorf(conversation.Invalid, "chunk id %q occurs twice: rename the file or heading", c.ID)
			}
			keep[c.ID] = true
			old, ok := stored[c.ID]
			switch {
			case ok && old == c.Hash:
				st.Unchanged++
				report()
			case ok:
				st.Updated++
				todo = append(todo, c)
			default:
				st.Added++
				todo = append(todo, c)
			}
		}
	}
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		batch := todo[:min(len(todo), embedBatch)]
		todo = todo[len(batch):]
		vecs, err := ix.embedChunks(ctx, batch)
		if err != nil {
			return st, err
		}
		for i, c := range batch {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if err := ix.put(ctx, c, vecs[i]); err != nil {
				return st, err
			}
			report()
		}
	}
	var gone []string
	for id := range stored {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		ix.mu.Lock()
		err := ix.col.Delete(ctx, nil, nil, gone...)
		ix.mu.Unlock()
		if err != nil {
			return st, fmt.Errorf("remove %d chunks: %w", len(gone), err)
		}
		st.Removed = len(gone)
	}
	return st, nil
}

// resetIfStale empties the index and records ix.emb in the manifest unless
// the index was built by ix.emb.
func (ix *Index) resetIfStale() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.current() {
		return nil
	}
	if ix.col.Count() > 0 {
		if err := ix.db.DeleteCollection(collectionName); err != nil {
			return fmt.Errorf("wipe knowledge index: %w", err)
		}
		col, err := ix.db.CreateCollection(collectionName, nil, EmbeddingFunc(ix.emb))
		if err != nil {
			return fmt.Errorf("wipe knowledge index: %w", err)
		}
		ix.col = col
		ix.vocab.Store(nil)
	}
	return ix.saveManifest(manifest{Format: manifestFormat, Embedder: ix.emb.Name()})
}

// stored returns every stored chunk. chromem-go has no listing, so it runs
// one exhaustive query for all documents.
func (ix *Index) stored(ctx context.Context) ([]Chunk, error) {
	chunks, _, err := ix.storedWithVectors(ctx)
	return chunks, err
}

// storedWithVectors returns every stored chunk and its vector.
func (ix *Index) storedWithVectors(ctx context.Context) ([]Chunk, [][]float32, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.col.Count()
	if n == 0 {
		return nil, nil, nil
	}
	probe := make([]float32, ix.man.Dimensions)
	if len(probe) == 0 {
		return nil, nil, fmt.Errorf("list knowledge index: %d chunks but no recorded vector size", n)
	}
	probe[0] = 1
	res, err := ix.col.QueryEmbedding(ctx, probe, n, nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("list knowledge index: %w", err)
	}
	out := make([]Chunk, len(res))
	vecs := make([][]float32, len(res))
	for i, r := range res {
		out[i] = chunkFromStored(r.ID, r.Metadata, r.Content)
		vecs[i] = r.Embedding
	}
	return out, vecs, nil
}

// put embeds c and stores it, replacing a chunk with the same ID.
// embedBatch is how many chunks ingestion embeds per call of a
// BatchEmbedder (one request to a remote embeddings API).
const embedBatch = 64

// embedChunks embeds the chunks' texts: in one call with a BatchEmbedder,
// one by one otherwise.
func (ix *Index) embedChunks(ctx context.Context, cs []Chunk) ([][]float32, error) {
	texts := make([]string, len(cs))
	for i, c := range cs {
		texts[i] = c.embedText()
	}
	if be, ok := ix.emb.(BatchEmbedder); ok {
		vecs, err := be.EmbedBatch(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed %d chunks from %s: %w", len(cs), cs[0].ID, err)
		}
		if len(vecs) != len(cs) {
			return nil, conversation.Errorf(conversation.Internal, "embedder returned %d vectors for %d texts", len(vecs), len(cs))
		}
		return vecs, nil
	}
	vecs := make([][]float32, len(cs))
	for i, t := range texts {
		v, err := ix.emb.Embed(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("embed %s: %w", cs[i].ID, err)
		}
		vecs[i] = v
	}
	return vecs, nil
}

// put stores chunk c with its vector.
func (ix *Index) put(ctx context.Context, c Chunk, vec []float32) error {
	if isZero(vec) {
		return conversation.Errorf(conversation.Invalid, "embed %s: the embedder returned a zero vector", c.ID)
	}
	if err := ix.checkDimensions(c.ID, len(vec)); err != nil {
		return err
	}
	// Adding never lowers the count, so searches need not wait for it; only
	// this goroutine (under ingestMu) replaces ix.col.
	doc := chromem.Document{ID: c.ID, Metadata: storedMetadata(c), Embedding: vec, Content: c.Content}
	if err := ix.col.AddDocument(ctx, doc); err != nil {
		return fmt.Errorf("store %s: %w", c.ID, err)
	}
	return nil
}

// checkDimensions records the vector size of the first stored chunk and
// rejects vectors of another size.
func (ix *Index) checkDimensions(id string, n int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.man.Dimensions == 0 {
		m := ix.man
		m.Dimensions = n
		if err := ix.saveManifest(m); err != nil {
			return err
		}
	}
	if n != ix.man.Dimensions {
		return conversation.Errorf(conversation.Invalid, "embed %s: %d dimensions, the index has %d", id, n, ix.man.Dimensions)
	}
	return nil
}

func storedMetadata(c Chunk) map[string]string {
	m := map[string]string{
		metaSource:  c.Source,
		metaTitle:   c.Title,
		metaSection: c.Section,
		metaURL:     c.URL,
		metaTags:    strings.Join(c.Tags, "\n"),
		metaIndex:   strconv.Itoa(c.Index),
		metaPart:    strconv.Itoa(c.Part),
		metaHash:    c.Hash,
	}
	for k, v := range map[string]string{metaCard: c.Card, metaQuestion: c.Question, metaAudience: c.Audience, metaLanguage: c.Language, metaProduct: c.Product} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func chunkFromStored(id string, m map[string]string, content string) Chunk {
	c := Chunk{
		ID:      id,
		Source:  m[metaSource],
		Title:   m[metaTitle],
		Section: m[metaSection],
		URL:     m[metaURL],
		Content: content,
		Hash:    m[metaHash],

		Card:     m[metaCard],
		Question: m[metaQuestion],
		Audience: m[metaAudience],
		Language: m[metaLanguage],
		Product:  m[metaProduct],
	}
	if t := m[metaTags]; t != "" {
		c.Tags = strings.Split(t, "\n")
	}
	c.Index, _ = strconv.Atoi(m[metaIndex])
	c.Part, _ = strconv.Atoi(m[metaPart])
	return c
}

func readManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		// A damaged manifest only costs a rebuild.
		return manifest{}, nil
	}
	return m, nil
}

// saveManifest writes m atomically (temporary file and rename) and adopts
// it. The caller holds ix.mu for writing.
func (ix *Index) saveManifest(m manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(ix.dir, manifestName+".*")
	if err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write index manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(ix.dir, manifestName)); err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	ix.man = m
	return nil
}

func isZero(v []float32) bool {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return sum == 0 || math.IsNaN(sum) || math.IsInf(sum, 0)
}
