package knowledge

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation/textproc"
)

// This file holds the text analysis shared by the embedder and the lexical
// check of the answerer: word splitting, case and accent folding, stop words
// and a light suffix stripper for English and German.

// word is one token of a text: folded is the lower-cased, accent-folded
// surface form, stem its light stem, stop whether it is a stop word.
type word struct {
	folded string
	stem   string
	stop   bool
	// parts are the pieces of a hyphenated word ("vpn", "client" of
	// "VPN-Client"), folded; nil for a plain word.
	parts []string
	// alts are further terms the word stands for in a German text (see
	// analyze): its compound parts' stems and English translations.
	alts []string
}

// splitWords breaks text into words: runs of letters and digits. A hyphen
// between two letters or digits joins them ("Wi-Fi" → "wifi", "E-Mail" →
// "email"), so spelling variants meet. Apostrophes end a word ("user's" →
// "user", "s"). Every word is lower-cased and accent-folded.
func splitWords(text string) []word {
	var (
		words []word
		cur   strings.Builder
		cuts  []int // byte offsets in cur where a hyphen joined two pieces
	)
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		f := cur.String()
		cur.Reset()
		w := word{folded: f, stem: stem(f), stop: stopWords[f]}
		if len(cuts) > 0 {
			from := 0
			for _, c := range append(cuts, len(f)) {
				w.parts = append(w.parts, f[from:c])
				from = c
			}
			cuts = cuts[:0]
		}
		words = append(words, w)
	}
	var prev rune
	for i, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			textproc.FoldRune(&cur, unicode.ToLower(r))
		case r == '-' && cur.Len() > 0 && isWordRune(prev) && i+1 < len(text) && isWordRune(firstRune(text[i+1:])):
			cuts = append(cuts, cur.Len()) // joined: keep the word going
		default:
			flush()
		}
		prev = r
	}
	flush()
	return words
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// stem strips one common English or German inflection from a folded word:
// plural -s/-ies, -ing, -ed and the German endings -ern, -er, -en, -em, -es,
// -e. It never shortens a word below three letters (four for the German
// endings, so "home" and "code" stay whole) and is deliberately
// light: "passwords", "Passwörter" and "password" all become "passwort" or
// "password" stems that the character n-grams then bring together.
func stem(w string) string {
	r := []rune(w)
	n := len(r)
	if n < 4 || !unicode.IsLetter(r[n-1]) {
		return w
	}
	has := func(suf string) bool { return strings.HasSuffix(w, suf) }
	switch {
	case has("ies") && n > 4:
		return string(r[:n-3]) + "y"
	case has("ss") || has("us") || has("is"):
		return w
	case has("s") && n-1 >= 4:
		r = r[:n-1]
		w = string(r)
		n--
	}
	switch {
	case has("ing") && n-3 >= 3:
		return undouble(r[:n-3])
	case has("ed") && n-2 >= 3:
		return undouble(r[:n-2])
	}
	for _, suf := range germanEndings {
		if has(suf) && n-len(suf) >= 4 {
			return string(r[:n-len(suf)])
		}
	}
	return w
}

var germanEndings = []string{"ern", "er", "en", "em", "es", "e"}

// undouble drops the last letter of a doubled consonant ("resett" → "reset").
func undouble(r []rune) string {
	n := len(r)
	if n >= 2 && r[n-1] == r[n-2] && !strings.ContainsRune("aeiou", r[n-1]) {
		r = r[:n-1]
	}
	return string(r)
}

// contentTerms returns the distinct stems of the non-stop words of text, in
// order of first appearance. Single letters are left out.
func contentTerms(text string) []string {
	terms, _ := queryTerms(text)
	return terms
}

// queryTerms returns contentTerms(text) and, per term, the alternative
// terms its word stands for (see analyze); alts is nil when no word has
// any.
func queryTerms(text string) (terms []string, alts [][]string) {
	return termsOf(analyze(text))
}

// termsOf is queryTerms of a text whose analysis is words.
func termsOf(words []word) (terms []string, alts [][]string) {
	seen := make(map[string]bool, len(words))
	for _, w := range words {
		if w.stop || utf8.RuneCountInString(w.folded) < 2 || seen[w.stem] {
			continue
		}
		seen[w.stem] = true
		terms = append(terms, w.stem)
		if len(w.alts) > 0 && alts == nil {
			alts = make([][]string, len(terms)-1, len(terms))
		}
		if alts != nil {
			alts = append(alts, w.alts)
		}
	}
	return terms, alts
}

// stopWords are frequent English and German words (folded) that carry no
// topic, plus the greetings and fillers of helpdesk chats. They are left out
// of word features and of the lexical check.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for w := range englishStopWords {
		m[w] = true
	}
	for w := range germanStopWords {
		m[w] = true
	}
	return m
}()

// englishStopWords and germanStopWords are the two languages' parts of
// stopWords; they also tell the languages apart (see lexicon.isGerman).
var (
	englishStopWords = wordSet(`a about above after again all also am an and any are as at be been before being below
between both but by can could did do does doing done down during each either else ever every few for
from further get gets getting got had has have having he her here hers him his how i if in into is it its
just let lets like may me might more most must my myself need needs no nor not now of off on once only or
other our ours out over own please same shall she should so some such than that the their theirs them
then there these they this those through to too under until up us very via want wants was we were what
when where which while who whom whose why will with would yes yet you your yours hi hello hey thanks thank
help regards dear ok okay
don doesn didn isn aren wasn weren haven hasn hadn can cannot couldn wouldn shouldn won ll ve re s t d m`)
	germanStopWords = wordSet(`aber alle allem allen aller alles als also am an auch auf aus bei beim bin bis bist bitte da dabei damit
dann das dass dein deine deinem deinen deiner dem den denn der des die dies diese diesem diesen dieser
dieses doch dort du durch ein eine einem einen einer eines er es etwas euch euer fur gibt hab habe haben
hallo hat hatte hier ich ihm ihn ihr ihre im in ist ja jetzt kann kannst kein keine konnen konnte man
mein meine meinem meinen meiner mich mir mit muss mussen nach nein nicht nichts noch nun nur ob oder
ohne sehr sein seine sich sie sind so soll sollte uber um und uns unser unsere unter vom von vor war
waren warum was weil welche welchen welcher wenn wer werde werden wie wieder will wir wird wo wurde
zu zum zur danke gruss gruessen wann welches mochte mochten wurden gerne gern mal eben
brauche brauchst braucht brauchen bekomme bekommst bekommt bekommen kriege kriegen tun tue mache machst
macht machen hilfe helfen geht sagt passiert lautet immer standig schon mehr ganz einfach leider gerade
bereits selbst sooo soo irgendwie eigentlich viel viele vielen`)
)

func wordSet(list string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(list) {
		m[w] = true
	}
	return m
}
