package analytics

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masks put in place of personal details in normalised questions.
const (
	maskEmail  = "[email]"
	maskNumber = "[number]"
)

// NormalizeQuestion is how an unanswered question is stored: lower case,
// punctuation removed, words separated by single spaces, e-mail
// addresses replaced by "[email]" and words with four or more digits
// (order and phone numbers, with the digit groups next to them) by
// "[number]", at most MaxQuestionRunes characters. It returns "" for
// text without words.
func NormalizeQuestion(q string) string {
	var words []string
	for _, f := range strings.Fields(strings.ToLower(q)) {
		if strings.Contains(f, "@") && strings.Contains(f, ".") {
			words = append(words, maskEmail)
			continue
		}
		var b strings.Builder
		for _, r := range f {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			case r == '\'' || r == '’':
				// "doesn't" → "doesnt"
			default:
				b.WriteByte(' ')
			}
		}
		for _, w := range strings.Fields(b.String()) {
			if digits(w) >= 4 {
				w = maskNumber
			}
			words = append(words, w)
		}
	}
	words = mergeNumbers(words)
	out := strings.Join(words, " ")
	if utf8.RuneCountInString(out) > MaxQuestionRunes {
		out = strings.TrimSpace(string([]rune(out)[:MaxQuestionRunes]))
	}
	return out
}

// mergeNumbers folds the all-digit words next to a "[number]" into it
// ("+49 170 1234567" is one number) and joins neighbouring masks.
func mergeNumbers(words []string) []string {
	numeric := func(w string) bool { return w == maskNumber || digits(w) == utf8.RuneCountInString(w) }
	var out []string
	for i := 0; i < len(words); {
		j := i
		for j < len(words) && numeric(words[j]) {
			j++
		}
		if j == i {
			out = append(out, words[i])
			i++
			continue
		}
		// A run of numbers: one mask when any of them is masked.
		if slices.Contains(words[i:j], maskNumber) {
			out = append(out, maskNumber)
		} else {
			out = append(out, words[i:j]...)
		}
		i = j
	}
	return out
}

func digits(w string) int {
	n := 0
	for _, r := range w {
		if unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// stopWords are English and German words that say nothing about a
// question's topic, plus help desk filler.
var stopWords = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`
a about above after again against all also am an and any are as at be because been before being below
between both but by can cannot could did do does doing done dont down during each either else even ever
every few for from further get gets getting got had has have having he her here hers him his how i if in
into is isnt it its itself just let lets like me might more most much must my myself need needs no nor not
now of off on once one only or other our out over own please same shall she should so some still such
than that the their them then there these they this those through to too try trying under until up upon
us very via want wants was we were what when where which while who whom why will with without would yes
yet you your yours im ive cant wont didnt doesnt hi hello hey thanks thank help anyone someone something
way ok okay use using used know tell show give make
aber alle als also am an auch auf aus bei bin bis bitte da damit dann das dass dein deine dem den der des
die dies diese dieser doch dort du durch ein eine einem einen einer eines er es euch euer für geht gibt
hab habe haben hallo hat hier ich ihr im in ist ja jetzt kann kein keine können man mein meine mich mir
mit muss nach nicht noch nur ob oder ohne sein sich sie sind so soll über um und uns unser von vom vor
war was weil welche wenn wer wie wieder wir wird wo zu zum zur danke`) {
		m[w] = true
	}
	return m
}()

// terms returns the significant words of a normalised question: no stop
// words, masks, numbers or single letters, plural "s" removed; each once,
// in order.
func terms(q string) []string {
	var out []string
	for _, w := range strings.Fields(q) {
		if stopWords[w] || strings.HasPrefix(w, "[") || utf8.RuneCountInString(w) < 2 || digits(w) == utf8.RuneCountInString(w) {
			continue
		}
		w = stem(w)
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// stem strips an English plural ending: "printers" → "printer",
// "policies" → "policy"; "access", "status" and "this" stay.
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// Gap is a group of unanswered questions that share their most
// significant term: a topic the knowledge base is missing.
type Gap struct {
	// Label names the topic: its shared terms, most common first.
	Label string   `json:"label"`
	Terms []string `json:"terms"`
	// Count is how often questions of the group went unanswered.
	Count int64 `json:"count"`
	// Examples are the group's most frequent questions (normalised).
	Examples []string `json:"examples"`
}

// gapExamples is how many questions a Gap shows; maxGapQuestions how
// many distinct questions KnowledgeGaps considers (the most frequent).
const (
	gapExamples     = 3
	maxGapQuestions = 5000
)

// question is one distinct unanswered question with its count and terms.
type question struct {
	text  string
	count int64
	terms []string
}

// sharedBy counts the questions of qs that contain term t.
func sharedBy(qs []question, t string) int {
	n := 0
	for _, q := range qs {
		if slices.Contains(q.terms, t) {
			n++
		}
	}
	return n
}

// KnowledgeGaps groups unanswered questions (normalised question →
// count) into at most limit gaps, largest first. Grouping is greedy: the
// term found in the most unanswered questions makes the first group (all
// questions containing it), the most frequent term of the questions left
// the next, and so on. A group is labelled with its term and up to two
// more that most of it shares. Questions without a significant word are
// left out.
func KnowledgeGaps(questions map[string]int64, limit int) []Gap {
	var qs []question
	for q, n := range questions {
		if n <= 0 {
			continue
		}
		if ts := terms(q); len(ts) > 0 {
			qs = append(qs, question{q, n, ts})
		}
	}
	byCount := func(a, b question) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.text, b.text))
	}
	slices.SortFunc(qs, byCount)
	if len(qs) > maxGapQuestions {
		qs = qs[:maxGapQuestions]
	}
	var gaps []Gap
	for len(qs) > 0 && len(gaps) < limit {
		weight := make(map[string]int64)
		for _, q := range qs {
			for _, t := range q.terms {
				weight[t] += q.count
			}
		}
		best := ""
		for t, w := range weight {
			if best == "" || w > weight[best] || w == weight[best] && t < best {
				best = t
			}
		}
		var in, rest []question
		for _, q := range qs {
			if slices.Contains(q.terms, best) {
				in = append(in, q)
			} else {
				rest = append(rest, q)
			}
		}
		qs = rest
		g := Gap{Count: weight[best]}
		shared := make(map[string]int64)
		for _, q := range in {
			for _, t := range q.terms {
				shared[t] += q.count
			}
			if len(g.Examples) < gapExamples {
				g.Examples = append(g.Examples, q.text)
			}
		}
		// A single question is labelled by its first terms; a group by its
		// term and those that more than half of its weight and at least
		// two of its questions share.
		if len(in) == 1 {
			g.Terms = slices.Clone(in[0].terms[:min(len(in[0].terms), 3)])
		} else {
			var others []string
			for t, w := range shared {
				if t != best && 2*w > g.Count && sharedBy(in, t) >= 2 {
					others = append(others, t)
				}
			}
			slices.SortFunc(others, func(a, b string) int { return cmp.Or(cmp.Compare(shared[b], shared[a]), strings.Compare(a, b)) })
			g.Terms = append([]string{best}, others[:min(len(others), 2)]...)
		}
		g.Label = strings.Join(g.Terms, " ")
		gaps = append(gaps, g)
	}
	return gaps
}
