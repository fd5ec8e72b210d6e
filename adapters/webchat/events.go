package webchat

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sseRetry is the reconnect delay the stream asks EventSource to use.
const sseRetry = 3 * time.Second

// streamEvents serves GET /api/webchat/sessions/{id}/events: one "message"
// event per outbound message (id: the outbound id, data: its JSON), comment
// heartbeats while idle. The stream ends when the token expires, when the
// hub drops the subscriber (it fell behind) or when the client leaves; the
// widget then reconnects and reloads the history.
func (a *Adapter) streamEvents(w http.ResponseWriter, r *http.Request, id string) error {
	s, err := a.authorize(r, id, true)
	if err != nil {
		return err
	}
	select {
	case <-a.closing:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "shutting_down", Msg: msgBusy, RetryAfter: sseRetry}
	default:
	}
	rc := http.NewResponseController(w)
	// Subscribe before the headers go out: once the client sees the stream
	// open, nothing published afterwards is missed.
	ch, cancel := a.hub.Subscribe(s.key())
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.SetWriteDeadline(time.Time{}) // the server's WriteTimeout must not cut the stream

	bw := bufio.NewWriter(w)
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		err := rc.Flush()
		if errors.Is(err, http.ErrNotSupported) {
			a.log.Error("webchat event stream needs a ResponseWriter that flushes", "err", err)
		}
		return err == nil
	}
	bw.WriteString("retry: " + strconv.FormatInt(sseRetry.Milliseconds(), 10) + "\n: connected\n\n")
	if !flush() {
		return nil
	}

	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	expired := time.NewTimer(s.Expires.Sub(a.cfg.Now()))
	defer expired.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-a.closing:
			return nil
		case <-expired.C:
			return nil
		case <-heartbeat.C:
			bw.WriteString(": ping\n\n")
		case o, ok := <-ch:
			if !ok {
				a.log.Debug("webchat stream dropped by hub", "conversation", s.key())
				return nil
			}
			data, err := json.Marshal(wireOutbound(o))
			if err != nil {
				a.log.Error("encode webchat event", "conversation", s.key(), "outbound", o.ID, "err", err)
				continue
			}
			if id := sseField(o.ID); id != "" {
				bw.WriteString("id: " + id + "\n")
			}
			bw.WriteString("event: message\ndata: ")
			bw.Write(data)
			bw.WriteString("\n\n")
		}
		if !flush() {
			return nil
		}
	}
}

// sseField removes the characters that would end an SSE field.
func sseField(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return -1
		}
		return r
	}, s)
}
