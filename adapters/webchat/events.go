package webchat

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tier0/tier0/adapters/sse"
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
	// Subscribe before the headers go out: once the client sees the stream
	// open, nothing published afterwards is missed.
	ch, cancel := a.hub.Subscribe(s.key())
	defer cancel()

	st := sse.Start(w, r, sseRetry, a.log, "webchat event stream")
	if st == nil {
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
			st.Ping()
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
			st.Event(o.ID, "message", data)
		}
		if !st.Flush() {
			return nil
		}
	}
}
