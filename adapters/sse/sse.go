// Package sse writes server-sent event streams (text/event-stream), the
// live channel of the browser-facing adapters: the web chat's replies and
// the agent console's queue updates.
package sse

import (
	"bufio"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Writer is an open event stream. Events are buffered until Flush.
type Writer struct {
	bw   *bufio.Writer
	rc   *http.ResponseController
	log  *slog.Logger
	what string
}

// Start answers r with the headers of an event stream, lifts the
// server's write deadline (it must not cut a long-lived stream), asks the
// client to reconnect after retry, and flushes. It returns nil when there
// is nothing more to write: a HEAD request, or a client already gone.
// what names the stream in the log line about a ResponseWriter that
// cannot flush.
func Start(w http.ResponseWriter, r *http.Request, retry time.Duration, log *slog.Logger, what string) *Writer {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	s := &Writer{bw: bufio.NewWriter(w), rc: http.NewResponseController(w), log: log, what: what}
	_ = s.rc.SetWriteDeadline(time.Time{})
	s.bw.WriteString("retry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\n: connected\n\n")
	if !s.Flush() {
		return nil
	}
	return s
}

// Event buffers one event: its id (left out when empty; characters that
// would end the field are removed), its name and data, which must be one
// line (JSON is).
func (s *Writer) Event(id, name string, data []byte) {
	if id = field(id); id != "" {
		s.bw.WriteString("id: " + id + "\n")
	}
	s.bw.WriteString("event: " + field(name) + "\ndata: ")
	s.bw.Write(data)
	s.bw.WriteString("\n\n")
}

// Ping buffers a comment line, which keeps proxies from closing an idle
// stream.
func (s *Writer) Ping() { s.bw.WriteString(": ping\n\n") }

// Flush sends what is buffered. It reports false when the client is
// gone (or the ResponseWriter cannot flush, which is logged).
func (s *Writer) Flush() bool {
	if s.bw.Flush() != nil {
		return false
	}
	err := s.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		s.log.Error(s.what+" needs a ResponseWriter that flushes", "err", err)
	}
	return err == nil
}

// field removes the characters that would end an SSE field.
func field(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return -1
		}
		return r
	}, s)
}
