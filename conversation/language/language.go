// Package language is tier0's offline language detector: it tells which of
// a deployment's languages a customer message is written in, from function
// words, frequent words and spelling cues of each language (see Profile),
// with the conversation's language or the platform locale as prior. It has
// no model files and no start-up cost; it is built for the short, typo-rich,
// mixed ("VPN-Client") messages of a helpdesk chat.
package language

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/tier0/tier0/conversation"
)

// Weights of the evidence a word gives its language.
const (
	weightFunction = 2.0
	weightWord     = 1.2
	weightLetter   = 1.5
	weightSuffix   = 0.5
	weightInfix    = 0.3
	maxSpelling    = 0.9 // spelling cues of one word, at most
	// priorBonus is how much text evidence another language needs beyond
	// the prior's before the detector names it.
	priorBonus = 1.0
	// confidenceScale turns the evidence margin into [0,1]: a margin of
	// one function word gives 0.55, two give 0.8.
	confidenceScale = 2.5
)

// Config selects the languages a Detector chooses between.
type Config struct {
	// Languages are ISO 639-1 codes with a Profile (default: all of
	// Builtin). Restrict them to the languages the deployment speaks.
	Languages []string
	// Profiles adds or replaces profiles by code (for a language tier0
	// does not ship).
	Profiles []Profile
}

// Validate reports a language without a profile (conversation.Invalid).
func (c Config) Validate() error {
	have := map[string]bool{}
	for code := range Builtin {
		have[code] = true
	}
	for _, p := range c.Profiles {
		if conversation.BaseLanguage(p.Code) == "" {
			return conversation.Errorf(conversation.Invalid, "language profile code %q is not an ISO 639-1 code", p.Code)
		}
		have[conversation.BaseLanguage(p.Code)] = true
	}
	for _, l := range c.Languages {
		if !have[conversation.BaseLanguage(l)] {
			return conversation.Errorf(conversation.Invalid, "no language profile for %q (have %s)", l, strings.Join(sortedKeys(have), ", "))
		}
	}
	return nil
}

// Detector detects the language of short texts. It is safe for concurrent
// use; build it once with New.
type Detector struct {
	langs   []string
	lexicon map[string][]cue // word → its languages' weights
	spell   []spelling
}

type cue struct {
	lang   int
	weight float64
}

type spelling struct {
	letters  string
	suffixes []string
	infixes  []string
}

var _ conversation.LanguageDetector = (*Detector)(nil)

// New returns a detector for cfg's languages. Errors: conversation.Invalid
// (see Config.Validate).
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("language detector: %w", err)
	}
	profiles := map[string]Profile{}
	for code, p := range Builtin {
		profiles[code] = p
	}
	for _, p := range cfg.Profiles {
		profiles[conversation.BaseLanguage(p.Code)] = p
	}
	langs := cfg.Languages
	if len(langs) == 0 {
		langs = sortedKeys(profiles)
	}
	d := &Detector{lexicon: map[string][]cue{}}
	seen := map[string]bool{}
	for _, l := range langs {
		l = conversation.BaseLanguage(l)
		if seen[l] {
			continue
		}
		seen[l] = true
		p := profiles[l]
		i := len(d.langs)
		d.langs = append(d.langs, l)
		d.spell = append(d.spell, spelling{letters: p.Letters, suffixes: p.Suffixes, infixes: p.Infixes})
		for _, w := range p.Words {
			d.add(w, i, weightWord)
		}
		for _, w := range p.Function {
			d.add(w, i, weightFunction)
		}
	}
	return d, nil
}

// add records w as evidence for language i, keeping its strongest weight.
func (d *Detector) add(w string, i int, weight float64) {
	w = strings.ToLower(w)
	cues := d.lexicon[w]
	for k := range cues {
		if cues[k].lang == i {
			cues[k].weight = max(cues[k].weight, weight)
			return
		}
	}
	d.lexicon[w] = append(cues, cue{lang: i, weight: weight})
}

// Languages returns the detector's language codes in configuration order.
func (d *Detector) Languages() []string { return append([]string(nil), d.langs...) }

// Detect implements conversation.LanguageDetector.
func (d *Detector) Detect(text, prior string) conversation.LanguageGuess {
	scores := d.Scores(text)
	prior = conversation.BaseLanguage(prior)
	pi := -1
	for i, l := range d.langs {
		if l == prior {
			pi = i
		}
	}
	best, second := -1, -1
	for i, s := range scores {
		switch {
		case best < 0 || s > scores[best]:
			best, second = i, best
		case second < 0 || s > scores[second]:
			second = i
		}
	}
	if best < 0 || scores[best] == 0 {
		if pi >= 0 || prior != "" {
			return conversation.LanguageGuess{Language: prior}
		}
		return conversation.LanguageGuess{}
	}
	margin := scores[best]
	if second >= 0 {
		margin -= scores[second]
	}
	if pi >= 0 && pi != best && scores[best]-scores[pi] < priorBonus {
		// Not clear enough to leave the prior.
		return conversation.LanguageGuess{Language: prior}
	}
	if margin <= 0 {
		if prior != "" {
			return conversation.LanguageGuess{Language: prior}
		}
		return conversation.LanguageGuess{Language: d.langs[best]}
	}
	return conversation.LanguageGuess{Language: d.langs[best], Confidence: 1 - math.Exp(-margin/confidenceScale)}
}

// Scores returns the evidence text gives each language, in the order of
// Languages.
func (d *Detector) Scores(text string) []float64 {
	scores := make([]float64, len(d.langs))
	for _, tok := range tokens(text) {
		if cues, ok := d.lexicon[tok]; ok {
			for _, c := range cues {
				scores[c.lang] += c.weight
			}
			continue
		}
		if len([]rune(tok)) < 3 {
			continue
		}
		for i, sp := range d.spell {
			scores[i] += sp.score(tok)
		}
	}
	return scores
}

// score is the spelling evidence of one word not in any lexicon.
func (sp spelling) score(w string) float64 {
	letter, s := 0.0, 0.0
	if sp.letters != "" && strings.ContainsAny(w, sp.letters) {
		letter = weightLetter
	}
	for _, suf := range sp.suffixes {
		if strings.HasSuffix(w, suf) && len(w) > len(suf)+1 {
			s += weightSuffix
			break
		}
	}
	for _, in := range sp.infixes {
		if strings.Contains(w, in) {
			s += weightInfix
		}
	}
	return letter + min(s, maxSpelling)
}

// tokens splits text into lower-case words: letters and inner
// apostrophes; hyphenated compounds give their parts. Acronyms (all
// capitals: VPN, MFA) and words with digits say nothing about the
// language and are dropped.
func tokens(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’')
	}) {
		f = strings.Trim(strings.ReplaceAll(f, "’", "'"), "'")
		if f == "" || strings.ContainsFunc(f, unicode.IsDigit) {
			continue
		}
		if len([]rune(f)) >= 2 && strings.ToUpper(f) == f && !strings.Contains(f, "'") {
			continue
		}
		out = append(out, strings.ToLower(f))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
