package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
	"github.com/tier0/tier0/knowledge/openai"
)

// embedRequest is the body an embeddings test server reads.
type embedRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions"`
}

// datum is one embedding of a response.
type datum struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float64 `json:"embedding"`
}

// numbered returns n inputs "text 0", "text 1", ….
func numbered(n int) []string {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = "text " + strconv.Itoa(i)
	}
	return texts
}

// numberVector is the (unnormalised) vector the test servers give the text
// "text K": (3, 4·(K+1)).
func numberVector(text string) []float64 {
	k, _ := strconv.Atoi(strings.TrimPrefix(text, "text "))
	return []float64{3, 4 * float64(k+1)}
}

// embedOK answers an embeddings request with numberVector of each input,
// in shuffled order.
func embedOK(tb testing.TB, w http.ResponseWriter, body []byte) {
	tb.Helper()
	var req embedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	data := make([]datum, len(req.Input))
	for i, in := range req.Input {
		data[i] = datum{Object: "embedding", Index: i, Embedding: numberVector(in)}
	}
	rand.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	writeJSON(tb, w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": req.Model})
}

// newEmbedder returns an Embedder for srv with cfg's other settings.
func newEmbedder(tb testing.TB, srv *server, cfg openai.Config) *openai.Embedder {
	tb.Helper()
	cfg.BaseURL = srv.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "text-embedding-3-small"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	e, err := openai.NewEmbedder(cfg)
	if err != nil {
		tb.Fatalf("new embedder: %v", err)
	}
	return e
}

func TestEmbedBatch(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { embedOK(t, w, body) })
	e := newEmbedder(t, srv, openai.Config{})
	texts := numbered(150)
	vs, err := e.EmbedBatch(context.Background(), texts)
	if err != nil {
		t.Fatalf("embed batch: %v", err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("got %d vectors, want %d", len(vs), len(texts))
	}
	for i, v := range vs {
		want := numberVector(texts[i])
		norm := math.Hypot(want[0], want[1])
		if len(v) != 2 || math.Abs(float64(v[0])-want[0]/norm) > 1e-6 || math.Abs(float64(v[1])-want[1]/norm) > 1e-6 {
			t.Fatalf("vector %d = %v, want normalised %v", i, v, want)
		}
	}
	reqs := srv.requests()
	var sizes []int
	for _, r := range reqs {
		var body embedRequest
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("request body: %v", err)
		}
		sizes = append(sizes, len(body.Input))
		if r.Path != "/v1/embeddings" {
			t.Errorf("path = %q, want /v1/embeddings", r.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q, want the bearer key", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", got)
		}
	}
	if fmt.Sprint(sizes) != "[64 64 22]" {
		t.Errorf("batch sizes = %v, want [64 64 22]", sizes)
	}
}

func TestEmbedRequestGolden(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		var req embedRequest
		_ = json.Unmarshal(body, &req)
		data := []datum{{Index: 1, Embedding: make([]float64, 256)}, {Index: 0, Embedding: make([]float64, 256)}}
		data[0].Embedding[1], data[1].Embedding[0] = 2, 5
		writeJSON(t, w, http.StatusOK, map[string]any{"data": data})
	})
	e := newEmbedder(t, srv, openai.Config{Model: "text-embedding-3-large", Dimensions: 256, BatchSize: 10})
	vs, err := e.EmbedBatch(context.Background(), []string{"How do I reset my password?", "VPN disconnects\nevery hour"})
	if err != nil {
		t.Fatalf("embed batch: %v", err)
	}
	if vs[0][0] != 1 || vs[1][1] != 1 {
		t.Errorf("vectors not in input order or not normalised: %v… %v…", vs[0][:2], vs[1][:2])
	}
	checkGolden(t, "embeddings_request.json", srv.requests()[0].Body)
}

