package handoff

import (
	"github.com/tier0/tier0/conversation"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// SentimentScorer and Sentiment are the conversation package's port: the
// engine calls the scorer on every customer message (see
// conversation.EngineConfig.Sentiment); LexiconScorer is the built-in one.
type (
	SentimentScorer = conversation.SentimentScorer
	Sentiment       = conversation.Sentiment
)

// Bounds of the lexicon scorer.
const (
	// MaxSentimentRunes is how much of a message the lexicon scorer reads;
	// the rest is ignored.
	MaxSentimentRunes = 2000
	// FrustratedBelow is the score at or below which a message counts as frustrated.
	FrustratedBelow = -0.5
	// maxSignals bounds Sentiment.Signals.
	maxSignals = 16
)

// Tuning of the lexicon scorer.
const (
	normAlpha       = 8    // raw/sqrt(raw²+alpha) maps the raw sum into (-1, 1)
	negateNegative  = -0.5 // "not bad" is mildly positive
	negatePositive  = -0.8 // "not good" is clearly negative
	capsBoost       = 1.5  // a sentiment word written in capitals
	runBoost        = 0.2  // each "!!"/"???" run, at most maxRuns
	maxRuns         = 3
	shoutBoost      = 0.3 // most words in capitals
	negationWindow  = 3   // tokens a negator reaches
	intensifyWindow = 2   // tokens an intensifier reaches
)

// LexiconScorer is the built-in SentimentScorer for English and German: word
// lists, frustration phrases, negation ("not bad", "nicht gut"; German
// "nicht" also reaches back: "das hilft nicht"), intensifiers ("very",
// "sehr"), profanity, and capitals and "!!!"/"???" as amplifiers. Its tables
// are read-only, so one scorer serves any number of goroutines.
type LexiconScorer struct {
	lex *lexicon
}

var _ SentimentScorer = (*LexiconScorer)(nil)

// NewLexiconScorer returns the built-in English and German scorer.
func NewLexiconScorer() *LexiconScorer {
	return &LexiconScorer{lex: defaultLexicon()}
}

// kind says what a lexicon word does.
type kind uint8

const (
	kindNone kind = iota
	kindSentiment
	kindProfanity
	kindNegator     // negates the next sentiment word
	kindPostNegator // German "nicht": the next sentiment word, else the previous one
	kindIntensifier // multiplies the next sentiment word by weight
	kindFunction    // neutral unless negated: "works", "funktioniert"; weight is the negated value
)

type entry struct {
	kind   kind
	weight float64
}

type phrase struct {
	words  []string
	name   string
	weight float64
}

type lexicon struct {
	words   map[string]entry
	phrases map[string][]phrase // by first word, longest first
}

var defaultLexicon = sync.OnceValue(buildLexicon)

func buildLexicon() *lexicon {
	l := &lexicon{words: map[string]entry{}, phrases: map[string][]phrase{}}
	for _, g := range wordGroups {
		for _, w := range strings.Fields(g.words) {
			for _, form := range inflect(w) {
				l.words[fold(form)] = entry{kind: g.kind, weight: g.weight}
			}
		}
	}
	for _, g := range phraseGroups {
		for _, p := range strings.Split(g.phrases, "|") {
			toks := tokenize(p).toks.words()
			if len(toks) == 0 {
				continue
			}
			l.phrases[toks[0]] = append(l.phrases[toks[0]], phrase{words: toks, name: strings.Join(toks, " "), weight: g.weight})
		}
	}
	for k, ps := range l.phrases {
		// Longest first, so "still not working" wins over a shorter match.
		for i := 1; i < len(ps); i++ {
			for j := i; j > 0 && len(ps[j].words) > len(ps[j-1].words); j-- {
				ps[j], ps[j-1] = ps[j-1], ps[j]
			}
		}
		l.phrases[k] = ps
	}
	return l
}

// inflect expands a trailing "*" into the German adjective endings.
func inflect(w string) []string {
	stem, ok := strings.CutSuffix(w, "*")
	if !ok {
		return []string{w}
	}
	return []string{stem, stem + "e", stem + "en", stem + "er", stem + "es", stem + "em"}
}

// token is one word or a clause break (punctuation, "but", "aber").
type token struct {
	word string // lower-case, umlauts folded; "" for a break
	caps bool   // written in capitals, at least two letters
}

type tokens []token

func (ts tokens) words() []string {
	var out []string
	for _, t := range ts {
		if t.word != "" {
			out = append(out, t.word)
		}
	}
	return out
}

// scan is a tokenized message with its amplifiers.
type scan struct {
	toks tokens
	runs int // runs of two or more '!'/'?'
}

// tokenize splits text into folded words and clause breaks, reading at most
// MaxSentimentRunes runes.
func tokenize(text string) scan {
	var (
		s              scan
		b              strings.Builder
		letters, upper int
		run            int
		n              int
	)
	flush := func() {
		w := strings.TrimRight(b.String(), "'")
		if w != "" {
			s.toks = append(s.toks, token{word: w, caps: letters >= 2 && upper == letters})
		}
		b.Reset()
		letters, upper = 0, 0
	}
	brk := func() {
		if len(s.toks) > 0 && s.toks[len(s.toks)-1].word != "" {
			s.toks = append(s.toks, token{})
		}
	}
	for _, r := range text {
		if n == MaxSentimentRunes {
			break
		}
		n++
		if r == '!' || r == '?' {
			run++
		} else {
			if run >= 2 {
				s.runs++
			}
			run = 0
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsLetter(r) {
				letters++
				if unicode.IsUpper(r) {
					upper++
				}
			}
			foldRune(&b, r)
		case (r == '\'' || r == '’' || r == '`') && b.Len() > 0:
			b.WriteByte('\'')
		case strings.ContainsRune(".,;:!?()[]{}\"«»„“”\n", r):
			flush()
			brk()
		default:
			flush()
		}
	}
	if run >= 2 {
		s.runs++
	}
	flush()
	for i, t := range s.toks {
		if t.word == "but" || t.word == "aber" || t.word == "however" || t.word == "jedoch" {
			s.toks[i] = token{}
		}
	}
	return s
}

// fold lower-cases s and folds German umlauts and ß.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		foldRune(&b, r)
	}
	return b.String()
}

