package openai_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testKey is the API key of the tests; no error may quote it.
const testKey = "sk-test-0123456789abcdef"

// request is one request a test server received.
type request struct {
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// server is a local OpenAI-compatible endpoint: it records every request
// and answers with handle, which gets the 0-based number of the request.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newServer(tb testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *server {
	tb.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		handle(w, r, n, body)
	}))
	tb.Cleanup(s.Close)
	return s
}

// requests returns what the server received so far.
func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// writeJSON answers with status and v as JSON.
func writeJSON(tb testing.TB, w http.ResponseWriter, status int, v any) {
	tb.Helper()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		tb.Errorf("write response: %v", err)
	}
}

// apiError is an error body in OpenAI's format.
func apiError(msg string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "code": nil}}
}

// checkGolden compares a JSON request body, indented, with
// testdata/name; -update rewrites the file.
func checkGolden(tb testing.TB, name string, body []byte) {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		tb.Fatalf("request body is not JSON: %v\n%s", err, body)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got := buf.String(); got != string(want) {
		tb.Errorf("request body differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// writeDoc writes a markdown document into dir.
func writeDoc(tb testing.TB, dir, name, content string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
