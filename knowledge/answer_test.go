package knowledge_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

func TestAnswer(t *testing.T) {
	a := knowledge.NewAnswerer(ingested(t, corpus), knowledge.AnswerConfig{
		URLFor: func(source string) string { return "https://kb.example/" + strings.TrimSuffix(source, ".md") },
	})
	tests := []struct {
		question      string
		wantConfident bool
		wantSource    string // of the first citation, when confident
		wantSection   string
		wantText      []string // the answer must contain each
	}{
		{"How do I reset my password?", true, "password-reset.md", "Reset a forgotten password",
			[]string{"1. Open https://password.example.com", "5. Sign in again"}},
		{"I forgot my password", true, "password-reset.md", "Reset a forgotten password", nil},
		{"my account is locked", true, "password-reset.md", "Locked account", []string{"30 minutes"}},
		{"VPN not working from hotel", true, "vpn.md", "VPN does not connect", []string{"hotspot"}},
		{"how to add a printer", true, "printer.md", "Add the office printer", []string{"FollowMe-Printer"}},
		{"printer paper jam", true, "printer.md", "Printer problems", nil},
		{"What is the guest wifi password?", true, "wifi.md", "Guest Wi-Fi", []string{"reception"}},
		{"wifi keeps disconnecting", true, "wifi.md", "Wi-Fi keeps dropping", nil},
		{"set up authenticator on new phone", true, "mfa.md", "", nil},
		{"I got an MFA prompt I didn't start", true, "mfa.md", "Unexpected MFA prompts", []string{"Deny it"}},
		{"my laptop is very slow", true, "laptop.md", "Laptop is slow", []string{"1. Save your work"}},
		{"I lost my laptop", true, "laptop.md", "Lost or stolen laptop", nil},
		{"how can I get a new laptop", true, "laptop.md", "Request a new laptop", nil},
		// Off-topic, and near misses that share words with the corpus.
		{"What is the capital of France?", false, "", "", nil},
		{"recommend a pizza place", false, "", "", nil},
		{"What's the weather tomorrow?", false, "", "", nil},
		{"Who won the football game yesterday?", false, "", "", nil},
		{"Can you tell me a joke?", false, "", "", nil},
		{"How much vacation do I have left?", false, "", "", nil},
		{"How do I book a meeting room?", false, "", "", nil},
		{"order new business cards", false, "", "", nil},
		{"install Photoshop", false, "", "", nil},
		{"my monitor flickers", false, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.question, func(t *testing.T) {
			ans := ask(t, a, tt.question)
			t.Logf("score %.3f", ans.Score)
			if ans.Score < 0 || ans.Score > 1 {
				t.Errorf("got score %v, want it in [0,1]", ans.Score)
			}
			if ans.Confident != tt.wantConfident {
				t.Fatalf("got confident %v (score %.3f, citations %+v), want %v", ans.Confident, ans.Score, ans.Citations, tt.wantConfident)
			}
			if !tt.wantConfident {
				return
			}
			if len(ans.Citations) == 0 {
				t.Fatal("got no citation")
			}
			c := ans.Citations[0]
			if c.Source != tt.wantSource || (tt.wantSection != "" && c.Section != tt.wantSection) {
				t.Errorf("got citation %s / %q, want %s / %q", c.Source, c.Section, tt.wantSource, tt.wantSection)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(ans.Text, want) {
					t.Errorf("got answer %q, want it to contain %q", ans.Text, want)
				}
			}
			if n := utf8.RuneCountInString(ans.Text); n == 0 || n > knowledge.DefaultMaxAnswerChars {
				t.Errorf("got %d characters of answer, want 1 to %d", n, knowledge.DefaultMaxAnswerChars)
			}
		})
	}
}

func TestAnswerCitations(t *testing.T) {
	a := knowledge.NewAnswerer(ingested(t, corpus), knowledge.AnswerConfig{
		URLFor: func(source string) string { return "https://kb.example/" + source },
	})
	tests := []struct {
		question string
		want     conversation.Citation
	}{
		{"How do I reset my password?", conversation.Citation{
			Title: "Reset your password", Source: "password-reset.md", Section: "Reset a forgotten password",
			URL: "https://help.example.com/it/password-reset", // front matter url wins
		}},
		{"how to add a printer", conversation.Citation{
			Title: "Printing in the office", Source: "printer.md", Section: "Add the office printer",
			URL: "https://kb.example/printer.md", // mapped by URLFor
		}},
	}
	for _, tt := range tests {
		t.Run(tt.question, func(t *testing.T) {
			ans := ask(t, a, tt.question)
			if len(ans.Citations) != 1 || ans.Citations[0] != tt.want {
				t.Errorf("got citations %+v, want [%+v]", ans.Citations, tt.want)
			}
		})
	}
}