func foldRune(b *strings.Builder, r rune) {
	switch r = unicode.ToLower(r); r {
	case 'ä':
		b.WriteString("ae")
	case 'ö':
		b.WriteString("oe")
	case 'ü':
		b.WriteString("ue")
	case 'ß', 'ẞ':
		b.WriteString("ss")
	default:
		b.WriteRune(r)
	}
}

// lookup classifies a folded word; compounds with strong profanity
// ("Scheißsystem", "motherfucker") count as profanity.
func (l *lexicon) lookup(w string) entry {
	if e, ok := l.words[w]; ok {
		return e
	}
	for _, p := range profanityStems {
		if strings.Contains(w, p) {
			return entry{kind: kindProfanity, weight: -3}
		}
	}
	return entry{}
}

// Score rates text. It reads at most MaxSentimentRunes runes, never panics,
// and returns the same result for the same text. A nil scorer uses the
// built-in lexicon.
func (s *LexiconScorer) Score(text string) Sentiment {
	l := defaultLexicon()
	if s != nil && s.lex != nil {
		l = s.lex
	}
	sc := tokenize(text)
	m := newMessage(l, sc.toks)
	m.phrases()
	m.modifiers()
	raw := m.words()

	boost := 1.0
	if runs := min(sc.runs, maxRuns); runs > 0 && raw != 0 {
		boost += runBoost * float64(runs)
		m.signal("exclamations:" + strconv.Itoa(runs))
	}
	if m.shouting() && raw != 0 {
		boost += shoutBoost
		m.signal("shouting")
	}
	raw *= boost
	score := raw / math.Sqrt(raw*raw+normAlpha)
	if math.IsNaN(score) {
		score = 0
	}
	return Sentiment{Score: score, Frustrated: m.frustrated || score <= FrustratedBelow, Signals: m.signals}
}

// message holds the per-token state of one Score call.
type message struct {
	lex        *lexicon
	toks       tokens
	entries    []entry
	covered    []bool // part of a phrase
	negated    []bool
	mult       []float64
	signals    []string
	frustrated bool
}

func newMessage(l *lexicon, toks tokens) *message {
	m := &message{lex: l, toks: toks, entries: make([]entry, len(toks)), covered: make([]bool, len(toks)),
		negated: make([]bool, len(toks)), mult: make([]float64, len(toks))}
	for i, t := range toks {
		m.mult[i] = 1
		if t.word != "" {
			m.entries[i] = l.lookup(t.word)
		}
	}
	return m
}

func (m *message) signal(s string) {
	if len(m.signals) < maxSignals {
		m.signals = append(m.signals, s)
	}
}

// phrases marks frustration phrases; their words are not scored again.
func (m *message) phrases() {
	for i := 0; i < len(m.toks); i++ {
		for _, p := range m.lex.phrases[m.toks[i].word] {
			if !m.matches(i, p.words) {
				continue
			}
			for j := range p.words {
				m.covered[i+j] = true
				m.entries[i+j] = entry{}
			}
			m.frustrated = true
			// The first word carries the phrase's weight.
			m.entries[i] = entry{kind: kindSentiment, weight: p.weight}
			m.signal("frustration:" + p.name)
			i += len(p.words) - 1
			break
		}
	}
}

func (m *message) matches(i int, words []string) bool {
	if i+len(words) > len(m.toks) {
		return false
	}
	for j, w := range words {
		if m.toks[i+j].word != w {
			return false
		}
	}
	return true
}

