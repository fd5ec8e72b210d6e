package sse_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/sse"
)

func TestStream(t *testing.T) {
	rec := httptest.NewRecorder()
	s := sse.Start(rec, httptest.NewRequest(http.MethodGet, "/events", nil), 3*time.Second, slog.New(slog.DiscardHandler), "test stream")
	if s == nil {
		t.Fatal("Start returned nil for a GET")
	}
	s.Event("o_1\nevent: forged", "message", []byte(`{"text":"hi"}`))
	s.Ping()
	s.Event("", "logout", []byte(`{}`))
	if !s.Flush() {
		t.Fatal("Flush reported the client gone")
	}
	want := "retry: 3000\n: connected\n\n" +
		"id: o_1event: forged\nevent: message\ndata: {\"text\":\"hi\"}\n\n" +
		": ping\n\n" +
		"event: logout\ndata: {}\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("stream body:\n got %q\nwant %q", got, want)
	}
	for k, v := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestStreamHead(t *testing.T) {
	rec := httptest.NewRecorder()
	if s := sse.Start(rec, httptest.NewRequest(http.MethodHead, "/events", nil), time.Second, slog.New(slog.DiscardHandler), "test stream"); s != nil {
		t.Fatal("Start returned a writer for HEAD, want nil")
	}
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Errorf("HEAD: status %d, body %q, content type %q; want 200, no body, the stream's type", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}
