package llm

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// citationMarks matches a citation in a reply: [1], [2, 3] or [2,3].
var citationMarks = regexp.MustCompile(`\s?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]`)

// outcome is what a reply amounts to.
type outcome int

const (
	answered     outcome = iota // a cited answer
	notInSources                // the model says the sources do not answer
	leaked                      // the reply repeats the system prompt
	uncited                     // no valid citation
)

// String names the outcome in logs.
func (o outcome) String() string {
	return [...]string{"answered", "not_in_sources", "leaked_prompt", "uncited"}[o]
}

// hasCanary reports whether text contains the canary, in any case.
func hasCanary(text, canary string) bool {
	return strings.Contains(strings.ToLower(text), strings.ToLower(canary))
}

// parseReply reads the model's reply to a request over passages: the answer
// text with its citations renumbered in order of first use (so [n] in the
// text is Citations[n-1]), and cites of passages that were not offered
// removed.
func parseReply(reply, canary string, passages []knowledge.Passage) (string, []conversation.Citation, outcome) {
	switch {
	case hasCanary(reply, canary):
		return "", nil, leaked
	case strings.Contains(reply, NotInSources):
		return "", nil, notInSources
	}
	var cites []conversation.Citation
	number := map[conversation.Citation]int{}
	text := citationMarks.ReplaceAllStringFunc(reply, func(m string) string {
		lead := ""
		if strings.HasPrefix(m, " ") || strings.HasPrefix(m, "\n") || strings.HasPrefix(m, "\t") {
			lead = m[:1]
		}
		inner := strings.Trim(strings.TrimSpace(m), "[]")
		var nums []string
		for _, f := range strings.Split(inner, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || i < 1 || i > len(passages) {
				continue
			}
			c := passages[i-1].Citation
			n, ok := number[c]
			if !ok {
				cites = append(cites, c)
				n = len(cites)
				number[c] = n
			}
			if s := strconv.Itoa(n); !slices.Contains(nums, s) {
				nums = append(nums, s)
			}
		}
		if len(nums) == 0 {
			return "" // a cite of nothing offered
		}
		return lead + "[" + strings.Join(nums, "][") + "]"
	})
	text = strings.TrimSpace(text)
	if len(cites) == 0 || text == "" {
		return "", nil, uncited
	}
	return clip(text, maxAnswerChars), cites, answered
}
