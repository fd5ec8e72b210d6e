package knowledge

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Defaults and limits of the Answerer.
const (
	DefaultTopK = 5
	// DefaultThreshold is calibrated with the HashEmbedder: questions the
	// test corpus answers scored 0.70 to 1, off-topic ones at most 0.44;
	// on the IT helpdesk sample (configs/it-helpdesk) answerable English
	// questions scored 0.73 at the median, off-topic ones at most 0.43.
	DefaultThreshold      = 0.5
	DefaultMaxAnswerChars = 700
	// MaxQueryChars bounds the question text; the rest is ignored.
	MaxQueryChars = 2000
	// secondCitationGap is how close (in score) a chunk of another document
	// must come to the best one to be cited as well.
	secondCitationGap = 0.05
)

// Weights and calibration of the answerability score; see Answerer.
const (
	vectorWeight   = 0.5
	coverageWeight = 0.4
	headingWeight  = 0.1
	// fullSimilarity is the cosine similarity that counts as a full vector
	// match: a short question never reaches 1 against a long chunk.
	fullSimilarity = 0.5
	// bridgedFullSimilarity is fullSimilarity for a question asked
	// through the language bridge (German words with translations).
	bridgedFullSimilarity = 0.25
	// partialMatch is the credit for a query term found only inside a
	// longer word of the chunk (or the other way round), as in compounds,
	// or only with one typo.
	partialMatch = 0.5
	// minPartialRunes is the shortest term that may match inside another word.
	minPartialRunes = 5
	// minTailChars is the least room worth filling with part of a block.
	minTailChars = 120
)

// AnswerConfig configures an Answerer. Zero fields take the defaults.
type AnswerConfig struct {
	// TopK is how many chunks are retrieved and re-scored (default 5).
	TopK int
	// Threshold is the answerability score from which an answer counts as
	// confident. 0 means the index's calibrated threshold (Index.Threshold:
	// stored by Calibrate, else DefaultThreshold).
	Threshold float64
	// Filter restricts the chunks answers come from (audience, language,
	// product line).
	Filter Filter
	// MaxAnswerChars bounds the answer text (default 700).
	MaxAnswerChars int
	// URLFor maps a chunk's source to a link for chunks without a front
	// matter url. Nil means no link.
	URLFor func(source string) string
}

// Validate reports out-of-range settings (zero values are fine: they take
// the defaults). Errors: Invalid.
func (c AnswerConfig) Validate() error {
	switch {
	case c.TopK < 0 || c.TopK > 100:
		return conversation.Errorf(conversation.Invalid, "answer config: top k %d, want 0 to 100", c.TopK)
	case c.Threshold < 0 || c.Threshold > 1 || c.Threshold != c.Threshold:
		return conversation.Errorf(conversation.Invalid, "answer config: threshold %v, want 0 to 1", c.Threshold)
	case c.MaxAnswerChars < 0:
		return conversation.Errorf(conversation.Invalid, "answer config: max answer chars %d, want 0 or more", c.MaxAnswerChars)
	}
	return nil
}

// withDefaults fills zero (and out-of-range) fields with the defaults.
func (c AnswerConfig) withDefaults() AnswerConfig {
	if c.TopK <= 0 || c.TopK > 100 {
		c.TopK = DefaultTopK
	}
	if c.Threshold < 0 || c.Threshold > 1 || c.Threshold != c.Threshold {
		c.Threshold = 0
	}
	if c.MaxAnswerChars <= 0 {
		c.MaxAnswerChars = DefaultMaxAnswerChars
	}
	return c
}

// Answerer answers questions extractively from an Index: it implements
// conversation.Knowledge.
//
// For a question it retrieves the TopK chunks by vector similarity and
// gives each an answerability score in [0,1]:
//
//	score = 0.5 · min(1, similarity/0.5) + 0.4 · coverage + 0.1 · heading
//
// similarity is the cosine of question and chunk vectors (a short question
// rarely gets past 0.5 against a whole section, so 0.5 counts as full).
// coverage is the weighted share of the question's content terms (stems of
// the words that are not stop words) found in the chunk's title, tags,
// heading or text; heading the same for the section heading alone (the
// title for text before the first heading). A term weighs the square root
// of its inverse document frequency over the index, so rare terms count
// more and a term no document holds (likely off-topic) counts most; a term
// found only inside a longer word (compounds) or with one typo earns half.
//
// The best-scoring chunk answers, Confident when its score reaches the
// threshold. The answer text is the chunk itself, or, when it is longer
// than MaxAnswerChars, its most relevant paragraph or list with the
// neighbouring paragraphs that fit, trimmed after a list item or sentence;
// for a part of a split section the neighbouring parts are searched too.
// A chunk of another document scoring within 0.05 of the best is cited too.
type Answerer struct {
	ix  *Index
	cfg AnswerConfig
	// sections holds the analysed paragraphs of the sections answers were
	// extracted from: they are knowledge content, not the customer's
	// words, and the same few come back turn after turn.
	sections *sectionCache
}