// scoreable reports whether negators and intensifiers can reach token i.
func (m *message) scoreable(i int) bool {
	k := m.entries[i].kind
	return !m.covered[i] && (k == kindSentiment || k == kindFunction)
}

// target finds the first scoreable token from i in direction dir within
// window tokens of the same clause, or -1.
func (m *message) target(i, dir, window int) int {
	for j, n := i+dir, 0; j >= 0 && j < len(m.toks) && n < window; j, n = j+dir, n+1 {
		if m.toks[j].word == "" {
			return -1
		}
		if m.scoreable(j) && !(dir < 0 && m.negated[j]) {
			return j
		}
	}
	return -1
}

// modifiers applies negators and intensifiers to the words they reach.
func (m *message) modifiers() {
	for i, e := range m.entries {
		if m.covered[i] {
			continue
		}
		switch e.kind {
		case kindNegator, kindPostNegator:
			j := m.target(i, 1, negationWindow)
			if j < 0 && e.kind == kindPostNegator {
				j = m.target(i, -1, negationWindow)
			}
			if j >= 0 {
				m.negated[j] = true
			}
		case kindIntensifier:
			if j := m.target(i, 1, intensifyWindow); j >= 0 {
				m.mult[j] *= e.weight
			}
		}
	}
}

// words sums the contributions of all words and phrases.
func (m *message) words() float64 {
	var raw float64
	for i, e := range m.entries {
		w := m.toks[i].word
		var c float64
		switch {
		case m.covered[i]: // the first word of a phrase
			c = e.weight
		case e.kind == kindProfanity:
			c = e.weight
			m.signal("profanity:" + w)
		case e.kind == kindFunction && m.negated[i]:
			c = e.weight
			m.signal("negated:" + w)
		case e.kind == kindSentiment && m.negated[i]:
			c = e.weight * negatePositive
			if e.weight < 0 {
				c = e.weight * negateNegative
			}
			m.signal("negated:" + w)
		case e.kind == kindSentiment && e.weight < 0:
			c = e.weight
			m.signal("negative:" + w)
		case e.kind == kindSentiment:
			c = e.weight
			m.signal("positive:" + w)
		default:
			continue
		}
		c *= m.mult[i]
		if m.toks[i].caps {
			c *= capsBoost
			m.signal("caps:" + w)
		}
		raw += c
	}
	return raw
}

// shouting reports whether at least three words, and at least half of all
// longer words, are written in capitals.
func (m *message) shouting() bool {
	var caps, long int
	for _, t := range m.toks {
		if len(t.word) >= 2 {
			long++
			if t.caps {
				caps++
			}
		}
	}
	return caps >= 3 && 2*caps >= long
}

