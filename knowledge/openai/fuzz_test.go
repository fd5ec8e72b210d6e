package openai_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge/openai"
)

// providerAnswer is what the fuzzed provider answers every request with.
type providerAnswer struct {
	mu     sync.Mutex
	status int
	ct     string
	body   []byte
}

func (p *providerAnswer) set(status int, ct string, body []byte) {
	p.mu.Lock()
	p.status, p.ct, p.body = status, ct, body
	p.mu.Unlock()
}

// fuzzProvider serves the fuzzed answer on every path.
func fuzzProvider(f *testing.F) (*httptest.Server, *providerAnswer) {
	f.Helper()
	p := &providerAnswer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		status, ct, body := p.status, p.ct, p.body
		p.mu.Unlock()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	f.Cleanup(srv.Close)
	return srv, p
}

// fuzzConfig talks to srv without retries (a retry would only wait).
func fuzzConfig(srv *httptest.Server) openai.Config {
	return openai.Config{BaseURL: srv.URL + "/v1", APIKey: testKey, Model: "gpt-4o-mini", MaxRetries: -1,
		Timeout: 10 * time.Second, MaxResponseBytes: 1 << 20, HTTPClient: srv.Client()}
}

// wantCoded fails t unless err carries one of the conversation codes a
// caller acts on.
func wantCoded(t *testing.T, err error, what string) {
	t.Helper()
	switch conversation.ErrorCode(err) {
	case conversation.Invalid, conversation.Unauthorized, conversation.Unavailable, conversation.NotFound, conversation.Conflict:
	default:
		t.Fatalf("%s: error %v has code %q, want a conversation code", what, err, conversation.ErrorCode(err))
	}
}

// FuzzChatAnswer answers chat completions, plain and streamed, with
// arbitrary statuses and bodies: the client returns an error with a
// conversation code, or a reply of valid UTF-8 with at most MaxToolCalls
// tool calls; streamed deltas add up to the reply.
func FuzzChatAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		stream bool
		body   string
	}{
		{200, false, `{"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Öffnen Sie das Portal [1]."},"finish_reason":"stop"}]}`},
		{200, false, `{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"order_status","arguments":"{\"order\":\"10042\"}"}}]},"finish_reason":"tool_calls"}]}`},
		{200, false, `{"choices":[]}`},
		{200, true, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Use \"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"the portal [1].\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"},
		{200, true, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n"},
		{200, true, ": keep-alive\n\nevent: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n"},
		{400, false, `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error"}}`},
		{401, false, `{"error":"invalid api key sk-test"}`},
		{429, false, `{"error":{"message":"Rate limit reached"}}`},
		{503, false, `<html>upstream connect error</html>`},
	} {
		f.Add(s.status, s.stream, []byte(s.body))
	}
	srv, answer := fuzzProvider(f)
	c, err := openai.NewChatClient(fuzzConfig(srv))
	if err != nil {
		f.Fatal(err)
	}
	req := openai.ChatRequest{Messages: []openai.Message{{Role: "user", Content: "Wie setze ich mein Passwort zurück?"}}}
	f.Fuzz(func(t *testing.T, status int, stream bool, body []byte) {
		if status < 200 || status > 599 || status == http.StatusSwitchingProtocols || len(body) > 64<<10 {
			return
		}
		ct := "application/json"
		if stream {
			ct = "text/event-stream"
		}
		answer.set(status, ct, body)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var (
			res    openai.ChatResponse
			err    error
			deltas strings.Builder
		)
		if stream {
			res, err = c.Stream(ctx, req, func(d string) { deltas.WriteString(d) })
		} else {
			res, err = c.Complete(ctx, req)
		}
		if err != nil {
			wantCoded(t, err, "chat")
			return
		}
		if !utf8.ValidString(res.Content) || len(res.ToolCalls) > openai.MaxToolCalls {
			t.Fatalf("reply %+v: want valid UTF-8 and at most %d tool calls", res, openai.MaxToolCalls)
		}
		if stream && deltas.String() != res.Content {
			t.Fatalf("streamed deltas %q, reply %q: want the same text", deltas.String(), res.Content)
		}
	})
}

// FuzzEmbeddings answers /embeddings with arbitrary statuses and bodies:
// the client returns an error with a conversation code, or exactly one
// vector per text, all of the configured length.
func FuzzEmbeddings(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]},{"object":"embedding","index":1,"embedding":[0.3,0.2,0.1]}],"model":"text-embedding-3-small"}`},
		{200, `{"data":[{"index":1,"embedding":[1,2,3]},{"index":0,"embedding":[3,2,1]}]}`},
		{200, `{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[1,2,3]}]}`},
		{200, `{"data":[{"index":5,"embedding":[1,2,3]}]}`},
		{200, `{"data":[{"index":0,"embedding":"AAAA"}]}`},
		{200, `{"data":[{"index":0,"embedding":[1e999,0,0]},{"index":1,"embedding":[0,0,0]}]}`},
		{429, `{"error":{"message":"Rate limit"}}`},
		{500, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	srv, answer := fuzzProvider(f)
	cfg := fuzzConfig(srv)
	cfg.Model, cfg.Dimensions = "text-embedding-3-small", 3
	e, err := openai.NewEmbedder(cfg)
	if err != nil {
		f.Fatal(err)
	}
	texts := []string{"Passwort zurücksetzen", "reset my password"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 200 || status > 599 || status == http.StatusSwitchingProtocols || len(body) > 64<<10 {
			return
		}
		answer.set(status, "application/json", body)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		vecs, err := e.EmbedBatch(ctx, texts)
		if err != nil {
			wantCoded(t, err, "embeddings")
			return
		}
		if len(vecs) != len(texts) {
			t.Fatalf("%d vectors for %d texts from %q", len(vecs), len(texts), body)
		}
		for i, v := range vecs {
			if len(v) != cfg.Dimensions {
				t.Fatalf("vector %d has %d dimensions, want %d (body %q)", i, len(v), cfg.Dimensions, body)
			}
		}
	})
}