var _ conversation.Knowledge = (*Answerer)(nil)

// NewAnswerer returns an Answerer over ix. Zero or out-of-range fields of cfg
// take the defaults; call cfg.Validate first to reject them instead.
func NewAnswerer(ix *Index, cfg AnswerConfig) *Answerer {
	return &Answerer{ix: ix, cfg: cfg.withDefaults(), sections: newSectionCache(maxCachedSections)}
}

// Passage is a retrieved piece of a document offered as grounding to an
// answer composer (the LLM path), with the citation that credits it.
type Passage struct {
	Citation conversation.Citation
	Text     string
	Score    float64 // answerability score of this passage's candidate, in [0,1]
	// Card is the FAQ card id of the passage, "" for a document passage.
	Card string
}

// Grounded is the extractive answer together with the passages it was
// chosen from, best first, and the retrieval signals the consulting step
// uses.
type Grounded struct {
	Answer   conversation.Answer
	Passages []Passage
	// Ambiguous is set when the best passages belong to different topics
	// (documents or FAQ cards) with close scores (see Retrieval.Ambiguous):
	// a consulting question should choose between them.
	Ambiguous bool
	// Threshold is the threshold Answer.Confident was measured against.
	Threshold float64
	Signals   Signals
}

// Answer answers q.Text from the index (see Answerer); q.History and
// q.Locale are not used yet. A question nothing in the index answers, and an
// empty index, give Confident == false, not an error.
// Errors: Invalid for a blank question, Unavailable when there is no index
// or it must be rebuilt, the embedder's errors.
func (a *Answerer) Answer(ctx context.Context, q conversation.Query) (conversation.Answer, error) {
	g, err := a.Ground(ctx, q)
	return g.Answer, err
}

// Ground returns the extractive answer for q and the retrieved passages
// behind it, for composers that write their own answer from them. Errors
// as Answer.
func (a *Answerer) Ground(ctx context.Context, q conversation.Query) (Grounded, error) {
	if a.ix == nil {
		return Grounded{}, conversation.Errorf(conversation.Unavailable, "knowledge index not loaded")
	}
	text := strings.TrimSpace(q.Text)
	if utf8.RuneCountInString(text) > MaxQueryChars {
		text = string([]rune(text)[:MaxQueryChars])
	}
	if text == "" {
		return Grounded{}, conversation.Errorf(conversation.Invalid, "empty question")
	}
	r, err := a.ix.Retrieve(ctx, text, RetrieveOptions{K: a.cfg.TopK, Filter: a.cfg.Filter})
	if err != nil {
		return Grounded{}, fmt.Errorf("answer: %w", err)
	}
	threshold := a.cfg.Threshold
	if threshold == 0 {
		threshold = r.Threshold
	}
	g := Grounded{Threshold: threshold, Signals: r.Signals, Ambiguous: ambiguous(r.Hits, threshold)}
	if len(r.Hits) == 0 {
		return g, nil
	}
	terms, alts, weights := r.terms, r.alts, r.weights
	best := r.Hits[0]
	section := []string{best.Chunk.Content}
	if best.Chunk.Card == "" {
		// The passage may sit across the cut of a split section.
		section = section[:0]
		for _, c := range a.ix.around(ctx, best.Chunk, 1) {
			section = append(section, c.Content)
		}
	}
	ans := conversation.Answer{
		Text:      extractFrom(a.sections.get(strings.Join(section, "\n\n")), terms, alts, weights, a.cfg.MaxAnswerChars),
		Citations: []conversation.Citation{a.cite(best.Chunk)},
		Score:     r.Score,
	}
	// A question of stop words only ("how do I?") asks nothing answerable.
	ans.Confident = ans.Score >= threshold && ans.Text != "" && len(terms) > 0
	for _, c := range r.Hits[1:] {
		if best.Score-c.Score > secondCitationGap {
			break
		}
		if c.Chunk.Source != best.Chunk.Source {
			ans.Citations = append(ans.Citations, a.cite(c.Chunk))
			break
		}
	}
	if g.Ambiguous {
		ans.Alternatives = alternatives(r.Hits)
	}
	g.Answer = ans
	g.Passages = make([]Passage, len(r.Hits))
	for i, c := range r.Hits {
		g.Passages[i] = Passage{Citation: a.cite(c.Chunk), Text: c.Chunk.Content, Score: c.Score, Card: c.Chunk.Card}
	}
	return g, nil
}