func TestAnswerSecondCitation(t *testing.T) {
	folder := t.TempDir()
	text := "## Reset\n\nOpen the portal and choose Forgot password.\n"
	writeFile(t, filepath.Join(folder, "a.md"), "# Password reset\n\n"+text)
	writeFile(t, filepath.Join(folder, "b.md"), "# Password reset\n\n"+text)
	writeFile(t, filepath.Join(folder, "c.md"), "# Printer\n\n## Toner\n\nFacilities replace the toner.\n")
	ans := ask(t, knowledge.NewAnswerer(ingested(t, folder), knowledge.AnswerConfig{}), "forgot password")
	var sources []string
	for _, c := range ans.Citations {
		sources = append(sources, c.Source)
	}
	if got := strings.Join(sources, ","); got != "a.md,b.md" {
		t.Errorf("got citations from %s, want a.md,b.md (equal scores, different documents)", got)
	}
}

func TestAnswerTrimsLongChunks(t *testing.T) {
	a := knowledge.NewAnswerer(ingested(t, corpus), knowledge.AnswerConfig{MaxAnswerChars: 300})
	ans := ask(t, a, "my laptop is very slow")
	if n := utf8.RuneCountInString(ans.Text); n == 0 || n > 300 {
		t.Fatalf("got %d characters, want 1 to 300: %q", n, ans.Text)
	}
	// Sentences and list items are kept whole: every line of the answer is
	// a run of the article's text and ends a sentence.
	article := strings.Join(strings.Fields(string(readCorpus(t, "laptop.md"))), " ")
	for _, line := range strings.Split(ans.Text, "\n") {
		if line == "" {
			continue
		}
		if !strings.Contains(article, strings.Join(strings.Fields(line), " ")) || !strings.HasSuffix(line, ".") {
			t.Errorf("got line %q, want whole sentences of the article", line)
		}
	}
}

func TestAnswerEdgeCases(t *testing.T) {
	full := knowledge.NewAnswerer(ingested(t, corpus), knowledge.AnswerConfig{})
	empty := knowledge.NewAnswerer(openIndex(t, t.TempDir(), knowledge.NewHashEmbedder()), knowledge.AnswerConfig{})
	tests := []struct {
		name          string
		a             *knowledge.Answerer
		question      string
		wantCode      conversation.Code
		wantConfident bool
	}{
		{"empty index", empty, "How do I reset my password?", "", false},
		{"blank question", full, " \n ", conversation.Invalid, false},
		// Cut at MaxQueryChars: the pizza part is never seen.
		{"huge question is truncated", full, "How do I reset my password?" + strings.Repeat(" ", knowledge.MaxQueryChars) + strings.Repeat("pizza ", 100000), "", true},
		{"huge off-topic question", full, strings.Repeat("pizza ", 100000), "", false},
		{"punctuation only", full, "?!?", "", false},
		{"stop words only", full, "How do I do it?", "", false},
		{"invalid UTF-8", full, "\xff\xfe password reset", "", true},
		{"no index", knowledge.NewAnswerer(nil, knowledge.AnswerConfig{}), "password", conversation.Unavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans, err := tt.a.Answer(context.Background(), conversation.Query{Text: tt.question})
			if got := conversation.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("got error %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if ans.Confident != tt.wantConfident {
				t.Errorf("got confident %v (score %.3f), want %v", ans.Confident, ans.Score, tt.wantConfident)
			}
		})
	}
}

func TestAnswerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     knowledge.AnswerConfig
		wantErr bool
	}{
		{"zero uses defaults", knowledge.AnswerConfig{}, false},
		{"explicit", knowledge.AnswerConfig{TopK: 8, Threshold: 0.7, MaxAnswerChars: 400}, false},
		{"negative top k", knowledge.AnswerConfig{TopK: -1}, true},
		{"huge top k", knowledge.AnswerConfig{TopK: 1000}, true},
		{"threshold above 1", knowledge.AnswerConfig{Threshold: 1.5}, true},
		{"negative threshold", knowledge.AnswerConfig{Threshold: -0.1}, true},
		{"negative max chars", knowledge.AnswerConfig{MaxAnswerChars: -5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("got code %q, want %q", conversation.ErrorCode(err), conversation.Invalid)
			}
		})
	}
}

func TestAnswerThresholdSetting(t *testing.T) {
	ix := ingested(t, corpus)
	q := "wifi keeps disconnecting"
	score := ask(t, knowledge.NewAnswerer(ix, knowledge.AnswerConfig{}), q).Score
	tests := []struct {
		threshold float64
		want      bool
	}{
		{score - 0.01, true},
		{score + 0.01, false},
	}
	for _, tt := range tests {
		if got := ask(t, knowledge.NewAnswerer(ix, knowledge.AnswerConfig{Threshold: tt.threshold}), q).Confident; got != tt.want {
			t.Errorf("threshold %.3f, score %.3f: got confident %v, want %v", tt.threshold, score, got, tt.want)
		}
	}
}

func readCorpus(tb testing.TB, name string) []byte {
	tb.Helper()
	return readFile(tb, filepath.Join(corpus, name))
}
