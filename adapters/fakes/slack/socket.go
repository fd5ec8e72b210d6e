package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketConn is one Socket Mode websocket. Writes are serialised by mu
// (gorilla/websocket allows one writer at a time).
type socketConn struct {
	serial int // 1 for the first connection, 2 for the next, …
	ws     *websocket.Conn
	mu     sync.Mutex
	done   chan struct{}
	once   sync.Once
}

func (c *socketConn) writeFrame(frame []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

func (c *socketConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.mu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
		c.mu.Unlock()
		_ = c.ws.Close()
	})
}

// serveSocket upgrades a request that carries a ticket from
// apps.connections.open (each ticket works once) and runs the connection.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[ticket] && !s.closed
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c := &socketConn{ws: ws, done: make(chan struct{})}
	if err := c.writeFrame(s.HelloFrame()); err != nil {
		c.close()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.hellos++
	c.serial = s.hellos
	s.notifyLocked()
	s.mu.Unlock()
	go s.ping(c)
	s.readAcks(c)
	c.close()
	s.mu.Lock()
	s.conns = slices.DeleteFunc(s.conns, func(x *socketConn) bool { return x == c })
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) ping(c *socketConn) {
	t := time.NewTicker(s.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.mu.Lock()
			err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second))
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// ack is what a Socket Mode client sends back for an envelope.
type ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

func (s *Server) readAcks(c *socketConn) {
	c.ws.SetReadLimit(64 << 10)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var a ack
		if json.Unmarshal(data, &a) != nil || a.EnvelopeID == "" {
			continue // Slack ignores what it cannot read
		}
		s.mu.Lock()
		s.acks = append(s.acks, a.EnvelopeID)
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// WaitSocket waits until a Socket Mode connection is open (its hello was
// sent). Errors: ctx's error.
func (s *Server) WaitSocket(ctx context.Context) error { return s.WaitHellos(ctx, 1) }

// WaitHellos waits until n Socket Mode connections were opened in all
// (reconnects count) and one is open; the newest is then the one
// SendEnvelope uses. Errors: ctx's error.
func (s *Server) WaitHellos(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ok, ch := s.hellos >= n && len(s.conns) > 0 && s.conns[len(s.conns)-1].serial >= n, s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slackfake: waiting for socket mode connection %d: %w", n, ctx.Err())
		case <-ch:
		}
	}
}

// Envelope types of Socket Mode.
const (
	EnvelopeEventsAPI   = "events_api"
	EnvelopeInteractive = "interactive"
	EnvelopeSlash       = "slash_commands"
)

// SendEnvelope sends payload (a JSON object: an Events API callback or an
// interaction payload) in an envelope of type typ over the newest Socket
// Mode connection and returns the envelope id to wait for with WaitAck.
// Errors: no connection is open, the write failed.
func (s *Server) SendEnvelope(typ string, payload []byte) (string, error) {
	id, frame, err := s.EnvelopeFrame(typ, payload)
	if err != nil {
		return "", err
	}
	return id, s.SendRawEnvelope(frame)
}

// EnvelopeFrame returns the websocket frame SendEnvelope would send for
// payload in an envelope of type typ, with a new envelope id. Errors:
// payload is not JSON.
func (s *Server) EnvelopeFrame(typ string, payload []byte) (id string, frame []byte, err error) {
	if !json.Valid(payload) {
		return "", nil, errors.New("slackfake: envelope payload is not JSON")
	}
	s.mu.Lock()
	s.envSeq++
	id = fmt.Sprintf("env-%04d-%s", s.envSeq, typ)
	s.mu.Unlock()
	frame, err = json.Marshal(map[string]any{
		"envelope_id":              id,
		"type":                     typ,
		"payload":                  json.RawMessage(payload),
		"accepts_response_payload": typ != EnvelopeEventsAPI,
		"retry_attempt":            0,
		"retry_reason":             "",
	})
	return id, frame, err
}

// HelloFrame is the frame a new Socket Mode connection starts with.
func (s *Server) HelloFrame() []byte {
	b, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": 1,
		"connection_info": map[string]any{"app_id": s.cfg.AppID},
		"debug_info":      map[string]any{"host": "slackfake", "approximate_connection_time": 3600},
	})
	return b
}

// DisconnectFrame is the frame of [Server.Disconnect].
func DisconnectFrame() []byte {
	return []byte(`{"type":"disconnect","reason":"refresh_requested"}`)
}

// SendRawEnvelope sends frame, as it is (any bytes, JSON or not), as one
// text message over the newest Socket Mode connection: for fuzzing the
// client's frame parsing. Errors: no connection is open, the write failed.
func (s *Server) SendRawEnvelope(frame []byte) error {
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return errors.New("slackfake: no socket mode connection")
	}
	c := s.conns[len(s.conns)-1]
	s.mu.Unlock()
	if err := c.writeFrame(frame); err != nil {
		return fmt.Errorf("slackfake: send envelope: %w", err)
	}
	return nil
}

// Disconnect asks every Socket Mode client to reconnect, as Slack does
// before it rotates a connection ({"type":"disconnect"}).
func (s *Server) Disconnect() {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.writeFrame(DisconnectFrame())
	}
}

// Acks returns the envelope ids acknowledged so far, in order.
func (s *Server) Acks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// WaitAck waits until envelope id was acknowledged. Errors: ctx's error.
func (s *Server) WaitAck(ctx context.Context, id string) error {
	for {
		s.mu.Lock()
		ok, ch := slices.Contains(s.acks, id), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slackfake: envelope %s not acknowledged: %w", id, ctx.Err())
		case <-ch:
		}
	}
}