// maxAlternatives caps the topics offered for an ambiguous question.
const maxAlternatives = 3

// alternatives returns the distinct topics among the hits that score
// within AmbiguityGap of the best, for the "which one do you mean"
// question; nil when fewer than two.
func alternatives(hits []RetrievedHit) []conversation.Alternative {
	var out []conversation.Alternative
	seen := map[string]bool{}
	for _, h := range hits {
		if hits[0].Score-h.Score > AmbiguityGap || len(out) == maxAlternatives {
			break
		}
		if t := topic(h.Chunk); !seen[t] {
			seen[t] = true
			out = append(out, alternativeOf(h.Chunk))
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// alternativeOf names a chunk's topic for the customer (the FAQ question,
// or the document title and section) and gives the words that, added to
// the question, steer retrieval to it.
func alternativeOf(c Chunk) conversation.Alternative {
	label, query := c.Title, c.Title
	switch {
	case c.Card != "" && c.Question != "":
		label, query = c.Question, c.Question
	case c.Section != "":
		label, query = c.Title+": "+c.Section, c.Section
	}
	return conversation.Alternative{Label: clip(label, maxAlternativeChars), Query: clip(query, maxAlternativeChars)}
}

// maxAlternativeChars bounds an alternative's label and query (button
// labels must stay short on every platform).
const maxAlternativeChars = 75

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

func (a *Answerer) cite(c Chunk) conversation.Citation {
	url := c.URL
	if url == "" && a.cfg.URLFor != nil {
		url = a.cfg.URLFor(c.Source)
	}
	return conversation.Citation{Title: c.Title, Source: c.Source, Section: c.Section, URL: url}
}

// coverage is the weighted share of terms found in text: each term counts
// with its weight (see vocabulary.weight), fully when text holds it and by
// partialMatch when text holds it only as part of a longer word or with one
// typo; see Answerer.
//
// partials, when not nil, holds per term the vocabulary's partial matches
// (Index.partialMatches); for a term set of known terms they are looked
// up instead of comparing every pair of terms.
//
// alts, when not nil, holds per term its alternatives (see queryTerms): a
// term counts fully when text holds one of them.
func coverage(terms []string, alts [][]string, weights []float64, partials [][]string, have termSet) float64 {
	var total, got float64
	for i, q := range terms {
		total += weights[i]
		if have.set[q] || (i < len(alts) && hasAny(have, alts[i])) {
			got += weights[i]
			continue
		}
		if partials != nil && have.known {
			for _, t := range partials[i] {
				if have.set[t] {
					got += weights[i] * partialMatch
					break
				}
			}
			continue
		}
		for _, t := range have.list {
			if partial(q, t) {
				got += weights[i] * partialMatch
				break
			}
		}
	}
	if total == 0 {
		return 0
	}
	return got / total
}

func hasAny(have termSet, terms []string) bool {
	for _, t := range terms {
		if have.set[t] {
			return true
		}
	}
	return false
}

// partial reports whether two different terms match partly: one inside
// the other (compounds) or one typo apart.
func partial(q, t string) bool { return partOf(q, t) || partOf(t, q) || oneEdit(q, t) }

// partOf reports whether short, long enough to mean something, occurs
// inside long.
func partOf(short, long string) bool {
	return len(long) > len(short) && utf8.RuneCountInString(short) >= minPartialRunes && strings.Contains(long, short)
}

// oneEdit reports whether a and b, both long enough to mean something,
// differ by one inserted, deleted, replaced or two swapped neighbouring
// letters: a typo.
func oneEdit(a, b string) bool {
	// Most pairs differ in length by more than one: decide those without
	// converting to runes.
	na, nb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if na < minPartialRunes || nb < minPartialRunes || na-nb > 1 || nb-na > 1 || a == b {
		return false
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	if len(ra) == len(rb) {
		if i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:]) {
			return true // swapped
		}
		return string(ra[i+1:]) == string(rb[i+1:]) // replaced
	}
	return string(ra[i:]) == string(rb[i+1:]) // inserted
}

// analysedSection is a section split into unwrapped paragraphs, each with
// its length in characters and its terms: what extractFrom needs of the
// content, whatever the question.
type analysedSection struct {
	whole  string
	chars  int // of whole
	blocks []string
	sizes  []int // characters per block
	terms  []termSet
}

func analyseSection(content string) *analysedSection {
	blocks := paragraphs(content)
	s := &analysedSection{blocks: blocks, sizes: make([]int, len(blocks)), terms: make([]termSet, len(blocks))}
	for i, b := range blocks {
		blocks[i] = unwrap(b)
		s.sizes[i] = utf8.RuneCountInString(blocks[i])
		s.terms[i] = newTermSet(blocks[i])
	}
	s.whole = strings.Join(blocks, "\n\n")
	s.chars = utf8.RuneCountInString(s.whole)
	return s
}

// extractFrom returns the part of section s that answers best, its
// paragraphs unwrapped: all of it when it fits in max characters; otherwise
// the paragraph (or list) matching most terms plus its neighbours while they
// fit, in their original order, and the first items or sentences of the next
// paragraph if there is room. A paragraph that alone is too long is trimmed
// after a list item or sentence.
func extractFrom(s *analysedSection, terms []string, alts [][]string, weights []float64, max int) string {
	if s.chars <= max {
		return s.whole
	}
	blocks := s.blocks
	best, bestCov := 0, -1.0
	for i := range blocks {
		if cov := coverage(terms, alts, weights, nil, s.terms[i]); cov > bestCov {
			best, bestCov = i, cov
		}
	}
	size := func(i int) int { return s.sizes[i] + 2 }
	if size(best)-2 > max {
		return trimBlock(blocks[best], max)
	}
	lo, hi, used := best, best, size(best)-2
	for grew := true; grew; {
		grew = false
		// Prefer what follows: a lead-in ("Do this:") comes before its steps.
		if hi+1 < len(blocks) && used+size(hi+1) <= max {
			hi++
			used += size(hi)
			grew = true
		}
		if lo > 0 && used+size(lo-1) <= max {
			lo--
			used += size(lo)
			grew = true
		}
	}
	parts := blocks[lo : hi+1 : hi+1]
	// Room left: add the first whole items or sentences of the next block,
	// typically the steps after a lead-in paragraph.
	if rest := max - used - 2; hi+1 < len(blocks) && rest >= minTailChars {
		if tail := trimBlock(blocks[hi+1], rest); !strings.HasSuffix(tail, "…") {
			parts = append(parts, tail)
		}
	}
	return strings.Join(parts, "\n\n")
}

// maxCachedSections bounds an Answerer's section cache: a few thousand
// sections of a few KB each.
const maxCachedSections = 4096

// sectionCache memoises analyseSection by content. When full it starts
// over: the sections answers come from are few, so it fills again fast.
type sectionCache struct {
	mu  sync.RWMutex
	max int
	m   map[string]*analysedSection
}

func newSectionCache(max int) *sectionCache {
	return &sectionCache{max: max, m: make(map[string]*analysedSection)}
}

func (c *sectionCache) get(content string) *analysedSection {
	if c == nil {
		return analyseSection(content)
	}
	c.mu.RLock()
	s, ok := c.m[content]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = analyseSection(content)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[content] = s
	c.mu.Unlock()
	return s
}

// unwrap joins the lines of a plain paragraph, which markdown wraps for
// the editor's sake, so chat clients show flowing text. Lists, quotes,
// tables, code and headings keep their lines.
func unwrap(block string) string {
	lines := strings.Split(block, "\n")
	for _, l := range lines {
		if structuredLine.MatchString(l) {
			return block
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

// structuredLine matches a markdown line whose line break matters.
var structuredLine = regexp.MustCompile(`^(\s*([-*+]\s|\d+[.)]\s|[>|#]|` + "```" + `|~~~)|\s{4}|\t)`)

// trimBlock shortens one paragraph to at most max characters, cutting after
// a whole line (list item) or sentence; a block without such a boundary is
// cut at a space and marked with "…".
func trimBlock(b string, max int) string {
	r := []rune(b)
	if len(r) <= max {
		return b
	}
	cut := string(r[:max])
	if i := strings.LastIndexByte(cut, '\n'); i >= len(cut)/3 {
		return strings.TrimSpace(cut[:i])
	}
	for i := len(cut) - 1; i >= len(cut)/3; i-- {
		if (cut[i] == '.' || cut[i] == '!' || cut[i] == '?') && (i+1 == len(cut) || cut[i+1] == ' ') {
			return cut[:i+1]
		}
	}
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		cut = cut[:i]
	}
	return strings.TrimSpace(string([]rune(cut)[:min(utf8.RuneCountInString(cut), max-1)])) + "…"
}