// Trend is the recent-weighted average of a conversation's scores, oldest
// first: the newest counts fully and each older one 0.7 times the next, so
// the handoff card shows where the mood is heading. Scores are clamped to
// [-1, 1], NaN is skipped, and an empty slice gives 0.
func Trend(scores []float64) float64 {
	const decay = 0.7
	var sum, weights float64
	w := 1.0
	for i := len(scores) - 1; i >= 0 && w > 1e-9; i-- {
		s := scores[i]
		if math.IsNaN(s) {
			continue
		}
		sum += w * max(-1, min(1, s))
		weights += w
		w *= decay
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// wordGroups is the built-in lexicon. Weights: mild 1, clear 1.5-2, strong
// 2.5-3. A trailing "*" adds the German adjective endings (-e, -en, -er,
// -es, -em). Words are folded like the input, so "schön" matches "schoen".
var wordGroups = []struct {
	kind   kind
	weight float64
	words  string
}{
	// English.
	{kindSentiment, 2.5, "perfect excellent awesome amazing fantastic brilliant wonderful outstanding superb"},
	{kindSentiment, 2, "great love loved lovely happy super"},
	{kindSentiment, 1.5, "good nice thanks thank thx helpful solved fixed resolved glad appreciate appreciated pleased cool easy"},
	{kindSentiment, 1, "fine better ok okay quick fast"},
	{kindSentiment, -3, "worst furious"},
	{kindSentiment, -2.5, "terrible awful horrible useless ridiculous pathetic unacceptable hate hated frustrated frustrating " +
		"angry garbage incompetent unusable nightmare disgusting outrageous worthless"},
	{kindSentiment, -2, "annoying annoyed stupid dumb disappointed disappointing unhelpful upset mad waste trash lousy " +
		"worse rubbish idiotic"},
	{kindSentiment, -1.5, "bad broken poor sad joke impossible confusing confused"},
	{kindSentiment, -1, "slow wrong fail fails failed failing crash crashes crashed buggy unfortunately"},
	{kindSentiment, -0.5, "problem problems"},
	{kindFunction, -1.5, "work works working worked help helps helped function functions"},
	{kindNegator, 0, "not no never none nothing nobody neither nor without cannot can't cant don't dont doesn't doesnt " +
		"didn't didnt isn't isnt aren't arent wasn't wasnt weren't won't wont wouldn't wouldnt couldn't couldnt " +
		"shouldn't haven't havent hasn't hasnt hadn't"},
	{kindIntensifier, 1.8, "extremely incredibly utterly"},
	{kindIntensifier, 1.6, "absolutely totally completely"},
	{kindIntensifier, 1.5, "very"},
	{kindIntensifier, 1.4, "really highly truly"},
	{kindIntensifier, 1.3, "so too"},
	{kindIntensifier, 0.7, "slightly somewhat bit little kinda"},
	{kindProfanity, -3, "fuck fucking fucked shit shitty bullshit crap crappy damn damned wtf asshole bastard sucks"},

	// German.
	{kindSentiment, 2.5, "perfekt* hervorragend* großartig* ausgezeichnet* fantastisch* genial* spitze wunderbar*"},
	{kindSentiment, 2, "toll* prima klasse super"},
	{kindSentiment, 1.5, "gut* danke dank schön* hilfreich* gelöst behoben zufrieden* freue einfach*"},
	{kindSentiment, 1, "besser* okay schnell*"},
	{kindSentiment, -3, "unverschämt* frechheit schlimmste*"},
	{kindSentiment, -2.5, "schrecklich* furchtbar* katastrophe katastrophal* nutzlos* unbrauchbar* lächerlich* wütend* " +
		"frustriert* frustrierend* inakzeptabel* miserabel* grauenhaft* zeitverschwendung unfähig* hasse"},
	{kindSentiment, -2, "sinnlos* ärgerlich* verärgert* sauer* nervig* nervt genervt* dumm* dämlich* blöd* doof* " +
		"enttäuscht* enttäuschend* mies* peinlich* schlimm* mist schlechter schlechtere schlechteren"},
	{kindSentiment, -1.5, "schlecht* schlechte kaputt* ärger traurig* verwirrend*"},
	{kindSentiment, -1, "langsam* falsch* leider fehlerhaft* abgestürzt stürzt"},
	{kindFunction, -1.5, "funktioniert funktionieren funktionierte klappt klappte geht ging läuft lief hilft half"},
	{kindPostNegator, 0, "nicht nichts nie niemals"},
	{kindNegator, 0, "kein keine keinen keinem keiner keines ohne"},
	{kindIntensifier, 1.8, "extrem äußerst"},
	{kindIntensifier, 1.6, "völlig absolut komplett total"},
	{kindIntensifier, 1.5, "sehr mega"},
	{kindIntensifier, 1.4, "echt wirklich"},
	{kindIntensifier, 1.2, "ziemlich richtig"},
	{kindIntensifier, 0.7, "etwas bisschen leicht"},
	{kindProfanity, -3, "scheiße scheiß kacke verdammt verdammte verflucht arsch arschloch beschissen* drecks dreck mistding"},
}

// profanityStems mark compounds as profanity wherever they occur in a word.
var profanityStems = []string{"fuck", "shit", "scheiss", "arschloch"}

// phraseGroups are frustration phrases, separated by "|". Any of them makes
// a message Frustrated; the weight is added to the raw score once.
var phraseGroups = []struct {
	weight  float64
	phrases string
}{
	{-2.5, "useless bot|stupid bot|dumb bot|bot is useless|bot is stupid|you are useless|you're useless|waste of time|" +
		"waste of my time|this is ridiculous|this is a joke|what a joke|unacceptable|sick and tired|fed up|pissed off|" +
		"nutzloser bot|dummer bot|blöder bot|bot ist nutzlos|bot ist dumm|zeitverschwendung|frechheit|unverschämt|" +
		"so ein mist|so eine scheiße|das ist lächerlich|die nase voll|verarschen|verarscht"},
	{-2, "still not working|still doesn't work|still does not work|still not fixed|still broken|still no|" +
		"third time|fourth time|fifth time|again and again|over and over|how many times|for the last time|" +
		"sick of|had enough|i give up|not again|are you kidding|are you serious|nothing works|already told you|" +
		"i already said|you don't understand|you do not understand|not listening|drives me crazy|driving me crazy|" +
		"immer noch nicht|immer noch kaputt|schon wieder|zum dritten mal|zum vierten mal|zum x ten mal|" +
		"zum wiederholten mal|wie oft noch|wie oft denn noch|es reicht|mir reicht es|mir reicht's|ich gebe auf|" +
		"schon gesagt|verstehst du nicht|verstehst du mich nicht|das darf doch nicht wahr sein|" +
		"das kann doch nicht wahr sein|regt mich auf|nichts funktioniert|nichts geht"},
}
