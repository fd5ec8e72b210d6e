package main

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
)

// sampleEngine returns an engine with the actions of a sample config.
func sampleActionEngine(tb testing.TB, path string) *conversation.Engine {
	tb.Helper()
	c, err := LoadConfig(path, func(string) string { return "" })
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	acts, err := buildActions(c)
	if err != nil {
		tb.Fatalf("actions of %s: %v", path, err)
	}
	return conversation.NewEngine(nil, nil, nil, conversation.EngineConfig{Actions: acts})
}

// The sample actions' routing on held-out German and English phrasings
// (testdata/action_phrasings.tsv): the expected action, or none for
// knowledge questions. Every positive is checked against its own
// sample's config, every negative against both.
func TestSampleActionRouting(t *testing.T) {
	shop := sampleActionEngine(t, "../../configs/shop/tier0.yaml")
	it := sampleActionEngine(t, "../../configs/it-helpdesk/tier0.yaml")
	f, err := os.Open("testdata/action_phrasings.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, right := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("malformed line %q", line)
		}
		want, lang, text := parts[0], parts[1], parts[2]
		var engines []*conversation.Engine
		switch want {
		case "order_status", "start_return":
			engines = []*conversation.Engine{shop}
		case "unlock_account", "reset_mfa":
			engines = []*conversation.Engine{it}
		default:
			engines = []*conversation.Engine{shop, it}
		}
		if want == "-" {
			want = ""
		}
		ok := true
		for _, e := range engines {
			if got, score := e.MatchAction(text); got != want {
				ok = false
				t.Logf("%s %q: got %q (score %.2f), want %q", lang, text, got, score, want)
			}
		}
		kind := lang + "/positive"
		if want == "" {
			kind = lang + "/negative"
		}
		total[kind]++
		if ok {
			right[kind]++
		}
	}
	for kind, n := range total {
		acc := float64(right[kind]) / float64(n)
		t.Logf("%s: %d/%d right (%.2f)", kind, right[kind], n, acc)
		if acc < 0.8 {
			t.Errorf("%s: routing accuracy %.2f (%d/%d), want at least 0.80", kind, acc, right[kind], n)
		}
	}
}

// The samples' knowledge questions (configs/*/questions.txt) stay with
// knowledge: few of them may start an action.
func TestSampleQuestionsRarelyStartActions(t *testing.T) {
	for _, dir := range []string{"shop", "it-helpdesk"} {
		e := sampleActionEngine(t, "../../configs/"+dir+"/tier0.yaml")
		raw, err := os.ReadFile("../../configs/" + dir + "/questions.txt")
		if err != nil {
			t.Fatal(err)
		}
		n, started := 0, 0
		for _, q := range strings.Split(string(raw), "\n") {
			if strings.TrimSpace(q) == "" {
				continue
			}
			n++
			if name, score := e.MatchAction(q); name != "" {
				started++
				t.Logf("%s: %q starts %s (%.2f)", dir, q, name, score)
			}
		}
		t.Logf("%s: %d of %d knowledge questions start an action", dir, started, n)
		if started*10 > n {
			t.Errorf("%s: %d of %d knowledge questions start an action, want at most 10%%", dir, started, n)
		}
	}
}

// The German question sets (configs/*/questions.de.tsv, question TAB
// expected article) stay with knowledge too.
func TestSampleGermanQuestionsRarelyStartActions(t *testing.T) {
	for _, dir := range []string{"shop", "it-helpdesk"} {
		e := sampleActionEngine(t, "../../configs/"+dir+"/tier0.yaml")
		raw, err := os.ReadFile("../../configs/" + dir + "/questions.de.tsv")
		if err != nil {
			t.Fatal(err)
		}
		n, started := 0, 0
		for _, line := range strings.Split(string(raw), "\n") {
			q, _, _ := strings.Cut(line, "\t")
			if strings.TrimSpace(q) == "" || strings.HasPrefix(q, "#") {
				continue
			}
			n++
			if name, score := e.MatchAction(q); name != "" {
				started++
				t.Logf("%s: %q starts %s (%.2f)", dir, q, name, score)
			}
		}
		t.Logf("%s: %d of %d German knowledge questions start an action", dir, started, n)
		if started*10 > n {
			t.Errorf("%s: %d of %d German knowledge questions start an action, want at most 10%%", dir, started, n)
		}
	}
}
