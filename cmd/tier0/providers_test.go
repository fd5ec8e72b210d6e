package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tier0/tier0/knowledge"
)

// fakeOpenAI speaks the OpenAI wire format for /embeddings (vectors from
// the built-in hash embedder, so retrieval still finds the right article)
// and /chat/completions (a cited answer), and counts requests.
type fakeOpenAI struct {
	embeds, chats atomic.Int64
	lastPrompt    atomic.Value // string: the user message of the last chat
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer test-key" {
		http.Error(w, `{"error":{"message":"bad key"}}`, http.StatusUnauthorized)
		return
	}
	emb := knowledge.NewHashEmbedder()
	switch r.URL.Path {
	case "/v1/embeddings":
		f.embeds.Add(1)
		var req struct {
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var data []item
		for i, in := range req.Input {
			v, err := emb.Embed(r.Context(), in)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			data = append(data, item{Index: i, Embedding: v})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "fake-embed"})
	case "/v1/chat/completions":
		f.chats.Add(1)
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if n := len(req.Messages); n > 0 {
			f.lastPrompt.Store(req.Messages[n-1].Content)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
				"message": map[string]string{"role": "assistant", "content": "Use the self-service portal at password.northwind.example [1]."}}},
		})
	default:
		http.NotFound(w, r)
	}
}

// The server with an OpenAI-compatible embedding model and LLM: the index
// is built through /embeddings and answers are written by the model, cited.
func TestServeWithOpenAICompatibleProviders(t *testing.T) {
	fake := &fakeOpenAI{}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	m, _ := startMain(t, t.TempDir(), map[string]string{
		"TIER0_EMBED_BASE_URL": api.URL + "/v1", "TIER0_EMBED_MODEL": "fake-embed", "TIER0_EMBED_API_KEY": "test-key",
		"TIER0_LLM_BASE_URL": api.URL + "/v1", "TIER0_LLM_MODEL": "fake-chat", "TIER0_LLM_API_KEY": "test-key",
	})
	// 132 chunks of the sample, embedded 64 per request.
	if got := fake.embeds.Load(); got != 3 {
		t.Fatalf("ingestion made %d /embeddings requests, want 3 (batches of 64)", got)
	}
	v := newVisitor(t, m)
	ev := v.events(t)
	v.say(t, passwordQ, "p-1")
	ans := ev.next(t)
	if !strings.Contains(ans.Text, "self-service portal") || !strings.Contains(ans.Text, "[1]") {
		t.Errorf("answer %q, want the model's text with its [1] marker (citation 1)", ans.Text)
	}
	if len(ans.Citations) == 0 || ans.Citations[0].URL != passwordURL {
		t.Errorf("citations %+v, want the password article first", ans.Citations)
	}
	prompt, _ := fake.lastPrompt.Load().(string)
	if !strings.Contains(prompt, passwordQ) || !strings.Contains(prompt, passwordPhrase) {
		t.Errorf("the model was not given the question and the article: %q", prompt)
	}
	// A question the documents do not answer never reaches the model.
	chats := fake.chats.Load()
	v.say(t, "when is the summer party", "p-2")
	if got := ev.next(t); got.Kind != "not_sure" {
		t.Errorf("off-topic reply kind %q, want not_sure", got.Kind)
	}
	if fake.chats.Load() != chats {
		t.Error("the model was asked about a question the documents do not answer")
	}
}
