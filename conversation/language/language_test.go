package language_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/language"
)

func detector(tb testing.TB) *language.Detector {
	tb.Helper()
	d, err := language.New(language.Config{Languages: []string{"de", "en"}})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return d
}

func TestDetect(t *testing.T) {
	d := detector(t)
	tests := []struct {
		name, text, prior string
		want              string
		minConf, maxConf  float64
	}{
		{"german question", "Wie installiere ich den VPN-Client auf meinem Laptop?", "", "de", 0.75, 1},
		{"english question", "How do I install the VPN client on my laptop?", "", "en", 0.75, 1},
		{"german typos", "mein pasword get nich mehr", "", "de", 0.5, 1},
		{"english typos", "my pasword doesnt wrk anymore", "", "en", 0.5, 1},
		{"mixed german with english words", "Der Client zeigt einen Error beim Login", "", "de", 0.5, 1},
		{"compound with umlaut", "Druckerwarteschlange hängt", "", "de", 0.3, 1},
		{"german, english prior", "Mein Drucker druckt nicht", "en", "de", 0.75, 1},
		{"english, german prior", "My printer does not print", "de", "en", 0.75, 1},
		{"acronyms only keep the prior", "VPN MFA", "de", "de", 0, 0},
		{"numbers keep the prior", "10042", "en", "en", 0, 0},
		{"nothing, no prior", "VPN", "", "", 0, 0},
		{"one german word is not a clear switch", "danke", "en", "de", 0, 0.74},
		{"one english word is not a clear switch", "thanks", "de", "en", 0, 0.74},
		{"product name keeps prior", "Firnline Apex 120", "de", "de", 0, 0},
		{"prior decides a near tie", "Laptop Update ok", "de", "de", 0, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := d.Detect(tt.text, tt.prior)
			if g.Language != tt.want || g.Confidence < tt.minConf || g.Confidence > tt.maxConf {
				t.Errorf("Detect(%q, %q) = %+v, want %q with confidence in [%.2f, %.2f]", tt.text, tt.prior, g, tt.want, tt.minConf, tt.maxConf)
			}
		})
	}
}

func TestNewRejectsUnknownLanguage(t *testing.T) {
	_, err := language.New(language.Config{Languages: []string{"de", "xx"}})
	if conversation.ErrorCode(err) != conversation.Invalid {
		t.Fatalf("New(xx) error = %v, want Invalid", err)
	}
	// A deployment adds a language with its own profile.
	d, err := language.New(language.Config{Languages: []string{"en", "fr"}, Profiles: []language.Profile{{
		Code: "fr", Function: []string{"je", "mon", "ne", "pas", "le", "la", "les", "est", "comment", "mot", "de", "passe"},
	}}})
	if err != nil {
		t.Fatalf("New(fr profile): %v", err)
	}
	if g := d.Detect("Je ne trouve pas mon mot de passe", ""); g.Language != "fr" {
		t.Errorf("French profile: got %+v, want fr", g)
	}
}

// labelled is one line of a labelled set.
type labelled struct{ lang, text, set string }

// readTSV reads "lang<TAB>text" lines; lang "" takes fixed instead, and
// the first column is the text then (the German question sets of the
// configs, text TAB expected article).
func readTSV(tb testing.TB, path, fixed string) []labelled {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("labelled set: %v", err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if fixed != "" {
			out = append(out, labelled{fixed, cols[0], path})
			continue
		}
		if len(cols) != 2 {
			tb.Fatalf("%s: line %q is not lang TAB text", path, line)
		}
		out = append(out, labelled{cols[0], cols[1], path})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// The measured figure of the README: accuracy on the German and English
// question sets together (each message alone, no prior). Run with -v for
// the per-set figures and the misses.
func TestAccuracy(t *testing.T) {
	var all []labelled
	all = append(all, readTSV(t, "testdata/questions.tsv", "")...)
	all = append(all, readTSV(t, "testdata/chat.tsv", "")...)
	des, err := filepath.Glob("../../configs/*/questions.de.tsv")
	if err != nil || len(des) == 0 {
		t.Fatalf("German question sets configs/*/questions.de.tsv not found (%v)", err)
	}
	for _, p := range des {
		all = append(all, readTSV(t, p, "de")...)
	}
	d := detector(t)
	type count struct{ right, total int }
	per := map[string]*count{}
	right := 0
	for _, l := range all {
		key := filepath.Base(filepath.Dir(l.set)) + "/" + filepath.Base(l.set) + " " + l.lang
		if per[key] == nil {
			per[key] = &count{}
		}
		per[key].total++
		if g := d.Detect(l.text, ""); g.Language == l.lang {
			right++
			per[key].right++
		} else {
			t.Logf("miss (%s): %q → %+v", l.lang, l.text, g)
		}
	}
	for k, c := range per {
		t.Logf("%-40s %3d/%3d = %.3f", k, c.right, c.total, float64(c.right)/float64(c.total))
	}
	acc := float64(right) / float64(len(all))
	t.Logf("RESULT language detection accuracy=%.4f (%d/%d)", acc, right, len(all))
	if acc < 0.97 {
		t.Errorf("accuracy %.4f < 0.97", acc)
	}
}

// testdata/questions.tsv labels exactly the lines of the configs'
// questions.txt.
func TestLabelledSetsMatchConfigs(t *testing.T) {
	var want []string
	for _, p := range []string{"../../configs/it-helpdesk/questions.txt", "../../configs/shop/questions.txt"} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
				want = append(want, l)
			}
		}
	}
	got := readTSV(t, "testdata/questions.tsv", "")
	if len(got) != len(want) {
		t.Fatalf("testdata/questions.tsv has %d lines, the configs %d: relabel", len(got), len(want))
	}
	for i := range got {
		if got[i].text != want[i] {
			t.Errorf("line %d: %q, configs have %q", i, got[i].text, want[i])
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	d := detector(b)
	texts := []string{"Wie installiere ich den VPN-Client auf meinem Laptop?", "how do i reset my password", "danke"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = d.Detect(texts[i%len(texts)], "")
	}
}

func ExampleDetector_Detect() {
	d, _ := language.New(language.Config{Languages: []string{"de", "en"}})
	g := d.Detect("Mein Drucker druckt nicht", "en")
	fmt.Println(g.Language, g.Confidence > 0.75)
	// Output: de true
}
