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

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cret", "EMPTY": ""}
	get := func(k string) string { return env[k] }
	tests := []struct{ in, want string }{
		{"Bearer ${TOKEN}", "Bearer s3cret"},
		{"${MISSING:-http://127.0.0.1:1}/x", "http://127.0.0.1:1/x"},
		{"${EMPTY:-d}", "d"},
		{"${MISSING}", ""},
		{"{order} and $TOKEN stay", "{order} and $TOKEN stay"},
	}
	for _, tc := range tests {
		if got := expandEnv(tc.in, get); got != tc.want {
			t.Errorf("expandEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestActionConfigErrors(t *testing.T) {
	action := func(extra string) string {
		return `actions:
  define:
    - name: order_status
      examples: {en: ["where is my order"]}
      result: {en: "ok"}
      params:
        - {name: order, type: order, ask: {en: "Which order?"}}
` + extra
	}
	tests := []struct{ name, yaml, want string }{
		{"no url", action(""), "absolute http(s) URL"},
		{"bad method", action("      http: {method: TRACE, url: 'https://x.example/o/{order}'}\n"), "method"},
		{"placeholder in host", action("      http: {url: 'https://{order}.example/'}\n"), "path and query only"},
		{"bad param type", strings.Replace(action("      http: {url: 'https://x.example/'}\n"), "type: order", "type: colour", 1), "unknown type"},
		{"unknown builtin", "actions:\n  builtin: [weather]\n", "want ticket_status or talk_to_person"},
		{"unknown field", action("      http: {url: 'https://x.example/', verb: GET}\n"), "verb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.yaml), func(string) string { return "" })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadConfig: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// The secret comes from the environment into the header.
	c, err := LoadConfig(writeConfig(t, action("      http: {url: '${API:-https://x.example}/o/{order}', headers: {Authorization: 'Bearer ${API_TOKEN}'}}\n")),
		func(k string) string { return map[string]string{"API_TOKEN": "tok"}[k] })
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if h := c.Actions.Define[0].HTTP; h.URL != "https://x.example/o/{order}" || h.Headers["Authorization"] != "Bearer tok" {
		t.Errorf("http = %+v", h)
	}
}
