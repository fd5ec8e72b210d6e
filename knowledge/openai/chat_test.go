package openai_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge/openai"
)

// newChat returns a ChatClient for srv with cfg's other settings.
func newChat(tb testing.TB, srv *server, cfg openai.Config) *openai.ChatClient {
	tb.Helper()
	cfg.BaseURL, cfg.APIKey = srv.URL+"/v1", testKey
	if cfg.Model == "" {
		cfg.Model = "gpt-4o-mini"
	}
	c, err := openai.NewChatClient(cfg)
	if err != nil {
		tb.Fatalf("new chat client: %v", err)
	}
	return c
}

// completion is a non-streamed chat reply in OpenAI's format.
func completion(content string) map[string]any {
	return map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
		"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
	}
}

// writeEvents streams lines as a server-sent event response.
func writeEvents(w http.ResponseWriter, lines ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, l := range lines {
		fmt.Fprint(w, l+"\n")
		w.(http.Flusher).Flush()
	}
}

// chunk is one streamed event with a content delta (and a finish reason
// when finish is set).
func chunk(content, finish string) string {
	ch := map[string]any{"index": 0, "delta": map[string]any{"content": content}, "finish_reason": nil}
	if finish != "" {
		ch["finish_reason"] = finish
	}
	b, _ := json.Marshal(map[string]any{"object": "chat.completion.chunk", "model": "m", "choices": []any{ch}})
	return "data: " + string(b) + "\n"
}

func chatRequest() openai.ChatRequest {
	temp := 0.0
	return openai.ChatRequest{
		Messages: []openai.Message{
			{Role: openai.RoleSystem, Content: "Answer briefly."},
			{Role: openai.RoleUser, Content: "How do I reset my password?"},
		},
		Temperature: &temp,
		MaxTokens:   200,
	}
}

func TestChatComplete(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(t, w, http.StatusOK, completion("Use the self-service portal [1]."))
	})
	resp, err := newChat(t, srv, openai.Config{}).Complete(context.Background(), chatRequest())
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if resp.Content != "Use the self-service portal [1]." || resp.FinishReason != "stop" || resp.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("response = %+v, want the server's content, finish reason and model", resp)
	}
	r := srv.requests()[0]
	if r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+testKey {
		t.Errorf("request to %q with Authorization %q, want /v1/chat/completions with the bearer key", r.Path, r.Header.Get("Authorization"))
	}
	checkGolden(t, "chat_request.json", r.Body)
}

func TestChatStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter, n int)
		want   []string // deltas
		reqs   int
	}{
		{"events", func(w http.ResponseWriter, n int) {
			writeEvents(w,
				`data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n",
				": keep-alive\n",
				chunk("Use the ", ""), chunk("portal", ""), "event: message\n"+chunk(" [1].", ""), chunk("", "stop"),
				"data: [DONE]\n")
		}, []string{"Use the ", "portal", " [1]."}, 1},
		{"500 before the stream is retried", func(w http.ResponseWriter, n int) {
			if n == 0 {
				w.Header().Set("Retry-After-Ms", "1")
				writeJSON(t, w, http.StatusInternalServerError, apiError("boom"))
				return
			}
			writeEvents(w, chunk("Use the portal [1].", "stop"), "data: [DONE]\n")
		}, []string{"Use the portal [1]."}, 2},
		{"cut before the first delta is retried", func(w http.ResponseWriter, n int) {
			if n == 0 {
				writeEvents(w, `data: {"choices":[{"delta":{"role":"assistant"}}]}`+"\n")
				return
			}
			writeEvents(w, chunk("Use the portal [1].", "stop"), "data: [DONE]\n")
		}, []string{"Use the portal [1]."}, 2},
		{"whole JSON reply instead of a stream", func(w http.ResponseWriter, n int) {
			writeJSON(t, w, http.StatusOK, completion("Use the portal [1]."))
		}, []string{"Use the portal [1]."}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { tc.handle(w, n) })
			var deltas []string
			resp, err := newChat(t, srv, openai.Config{}).Stream(context.Background(), chatRequest(), func(d string) { deltas = append(deltas, d) })
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if fmt.Sprintf("%q", deltas) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("deltas = %q, want %q", deltas, tc.want)
			}
			if want := strings.Join(tc.want, ""); resp.Content != want {
				t.Errorf("content = %q, want %q", resp.Content, want)
			}
			reqs := srv.requests()
			if len(reqs) != tc.reqs {
				t.Errorf("requests = %d, want %d", len(reqs), tc.reqs)
			}
			var body map[string]any
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body["stream"] != true {
				t.Errorf("request body %s: want \"stream\": true", reqs[0].Body)
			}
		})
	}
}

func TestChatStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      openai.Config
		handle   func(w http.ResponseWriter, r *http.Request)
		wantCode conversation.Code
		wantMsg  string
		deltas   int
		reqs     int
	}{
		{"cut after a delta is not retried", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, chunk("Use the", ""))
		}, conversation.Unavailable, "stream ended before [DONE]", 1, 1},
		{"error event", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, chunk("Use", ""), `data: {"error":{"message":"model overloaded"}}`+"\n")
		}, conversation.Unavailable, "model overloaded", 1, 1},
		{"malformed event", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, "data: {not json\n")
		}, conversation.Unavailable, "malformed stream event", 0, 1},
		{"oversized stream", openai.Config{MaxResponseBytes: 200}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, chunk(strings.Repeat("x", 300), ""))
		}, conversation.Unavailable, "larger than 200 bytes", 0, 1},
		{"silent between events", openai.Config{Timeout: 50 * time.Millisecond, MaxRetries: -1}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, chunk("Use", ""))
			<-r.Context().Done()
		}, conversation.Unavailable, "no response within 50ms", 1, 1},
		{"401", openai.Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, http.StatusUnauthorized, apiError("invalid key"))
		}, conversation.Unauthorized, "invalid key", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { tc.handle(w, r) })
			deltas := 0
			_, err := newChat(t, srv, tc.cfg).Stream(context.Background(), chatRequest(), func(string) { deltas++ })
			if got := conversation.ErrorCode(err); got != tc.wantCode || !strings.Contains(fmt.Sprint(err), tc.wantMsg) {
				t.Errorf("err = %v (%s), want %s saying %q", err, got, tc.wantCode, tc.wantMsg)
			}
			if deltas != tc.deltas {
				t.Errorf("deltas = %d, want %d", deltas, tc.deltas)
			}
			if got := len(srv.requests()); got != tc.reqs {
				t.Errorf("requests = %d, want %d", got, tc.reqs)
			}
		})
	}
}

func TestChatRequestChecks(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		writeJSON(t, w, http.StatusOK, completion("ok"))
	})
	c := newChat(t, srv, openai.Config{})
	for _, tc := range []struct {
		name string
		req  openai.ChatRequest
	}{
		{"no messages", openai.ChatRequest{}},
		{"unknown role", openai.ChatRequest{Messages: []openai.Message{{Role: "tool", Content: "x"}}}},
		{"too long", openai.ChatRequest{Messages: []openai.Message{{Role: openai.RoleUser, Content: strings.Repeat("x", openai.MaxRequestBytes+1)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Complete(context.Background(), tc.req); conversation.ErrorCode(err) != conversation.Invalid {
				t.Errorf("err = %v, want Invalid", err)
			}
		})
	}
	if got := len(srv.requests()); got != 0 {
		t.Errorf("requests = %d, want none for invalid requests", got)
	}
}
