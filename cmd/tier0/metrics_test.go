package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServeMetrics(t *testing.T) {
	m, _ := startMain(t, t.TempDir(), nil)
	v := newVisitor(t, m)
	askPassword(t, m, v, v.events(t), "q-1")

	// The engine records a turn's events before its reply is delivered,
	// so the answer seen above is already counted.
	body := getMetrics(t, m)
	for _, want := range []string{
		`tier0_messages_total{channel="webchat"} 1`,
		`tier0_answers_total{outcome="answered"} 1`,
		`tier0_answer_score_count 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("GET /metrics lacks the line %q; got:\n%s", want, body)
		}
	}
	// Nothing that identifies a visitor becomes a label.
	if strings.Contains(body, v.Session) || strings.Contains(body, passwordQ) {
		t.Errorf("GET /metrics shows the session id or the question; got:\n%s", body)
	}
}

// getMetrics returns the text exposition of GET /metrics.
func getMetrics(tb testing.TB, m *Main) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(m)+"/metrics", nil)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		tb.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		tb.Fatalf("GET /metrics: status %d, content type %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(raw)
}
