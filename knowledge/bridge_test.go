package knowledge_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tier0/tier0/knowledge"
	"github.com/tier0/tier0/knowledge/openai"
)

// Markdown articles on four topics, in English and in German.
var (
	englishArticles = map[string]string{
		"printers.md":  "---\ntitle: Printers and the print queue\n---\n# Printers and the print queue\n\nIf the printer does not print, open the print queue, delete stuck jobs and send the job again. A paper jam is cleared by opening the front door of the printer.\n",
		"passwords.md": "---\ntitle: Reset a forgotten password\n---\n# Reset a forgotten password\n\nForgot your password? Open the self-service portal, confirm with your phone and choose a new password. A locked account unlocks after fifteen minutes.\n",
		"power.md":     "---\ntitle: Power outage in the office\n---\n# Power outage in the office\n\nDuring a power outage save your work while the laptop runs on battery. Do not switch off the network cabinets; they run on a backup supply.\n",
		"wifi.md":      "---\ntitle: Office Wi-Fi for visitors\n---\n# Office Wi-Fi for visitors\n\nVisitors use the guest network. The reception hands out the guest wifi code for the day.\n",
	}
	germanArticles = map[string]string{
		"drucker.md":  "---\ntitle: Drucker und Druckerwarteschlange\nlanguage: de\n---\n# Drucker und Druckerwarteschlange\n\nWenn der Drucker nicht druckt, öffne die Druckerwarteschlange, lösche hängende Aufträge und sende den Druckauftrag noch einmal. Einen Papierstau behebst du über die vordere Klappe.\n",
		"passwort.md": "---\ntitle: Vergessenes Passwort zurücksetzen\nlanguage: de\n---\n# Vergessenes Passwort zurücksetzen\n\nPasswort vergessen? Öffne das Self-Service-Portal, bestätige mit deinem Handy und wähle ein neues Kennwort. Ein gesperrtes Konto wird nach fünfzehn Minuten entsperrt.\n",
		"strom.md":    "---\ntitle: Stromausfall im Büro\nlanguage: de\n---\n# Stromausfall im Büro\n\nBei einem Stromausfall speicherst du deine Arbeit, solange der Laptop auf Akku läuft. Schalte die Netzwerkschränke nicht aus; sie hängen an einer Notstromversorgung.\n",
		"wlan.md":     "---\ntitle: WLAN für Besucher\nlanguage: de\n---\n# WLAN für Besucher\n\nBesucher nutzen das Gäste-WLAN. Der Empfang gibt den Code für das Gäste-WLAN des Tages aus.\n",
	}
)

// crossLingualCases are questions in one language whose answer is only in
// the other language's articles: the source each must find first.
var crossLingualCases = []struct {
	question, english, german string
}{
	{"Mein Drucker druckt nicht", "printers.md", "drucker.md"},
	{"Die Druckerwarteschlange hängt", "printers.md", "drucker.md"},
	{"Ich habe mein Passwort vergessen", "passwords.md", "passwort.md"},
	{"Stromausfall im ganzen Gebäude, was tun?", "power.md", "strom.md"},
	{"Wie kommen Besucher ins Gäste-WLAN?", "wifi.md", "wlan.md"},
	{"my printer does not print", "printers.md", "drucker.md"},
	{"I forgot my password", "passwords.md", "passwort.md"},
	{"what to do in a power outage", "power.md", "strom.md"},
	{"guest wifi for visitors", "wifi.md", "wlan.md"},
}

func indexOf(tb testing.TB, emb knowledge.Embedder, articles map[string]string) *knowledge.Index {
	tb.Helper()
	var docs []knowledge.Document
	for name, text := range articles {
		d, err := knowledge.ParseMarkdown(name, []byte(text))
		if err != nil {
			tb.Fatalf("parse %s: %v", name, err)
		}
		docs = append(docs, d)
	}
	ix := openIndex(tb, tb.TempDir(), emb)
	if _, err := ix.IngestDocuments(context.Background(), docs, nil); err != nil {
		tb.Fatalf("ingest: %v", err)
	}
	return ix
}

// checkCrossLingual asks every case of the other language than the
// index's articles and wants the expected source first.
func checkCrossLingual(t *testing.T, emb func() knowledge.Embedder) {
	t.Helper()
	for _, lang := range []struct {
		name     string
		articles map[string]string
		want     func(int) string
	}{
		{"English knowledge", englishArticles, func(i int) string { return crossLingualCases[i].english }},
		{"German knowledge", germanArticles, func(i int) string { return crossLingualCases[i].german }},
	} {
		t.Run(lang.name, func(t *testing.T) {
			ix := indexOf(t, emb(), lang.articles)
			for i, c := range crossLingualCases {
				r, err := ix.Retrieve(context.Background(), c.question, knowledge.RetrieveOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Hits) == 0 {
					t.Errorf("%q: no hits, want %s", c.question, lang.want(i))
					continue
				}
				if got := filepath.Base(r.Hits[0].Chunk.Source); got != lang.want(i) {
					t.Errorf("%q: first hit %s, want %s", c.question, got, lang.want(i))
				}
			}
		})
	}
}

// Offline, with the built-in embedding: German questions find English
// articles and English questions German ones, through the lexicon bridge.
func TestCrossLingualOffline(t *testing.T) {
	checkCrossLingual(t, func() knowledge.Embedder { return knowledge.NewHashEmbedder() })
}

