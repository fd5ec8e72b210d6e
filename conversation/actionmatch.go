package conversation

import (
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

// actionMatcher holds the stemmed examples of every action.
type actionMatcher struct {
	examples []matchExample
}

type matchExample struct {
	action int
	stems  []string
}

func newActionMatcher(specs []ActionSpec) actionMatcher {
	var m actionMatcher
	for i := range specs {
		for _, list := range specs[i].Examples {
			for _, ex := range list {
				if st := stems(ex); len(st) > 0 {
					m.examples = append(m.examples, matchExample{action: i, stems: st})
				}
			}
		}
	}
	return m
}

// best returns the index of the best-matching action and its score, or
// -1 when no example shares a word with text.
func (m actionMatcher) best(text string) (int, float64) {
	msg := stems(text)
	if len(msg) == 0 {
		return -1, 0
	}
	set := make(map[string]bool, len(msg))
	for _, s := range msg {
		set[s] = true
	}
	bestIdx, bestScore := -1, 0.0
	for _, ex := range m.examples {
		hit := 0
		for _, s := range ex.stems {
			if set[s] {
				hit++
			}
		}
		if hit == 0 {
			continue
		}
		score := 0.7*float64(hit)/float64(len(ex.stems)) + 0.3*float64(min(hit, len(msg)))/float64(len(msg))
		if score > bestScore {
			bestIdx, bestScore = ex.action, score
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
	return strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss", "ae", "a", "oe", "o", "ue", "u").Replace(strings.ToLower(s))
}

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
