package conversation

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The engine routes a message to an action by comparing it with the
// action's example phrasings: both are cut into words, umlauts folded,
// filler words dropped and every word cut to its first stemLen letters
// (a cheap stemmer that serves German and English alike: "Bestellung",
// "Bestellungen", "bestellt" → "beste"). A message matches an example by
// the share of the example's words it contains, with a smaller weight
// for the share of its own words the example explains; the best example
// over all actions wins when it reaches MinScore.

// stemLen is how many letters of a word the matcher compares.
const stemLen = 5

// actionMatcher holds the stemmed examples of every action, each
// action's vocabulary (the stems of all its examples) and a weight per
// stem: stems that several actions share say less about which one is meant.
type actionMatcher struct {
	examples []matchExample
	vocab    []map[string]bool
	weight   map[string]float64
	unknown  float64 // weight of a stem no action uses
}

type matchExample struct {
	action  int
	stems   []string
	weights []float64 // of stems, same order
	total   float64   // the sum of weights
}

func newActionMatcher(specs []ActionSpec) actionMatcher {
	m := actionMatcher{vocab: make([]map[string]bool, len(specs)), weight: map[string]float64{}}
	df := map[string]int{}
	for i := range specs {
		m.vocab[i] = map[string]bool{}
		for _, list := range specs[i].Examples {
			for _, ex := range list {
				st := stems(ex)
				if len(st) == 0 {
					continue
				}
				m.examples = append(m.examples, matchExample{action: i, stems: st})
				for _, s := range st {
					if !m.vocab[i][s] {
						m.vocab[i][s] = true
						df[s]++
					}
				}
			}
		}
	}
	n := float64(max(len(specs), 1))
	for s, d := range df {
		m.weight[s] = 1 + math.Log(n/float64(d))
	}
	m.unknown = 1 + math.Log(n)
	for i := range m.examples {
		ex := &m.examples[i]
		ex.weights = make([]float64, len(ex.stems))
		for j, s := range ex.stems {
			ex.weights[j] = m.w(s)
			ex.total += ex.weights[j]
		}
	}
	return m
}

func (m actionMatcher) w(s string) float64 {
	if w, ok := m.weight[s]; ok {
		return w
	}
	return m.unknown
}

// best returns the index of the best-matching action and its score in
// [0,1], or -1 when no example shares a word with text. An example's
// score is the mean of the weighted share of its stems the message has
// and the weighted share of the message's stems it has; an action's is
// its best example's, or, when higher, the weighted share of the
// message's stems its whole vocabulary has (times 0.9).
func (m actionMatcher) best(text string) (int, float64) {
	msg := stems(text)
	if len(msg) == 0 {
		return -1, 0
	}
	set := make(map[string]bool, len(msg))
	weights := make([]float64, len(msg))
	total := 0.0
	for i, s := range msg {
		set[s] = true
		weights[i] = m.w(s)
		total += weights[i]
	}
	bestIdx, bestScore := -1, 0.0
	for i := range m.examples {
		ex := &m.examples[i]
		hit := 0.0
		for j, s := range ex.stems {
			if set[s] {
				hit += ex.weights[j]
			}
		}
		if hit == 0 {
			continue
		}
		score := 0.5*hit/ex.total + 0.5*hit/total
		if score > bestScore {
			bestIdx, bestScore = ex.action, score
		}
	}
	for i, v := range m.vocab {
		hit := 0.0
		for j, s := range msg {
			if v[s] {
				hit += weights[j]
			}
		}
		if score := 0.9 * hit / total; score > bestScore {
			bestIdx, bestScore = i, score
		}
	}
	return bestIdx, bestScore
}

// stems returns the distinct stems of text's content words.
func stems(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.Fields(normalizeWords(foldUmlauts(text))) {
		if matchStopWords[w] || isNumberish(w) {
			continue
		}
		if n := len(w); n > 3 && w[n-1] == 's' && w[n-2] != 's' {
			w = w[:n-1] // English plurals: items → item
		}
		if utf8.RuneCountInString(w) > stemLen {
			w = string([]rune(w)[:stemLen])
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// foldUmlauts lower-cases text and folds ä, ö, ü and ß, so "Rücksendung"
// and "Ruecksendung" compare equal.
func foldUmlauts(s string) string {
	return umlautFolder.Replace(strings.ToLower(s))
}

var umlautFolder = strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss", "ae", "a", "oe", "o", "ue", "u")

// isNumberish reports whether w has a digit or an @ (order numbers and
// addresses are parameters, not topic words).
func isNumberish(w string) bool {
	return strings.ContainsAny(w, "0123456789@")
}

// matchStopWords are German and English filler words (after umlaut
// folding) that say nothing about which action is meant.
var matchStopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the my me i i'm im is are was be been to of for on in at with and or
		please can could would you your it this that do does did have has want need
		ich mir mich mein meine meinen meinem meiner meines ist sind war bin der die das den dem des ein eine
		einen einem einer zu zum zur fur von mit und oder bitte kann konnen konnten sie du ihr es wurde
		mochte will hab habe hat noch mal doch schon auch so`) {
		m[foldUmlauts(w)] = true
	}
	return m
}()