// A German question whose English answer is there is answered with it;
// one about nothing in the articles is not.
func TestCrossLingualAnswerable(t *testing.T) {
	ix := indexOf(t, knowledge.NewHashEmbedder(), englishArticles)
	for _, tt := range []struct {
		q    string
		want bool
	}{
		{"Ich habe mein Passwort vergessen, wie setze ich es zurück?", true},
		{"Wann wird mein Gehalt überwiesen?", false},
	} {
		r, err := ix.Retrieve(context.Background(), tt.q, knowledge.RetrieveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Answerable != tt.want {
			t.Errorf("%q: answerable %v (score %.3f, threshold %.3f), want %v", tt.q, r.Answerable, r.Score, r.Threshold, tt.want)
		}
	}
}

// topics are the concepts the fake multilingual model knows: a text's
// vector is the sum of the topics whose words (either language) it holds,
// so German and English texts of one topic get near vectors, as with
// multilingual-e5.
var topics = [][]string{
	{"printer", "print", "drucker", "druck", "paper", "papier"},
	{"password", "passwort", "kennwort", "account", "konto"},
	{"power", "outage", "strom", "stromausfall", "battery", "akku"},
	{"wifi", "wlan", "guest", "gäste", "visitor", "besucher"},
}

// fakeEmbeddings is an OpenAI-compatible /embeddings endpoint returning
// topic vectors (see topics) plus a small word-hash part, and recording
// the texts it was asked to embed.
type fakeEmbeddings struct {
	mu    sync.Mutex
	texts []string
}

const fakeDims = 32

func (f *fakeEmbeddings) vector(text string) []float64 {
	v := make([]float64, fakeDims)
	lower := strings.ToLower(text)
	for i, words := range topics {
		for _, w := range words {
			if strings.Contains(lower, w) {
				v[i] += 1
			}
		}
	}
	for _, w := range strings.Fields(lower) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[len(topics)+int(h.Sum32()%uint32(fakeDims-len(topics)))] += 0.1
	}
	return v
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/embeddings" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type item struct {
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	f.mu.Lock()
	f.texts = append(f.texts, req.Input...)
	f.mu.Unlock()
	for i, in := range req.Input {
		v := f.vector(in)
		var n float64
		for _, x := range v {
			n += x * x
		}
		if n == 0 {
			v[fakeDims-1], n = 1, 1
		}
		for j := range v {
			v[j] /= math.Sqrt(n)
		}
		data[i] = item{Index: i, Embedding: v}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "fake-multilingual"})
}

func (f *fakeEmbeddings) asked(text string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.texts {
		if t == text {
			return true
		}
	}
	return false
}

// With a configured multilingual embedding model, cross-lingual retrieval
// goes through the same path: the questions are embedded by the model
// (the fake server sees them) and find the other language's articles.
func TestCrossLingualEmbeddingModel(t *testing.T) {
	fake := &fakeEmbeddings{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	checkCrossLingual(t, func() knowledge.Embedder {
		emb, err := openai.NewEmbedder(openai.Config{BaseURL: srv.URL + "/v1", Model: "fake-multilingual", APIKey: "test-key"})
		if err != nil {
			t.Fatal(err)
		}
		return emb
	})
	for _, c := range crossLingualCases {
		if !fake.asked(c.question) {
			t.Errorf("the embedding model was never asked to embed %q", c.question)
		}
	}
}

// German analysis inside one language: compounds, inflections, umlaut
// spellings and separable verbs meet their German article.
func TestGermanKnowledgeInGerman(t *testing.T) {
	ix := indexOf(t, knowledge.NewHashEmbedder(), germanArticles)
	for q, want := range map[string]string{
		"Druckerwarteschlange leeren":             "drucker.md",
		"Papierstau im Drucker":                   "drucker.md",
		"Passwoerter vergessen":                   "passwort.md",
		"mein Konto ist gesperrt":                 "passwort.md",
		"Stromausfalls im Buero":                  "strom.md",
		"Netzwerkschrank ausschalten bei Ausfall": "strom.md",
		"Gaeste WLAN Code":                        "wlan.md",
	} {
		r, err := ix.Retrieve(context.Background(), q, knowledge.RetrieveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Hits) == 0 || filepath.Base(r.Hits[0].Chunk.Source) != want {
			got := "nothing"
			if len(r.Hits) > 0 {
				got = r.Hits[0].Chunk.Source
			}
			t.Errorf("%q: first hit %s, want %s", q, got, want)
		}
	}
}

func TestSplitCompound(t *testing.T) {
	tests := []struct {
		word string
		want []string
	}{
		{"druckerwarteschlange", []string{"drucker", "warteschlange"}},
		{"stromausfall", []string{"strom", "ausfall"}},
		{"zahnarzttermin", []string{"zahnarzt", "termin"}},
		{"arbeitsplatzdrucker", []string{"arbeitsplatz", "drucker"}},
		{"passwort", nil},      // a short known word stays whole
		{"drucker", nil},       // too short to split
		{"xyzqwertzuiop", nil}, // no known parts
	}
	for _, tt := range tests {
		if got := knowledge.SplitCompound(tt.word); strings.Join(got, "+") != strings.Join(tt.want, "+") {
			t.Errorf("SplitCompound(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
