package knowledge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// BenchmarkAnswer measures one question end to end (embed, search, score,
// extract) over the fixture corpus.
func BenchmarkAnswer(b *testing.B) {
	a := knowledge.NewAnswerer(ingested(b, corpus), knowledge.AnswerConfig{})
	questions := []string{
		"How do I reset my password?",
		"VPN not working from hotel",
		"my laptop is very slow",
		"recommend a pizza place",
	}
	benchAnswers(b, a, questions)
}

// BenchmarkEmbed measures the built-in embedder on a question and on a
// chunk of MaxChunkChars characters.
func BenchmarkEmbed(b *testing.B) {
	chunk := strings.Repeat("Open the self-service portal, choose Forgot password and confirm with MFA. ", 20)[:knowledge.MaxChunkChars]
	for _, bm := range []struct{ name, text string }{
		{"question", "How do I reset my password?"},
		{"chunk", chunk},
	} {
		b.Run(bm.name, func(b *testing.B) {
			e := knowledge.NewHashEmbedder()
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.text)))
			for b.Loop() {
				if _, err := e.Embed(ctx, bm.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIngestUnchanged measures an incremental ingest that finds
// nothing to do: the cost of a restart with ingest on start.
func BenchmarkIngestUnchanged(b *testing.B) {
	ix := ingested(b, corpus)
	ctx := context.Background()
	for b.Loop() {
		if _, err := ix.Ingest(ctx, corpus, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswerSample answers the bench questions of the IT helpdesk
// sample (configs/it-helpdesk/questions.txt, English and German) from its
// knowledge folder, one question per iteration: the knowledge share of a
// `tier0 bench -knowledge index` turn.
func BenchmarkAnswerSample(b *testing.B) {
	const dir = "../configs/it-helpdesk"
	a := knowledge.NewAnswerer(ingested(b, dir+"/knowledge"), knowledge.AnswerConfig{})
	var questions []string
	for _, l := range strings.Split(string(readFile(b, dir+"/questions.txt")), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "# unanswerable") {
			break
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			questions = append(questions, l)
		}
	}
	if len(questions) == 0 {
		b.Fatalf("no questions in %s/questions.txt", dir)
	}
	benchAnswers(b, a, questions)
}

// benchAnswers asks a the questions in turn, one per iteration.
func benchAnswers(b *testing.B, a *knowledge.Answerer, questions []string) {
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.Answer(ctx, conversation.Query{Text: questions[i%len(questions)]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
