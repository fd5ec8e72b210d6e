package analytics_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation/analytics"
)

func TestNormalizeQuestion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"How do I reset my VPN password?", "how do i reset my vpn password"},
		{"  Drucker   druckt nicht!!! ", "drucker druckt nicht"},
		{"Where's my order #123456?", "wheres my order [number]"},
		{"Windows 10 and Office 365 on floor 3", "windows 10 and office 365 on floor 3"},
		{"call me at +49 170 1234567 please", "call me at [number] please"},
		{"mail ada@example.com about it", "mail [email] about it"},
		{"Wi-Fi on floor 3 (building B)", "wi fi on floor 3 building b"},
		{"?!…", ""},
		{"", ""},
		{strings.Repeat("word ", 100), strings.TrimSpace(strings.Repeat("word ", 40))},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := analytics.NormalizeQuestion(tt.in); got != tt.want {
				t.Errorf("NormalizeQuestion(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	long := analytics.NormalizeQuestion(strings.Repeat("ä", 500))
	if n := len([]rune(long)); n != analytics.MaxQuestionRunes {
		t.Errorf("a 500-letter word normalises to %d characters, want %d", n, analytics.MaxQuestionRunes)
	}
}

func TestKnowledgeGaps(t *testing.T) {
	questions := map[string]int64{
		"how do i reset my vpn password": 3,
		"vpn not connecting":             2,
		"vpn client crashes on start":    1,
		"printer on floor 3 offline":     2,
		"printers jammed":                1,
		"where is the canteen":           1,
		"canteen opening hours":          1,
		"hello":                          4, // no significant word: not a gap
	}
	tests := []struct {
		name  string
		limit int
		want  []string // "label count example|example"
	}{
		{"all", 10, []string{
			"vpn 6 how do i reset my vpn password|vpn not connecting|vpn client crashes on start",
			"printer 3 printer on floor 3 offline|printers jammed",
			"canteen 2 canteen opening hours|where is the canteen",
		}},
		{"limited", 1, []string{"vpn 6 how do i reset my vpn password|vpn not connecting|vpn client crashes on start"}},
		{"none", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, g := range analytics.KnowledgeGaps(questions, tt.limit) {
				got = append(got, fmt.Sprintf("%s %d %s", g.Label, g.Count, strings.Join(g.Examples, "|")))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("gaps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// German stop words are left out; a word of a single question does not
// join the group's label.
func TestKnowledgeGapLabels(t *testing.T) {
	gaps := analytics.KnowledgeGaps(map[string]int64{
		"wie beantrage ich urlaub":           2,
		"urlaub beantragen im portal":        1,
		"ich möchte urlaub beantragen bitte": 1,
	}, 5)
	if len(gaps) != 1 || gaps[0].Label != "urlaub" {
		t.Fatalf("gaps = %+v, want one gap led by urlaub", gaps)
	}
	if gaps[0].Count != 4 || len(gaps[0].Examples) != 3 || gaps[0].Examples[0] != "wie beantrage ich urlaub" {
		t.Errorf("gap = %+v, want count 4 and the most frequent question first", gaps[0])
	}
}