func TestEmbedderName(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {})
	for _, tc := range []struct {
		model string
		dims  int
		want  string
	}{
		{"text-embedding-3-small", 0, "openai:text-embedding-3-small"},
		{"text-embedding-3-small", 512, "openai:text-embedding-3-small@512"},
		{"nomic-embed-text", 0, "openai:nomic-embed-text"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := newEmbedder(t, srv, openai.Config{Model: tc.model, Dimensions: tc.dims}).Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEmbedAzure(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { embedOK(t, w, body) })
	e := newEmbedder(t, srv, openai.Config{
		AzureAPIVersion: "2024-10-21",
		Headers:         map[string]string{"X-Gateway": "tier0"},
	})
	if _, err := e.Embed(context.Background(), "text 1"); err != nil {
		t.Fatalf("embed: %v", err)
	}
	r := srv.requests()[0]
	checks := []struct{ name, got, want string }{
		{"api-key", r.Header.Get("api-key"), testKey},
		{"Authorization", r.Header.Get("Authorization"), ""},
		{"X-Gateway", r.Header.Get("X-Gateway"), "tier0"},
		{"query", r.Query, "api-version=2024-10-21"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// retries records the waits of OnRetry.
type retries struct{ waits []time.Duration }

func (r *retries) record(_ int, wait time.Duration, _ error) { r.waits = append(r.waits, wait) }

func TestEmbedRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // requests answered with fail before embedOK
		fail     func(w http.ResponseWriter)
		wantWait time.Duration // 0: any backoff
	}{
		{"429 with Retry-After seconds", 1, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			writeJSON(t, w, http.StatusTooManyRequests, apiError("Rate limit reached"))
		}, time.Second},
		{"429 with retry-after-ms", 2, func(w http.ResponseWriter) {
			w.Header().Set("retry-after-ms", "20")
			writeJSON(t, w, http.StatusTooManyRequests, apiError("Rate limit reached"))
		}, 20 * time.Millisecond},
		{"500 with backoff", 1, func(w http.ResponseWriter) {
			writeJSON(t, w, http.StatusInternalServerError, apiError("The server had an error"))
		}, 0},
		{"503 plain text", 1, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After-Ms", "1")
			http.Error(w, "upstream overloaded", http.StatusServiceUnavailable)
		}, time.Millisecond},
		{"connection dropped", 1, func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
				if n < tc.failures {
					tc.fail(w)
					return
				}
				embedOK(t, w, body)
			})
			var rec retries
			e := newEmbedder(t, srv, openai.Config{OnRetry: rec.record})
			v, err := e.Embed(context.Background(), "text 2")
			if err != nil {
				t.Fatalf("embed: %v", err)
			}
			if len(v) != 2 {
				t.Errorf("got a vector of %d, want 2", len(v))
			}
			if got := len(srv.requests()); got != tc.failures+1 {
				t.Errorf("requests = %d, want %d", got, tc.failures+1)
			}
			if len(rec.waits) != tc.failures {
				t.Fatalf("retries = %d, want %d", len(rec.waits), tc.failures)
			}
			for _, w := range rec.waits {
				if tc.wantWait != 0 && w != tc.wantWait {
					t.Errorf("wait = %s, want %s as the server asked", w, tc.wantWait)
				}
				if tc.wantWait == 0 && (w <= 0 || w > 8*time.Second) {
					t.Errorf("backoff wait = %s, want between 0 and 8s", w)
				}
			}
		})
	}
}

func TestEmbedErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      openai.Config
		handle   func(w http.ResponseWriter, r *http.Request)
		wantCode conversation.Code
		wantReqs int
		wantMsg  string
	}{
		{"401 not retried", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusUnauthorized, apiError("Incorrect API key provided: "+testKey+". You can find your API key at https://platform.openai.com."))
		}, conversation.Unauthorized, 1, "401 Unauthorized: Incorrect API key provided: [redacted]"},
		{"403 not retried", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusForbidden, map[string]any{"error": "model not allowed"})
		}, conversation.Unauthorized, 1, "model not allowed"},
		{"400 not retried", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusBadRequest, apiError("This model's maximum context length is 8192 tokens"))
		}, conversation.Invalid, 1, "maximum context length is 8192 tokens"},
		{"404 unknown model", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusNotFound, map[string]any{"object": "error", "message": "The model `x` does not exist."})
		}, conversation.Invalid, 1, "The model `x` does not exist."},
		{"503 until retries run out", openai.Config{MaxRetries: 2}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After-Ms", "1")
			writeJSON(t, w, http.StatusServiceUnavailable, apiError("overloaded"))
		}, conversation.Unavailable, 3, "503 Service Unavailable: overloaded"},
		{"Retry-After beyond the longest wait", openai.Config{MaxRetryWait: time.Second}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			writeJSON(t, w, http.StatusTooManyRequests, apiError("quota"))
		}, conversation.Unavailable, 1, "asks to wait 2m0s"},
		{"timeout", openai.Config{Timeout: 50 * time.Millisecond, MaxRetries: -1}, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, conversation.Unavailable, 1, "no response within 50ms"},
		{"oversized body", openai.Config{MaxResponseBytes: 1024}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusOK, map[string]any{"data": []datum{{Embedding: make([]float64, 1000)}}})
		}, conversation.Unavailable, 1, "larger than 1024 bytes"},
		{"malformed body", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"data": [{"index": 0, "embedding": [0.1, `))
		}, conversation.Unavailable, 1, "malformed response"},
		{"count mismatch", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusOK, map[string]any{"data": []datum{}})
		}, conversation.Unavailable, 1, "0 embeddings for 1 inputs"},
		{"index out of range", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusOK, map[string]any{"data": []datum{{Index: 3, Embedding: []float64{1}}}})
		}, conversation.Unavailable, 1, "without a valid index"},
		{"zero vector", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusOK, map[string]any{"data": []datum{{Embedding: []float64{0, 0}}}})
		}, conversation.Unavailable, 1, "zero or not finite"},
		{"wrong dimensions", openai.Config{Dimensions: 3}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusOK, map[string]any{"data": []datum{{Embedding: []float64{1, 2}}}})
		}, conversation.Unavailable, 1, "2 dimensions, want 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { tc.handle(w, r) })
			_, err := newEmbedder(t, srv, tc.cfg).Embed(context.Background(), "text 1")
			if err == nil {
				t.Fatal("embed: got no error")
			}
			if got := conversation.ErrorCode(err); got != tc.wantCode {
				t.Errorf("code = %s, want %s (%v)", got, tc.wantCode, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q quotes the API key", err)
			}
			if got := len(srv.requests()); got != tc.wantReqs {
				t.Errorf("requests = %d, want %d", got, tc.wantReqs)
			}
		})
	}
}

func TestEmbedInputChecks(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { embedOK(t, w, body) })
	e := newEmbedder(t, srv, openai.Config{})
	if _, err := e.EmbedBatch(context.Background(), []string{"text 1", "  \n"}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("blank input: err = %v, want Invalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, "text 1"); !errors.Is(err, context.Canceled) || conversation.ErrorCode(err) != conversation.Unavailable {
		t.Errorf("cancelled context: err = %v, want Unavailable wrapping context.Canceled", err)
	}
	long := "text 1 " + strings.Repeat("é", openai.MaxInputBytes)
	if _, err := e.Embed(context.Background(), long); err != nil {
		t.Fatalf("long input: %v", err)
	}
	reqs := srv.requests()
	var body embedRequest
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &body); err != nil {
		t.Fatal(err)
	}
	if got := len(body.Input[0]); got > openai.MaxInputBytes || !strings.HasSuffix(body.Input[0], "é") {
		t.Errorf("long input sent as %d bytes ending %q, want at most %d ending in a whole character", got, body.Input[0][len(body.Input[0])-2:], openai.MaxInputBytes)
	}
	if got := len(reqs); got != 1 {
		t.Errorf("requests = %d, want 1 (none for blank or cancelled)", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := openai.Config{BaseURL: "https://api.openai.com/v1", Model: "m"}
	for _, tc := range []struct {
		name string
		edit func(c *openai.Config)
		want string // "" for valid
	}{
		{"minimal", func(c *openai.Config) {}, ""},
		{"all set", func(c *openai.Config) {
			c.APIKey, c.Timeout, c.MaxRetries, c.BatchSize, c.Dimensions = "k", time.Second, -1, 2048, 256
			c.Headers, c.AzureAPIVersion = map[string]string{"api-key": "x"}, "2024-10-21"
		}, ""},
		{"no base url", func(c *openai.Config) { c.BaseURL = "" }, "base url is empty"},
		{"ftp", func(c *openai.Config) { c.BaseURL = "ftp://host/v1" }, "want an http or https url"},
		{"credentials in url", func(c *openai.Config) { c.BaseURL = "https://u:p@host/v1" }, "must not hold credentials"},
		{"query", func(c *openai.Config) { c.BaseURL = "https://host/v1?api-version=1" }, "must not have a query"},
		{"no model", func(c *openai.Config) { c.Model = " " }, "model is empty"},
		{"key with newline", func(c *openai.Config) { c.APIKey = "k\nX-Evil: 1" }, "control characters"},
		{"batch too big", func(c *openai.Config) { c.BatchSize = 5000 }, "batch size 5000"},
		{"negative timeout", func(c *openai.Config) { c.Timeout = -time.Second }, "negative"},
		{"too many retries", func(c *openai.Config) { c.MaxRetries = 11 }, "max retries 11"},
		{"dimensions", func(c *openai.Config) { c.Dimensions = -1 }, "dimensions -1"},
		{"bad header name", func(c *openai.Config) { c.Headers = map[string]string{"Bad Header": "v"} }, `header "Bad Header"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error saying %q", err, tc.want)
			case tc.want != "" && conversation.ErrorCode(err) != conversation.Invalid:
				t.Errorf("code = %s, want invalid", conversation.ErrorCode(err))
			}
		})
	}
}

