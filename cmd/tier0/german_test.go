package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
)

// germanQuestion is one line of a sample's questions.de.tsv.
type germanQuestion struct {
	text, want string // want: the source file a right answer cites
	title      string // want's title (markdown front matter), "" if none
}

// readGermanQuestions reads the answerable questions of path ("question
// TAB source" lines; "#" comments, "-" = unanswerable).
func readGermanQuestions(tb testing.TB, path string) []germanQuestion {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("German question set: %v", err)
	}
	defer f.Close()
	var qs []germanQuestion
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		text, want, ok := strings.Cut(line, "\t")
		if !ok {
			tb.Fatalf("%s: line %q has no TAB", path, line)
		}
		if want != "-" {
			qs = append(qs, germanQuestion{text: text, want: want, title: articleTitle(filepath.Join(filepath.Dir(path), "knowledge", want))})
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return qs
}

// TestGermanQuestionSets asks every answerable question of the samples'
// German question sets through the engine, each in a conversation of its
// own, and counts those whose first or second bot turn cites the expected
// source. When the first turn is a consulting question, the customer
// picks the offered option that names the expected article or, without
// one, answers that they do not know more. Target: 85 % per sample.
func TestGermanQuestionSets(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests both samples; skipped with -short")
	}
	for _, sample := range []string{"it-helpdesk", "shop"} {
		t.Run(sample, func(t *testing.T) {
			useDataDir(t)
			dir := filepath.Join("..", "..", "configs", sample)
			qs := readGermanQuestions(t, filepath.Join(dir, "questions.de.tsv"))
			engine := sampleEngine(t, filepath.Join(dir, "tier0.yaml"))
			right := 0
			var misses []string
			english := englishBotSentences(t, filepath.Join(dir, "tier0.yaml"))
			for i, q := range qs {
				got, ok := askGerman(t, engine, fmt.Sprintf("de-%s-%d", sample, i), q, english)
				if ok {
					right++
				} else {
					misses = append(misses, fmt.Sprintf("%q: want %s, got %s", q.text, q.want, got))
				}
			}
			share := float64(right) / float64(len(qs))
			t.Logf("%s: %d of %d German questions (%.1f %%) reach the expected source in the first or second bot turn", sample, right, len(qs), 100*share)
			if share < 0.85 {
				t.Errorf("%s: %.1f %% right, want at least 85 %%; misses:\n%s", sample, 100*share, strings.Join(misses, "\n"))
			} else if len(misses) > 0 {
				t.Logf("misses:\n%s", strings.Join(misses, "\n"))
			}
		})
	}
}

// sampleEngine builds the engine of the sample configuration at path with
// its knowledge ingested, the way `tier0 chat` does.
func sampleEngine(tb testing.TB, path string) *conversation.Engine {
	tb.Helper()
	ctx := context.Background()
	c, err := LoadConfig(path, os.Getenv)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	log := newLogger(io.Discard, "error")
	store, err := openStore(ctx, c)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	_, ans, err := openKnowledge(ctx, c, true, io.Discard, log)
	if err != nil {
		tb.Fatalf("open knowledge: %v", err)
	}
	engine, err := newEngine(c, store, ans, nil, log)
	if err != nil {
		tb.Fatalf("new engine: %v", err)
	}
	return engine
}

// askGerman runs one question in conversation key and reports whether the
// first or second bot turn cites q.want, and what the turns cited.
//
// Every sentence and button label the bot says on its own must be German:
// none may start like one of english (see englishBotSentences).
func askGerman(tb testing.TB, engine *conversation.Engine, key string, q germanQuestion, english []string) (string, bool) {
	tb.Helper()
	first := turn(tb, engine, key, 1, q.text, nil)
	assertNotEnglish(tb, q.text, first, english)
	if cites(first, q.want) {
		return citedSources(first), true
	}
	// A consulting question: pick the option naming the article, else say
	// nothing more is known.
	var pick *conversation.Action
	for _, o := range first {
		for _, b := range o.Buttons {
			if pick == nil && b.Action.ID == conversation.ActionConsult && offers(b.Label, q) {
				pick = &b.Action
			}
		}
	}
	second := turn(tb, engine, key, 2, "Das weiß ich nicht genau.", pick)
	assertNotEnglish(tb, q.text, second, english)
	return citedSources(first) + " then " + citedSources(second), cites(second, q.want)
}

// offers reports whether a consulting option's label names q's source:
// it starts with the article's title ("Title: Section…"), or, for the
// product catalogue, it names a product ("Name: Name (ID)").
func offers(label string, q germanQuestion) bool {
	if q.title != "" {
		return strings.HasPrefix(label, q.title) || strings.HasPrefix(q.title, strings.TrimSuffix(label, "…"))
	}
	return strings.HasSuffix(q.want, ".csv") && strings.HasSuffix(label, ")") && strings.Contains(label, " (")
}

// turn sends one customer message and returns what the engine answered.
func turn(tb testing.TB, engine *conversation.Engine, key string, n int, text string, action *conversation.Action) []conversation.Outbound {
	tb.Helper()
	m := conversation.Message{
		Channel: conversation.ChannelWebChat, ConversationKey: "webchat:" + key, PlatformMsgID: fmt.Sprint(n),
		DedupeKey: fmt.Sprintf("%s-%d", key, n), User: conversation.Identity{ID: "kundin"}, Text: text, Action: action,
		SentAt: time.Now(),
	}
	if action != nil {
		m.Text = ""
	}
	res, err := engine.Handle(context.Background(), m)
	if err != nil {
		tb.Fatalf("turn %d of %s: %v", n, key, err)
	}
	return res.Outbound
}

func cites(out []conversation.Outbound, source string) bool {
	for _, o := range out {
		for _, c := range o.Citations {
			if filepath.Base(c.Source) == source || strings.HasPrefix(filepath.Base(c.Source), source+"#") {
				return true
			}
		}
	}
	return false
}

func citedSources(out []conversation.Outbound) string {
	var s []string
	for _, o := range out {
		for _, c := range o.Citations {
			s = append(s, filepath.Base(c.Source))
		}
		if len(o.Citations) == 0 && len(o.Buttons) > 0 {
			var labels []string
			for _, b := range o.Buttons {
				labels = append(labels, b.Label)
			}
			s = append(s, fmt.Sprintf("question %q %q", o.Text, labels))
		}
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// articleTitle returns the front-matter title of the markdown file at
// path, "" for other files.
func articleTitle(path string) string {
	if !strings.HasSuffix(path, ".md") {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if t, ok := strings.CutPrefix(line, "title:"); ok {
			return strings.Trim(strings.TrimSpace(t), `"`)
		}
	}
	return ""
}

// assertNotEnglish fails when a bot message of outs is English or does
// not read as German (checkGerman; knowledge answers quote the cited
// article and are left out), or a button label starts like an English bot
// sentence.
func assertNotEnglish(tb testing.TB, question string, outs []conversation.Outbound, english []string) {
	tb.Helper()
	for _, o := range outs {
		checkGerman(tb, english, string(o.Kind), o.Text)
		for _, b := range o.Buttons {
			for _, e := range english {
				if e != "" && strings.HasPrefix(b.Label, e) {
					tb.Errorf("%q: English button %q in a German conversation", question, b.Label)
				}
			}
		}
	}
}