// TestEmbedderIndex builds and searches a knowledge index through the
// wire: the server embeds with the built-in embedder.
func TestEmbedderIndex(t *testing.T) {
	hash := knowledge.NewHashEmbedder()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		var req embedRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		data := make([]datum, len(req.Input))
		for i, in := range req.Input {
			v, err := hash.Embed(r.Context(), in)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			data[i] = datum{Index: i, Embedding: make([]float64, len(v))}
			for j, x := range v {
				data[i].Embedding[j] = float64(x)
			}
		}
		writeJSON(t, w, http.StatusOK, map[string]any{"data": data})
	})
	docs := t.TempDir()
	writeDoc(t, docs, "vpn.md", "# VPN\n\n## VPN disconnects\n\nWhen the VPN drops every hour, update the VPN client and switch the protocol to IKEv2 in its settings.\n")
	writeDoc(t, docs, "printer.md", "# Printers\n\n## Add a printer\n\nOpen the print portal, pick your floor and click Add printer. The driver installs itself.\n")
	ix, err := knowledge.Open(t.TempDir(), newEmbedder(t, srv, openai.Config{Model: "hash-over-http"}))
	if err != nil {
		t.Fatalf("open index: %v", err)
	}
	if _, err := ix.Ingest(context.Background(), docs, nil); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ans, err := knowledge.NewAnswerer(ix, knowledge.AnswerConfig{}).Answer(context.Background(), conversation.Query{Text: "my VPN keeps disconnecting"})
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	if len(ans.Citations) == 0 || ans.Citations[0].Source != "vpn.md" {
		t.Errorf("citations = %+v, want vpn.md first", ans.Citations)
	}
}
