// Package fakebackend is a local stand-in for the sample back ends of
// tier0's actions: a shop API (order status, returns) and an IT API
// (account unlock, MFA reset). It honours and records the
// Idempotency-Key header, so tests, the benchmark and `tier0 fake
// shop-api` / `tier0 fake it-api` can count side effects: a repeated key
// replays the first answer and applies nothing.
package fakebackend

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Order is one order of the fake shop.
type Order struct {
	Number, Email, Status, Carrier, Tracking, Expected string
}

// Orders are the fake shop's sample orders.
var Orders = []Order{
	{"10042", "max@example.com", "shipped", "DHL", "https://tracking.example/dhl/00340434161094042", "2026-12-09"},
	{"10043", "erika@example.de", "processing", "", "", "2026-12-12"},
	{"10044", "max@example.com", "delivered", "Hermes", "https://tracking.example/hermes/H1004400", "2026-12-01"},
}

var statusText = map[string]map[string]string{
	"shipped":    {"en": "on its way", "de": "unterwegs"},
	"processing": {"en": "being packed", "de": "in Bearbeitung"},
	"delivered":  {"en": "delivered", "de": "zugestellt"},
}

// Server is the fake back end. Its zero value is not usable; call New.
type Server struct {
	kind    string
	token   string
	latency time.Duration
	mux     *http.ServeMux

	mu      sync.Mutex
	replies map[string][]byte // idempotency key → first answer
	posts   int
	effects int
	keys    map[string]int // idempotency key → POSTs carrying it
	locked  map[string]bool
}

// Config configures a fake.
type Config struct {
	// Token, when set, is the bearer token every request must carry (401
	// otherwise).
	Token string
	// Latency is added to every answer (for benchmarks).
	Latency time.Duration
}

// NewShop returns the fake shop API:
//
//	GET  /orders/{number}?email=…&lang=de|en   status, carrier, tracking link, expected delivery
//	POST /orders/{number}/returns {"email","reason"}   a return with its label link
//
// An unknown order and an e-mail that does not match it answer the same
// 404.
func NewShop(cfg Config) *Server {
	s := newServer("shop", cfg)
	s.mux.HandleFunc("GET /orders/{number}", s.orderStatus)
	s.mux.HandleFunc("POST /orders/{number}/returns", s.effect(s.startReturn))
	return s
}

// NewIT returns the fake IT API:
//
//	POST /accounts/unlock {"account"}     unlocks the account
//	POST /accounts/mfa/reset {"account"}  resets MFA, with an enrolment link
func NewIT(cfg Config) *Server {
	s := newServer("it", cfg)
	s.mux.HandleFunc("POST /accounts/unlock", s.effect(s.unlock))
	s.mux.HandleFunc("POST /accounts/mfa/reset", s.effect(s.resetMFA))
	return s
}

func newServer(kind string, cfg Config) *Server {
	s := &Server{kind: kind, token: cfg.Token, latency: cfg.Latency, mux: http.NewServeMux(),
		replies: map[string][]byte{}, keys: map[string]int{}, locked: map[string]bool{}}
	s.mux.HandleFunc("GET /_fake/stats", s.stats)
	return s
}

// ServeHTTP checks the token, waits the configured latency and serves.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	if s.token != "" && r.URL.Path != "/_fake/stats" && r.Header.Get("Authorization") != "Bearer "+s.token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s.mux.ServeHTTP(w, r)
}

// Stats are the fake's counts.
type Stats struct {
	// Posts counts side-effecting requests, Effects the effects applied
	// (a repeated idempotency key applies none), DuplicateKeys the keys
	// that came more than once.
	Posts, Effects, DuplicateKeys int
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Posts: s.posts, Effects: s.effects}
	for _, n := range s.keys {
		if n > 1 {
			st.DuplicateKeys++
		}
	}
	return st
}

// Keys returns how many requests carried each idempotency key.
func (s *Server) Keys() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.keys))
	for k, n := range s.keys {
		out[k] = n
	}
	return out
}

// Unlocked returns the accounts the IT fake unlocked, sorted.
func (s *Server) Unlocked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.locked))
	for a := range s.locked {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) orderStatus(w http.ResponseWriter, r *http.Request) {
	o, ok := findOrder(r.PathValue("number"), r.URL.Query().Get("email"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	lang := r.URL.Query().Get("lang")
	if lang != "de" {
		lang = "en"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"order": o.Number, "status": o.Status, "status_text": statusText[o.Status][lang],
		"shipment": map[string]string{"carrier": o.Carrier, "tracking_url": o.Tracking, "expected_delivery": o.Expected},
	})
}

func findOrder(number, email string) (Order, bool) {
	for _, o := range Orders {
		if o.Number == number && email != "" && strings.EqualFold(o.Email, email) {
			return o, true
		}
	}
	return Order{}, false
}

// effect wraps a side-effecting handler: a key seen before gets the
// first answer again and changes nothing.
func (s *Server) effect(h func(body map[string]string, r *http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		raw, err := io.ReadAll(r.Body)
		if err == nil && len(raw) > 0 {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object of strings"})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		s.mu.Lock()
		s.posts++
		if key != "" {
			s.keys[key]++
			if prev, ok := s.replies[key]; ok {
				s.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(http.StatusOK)
				w.Write(prev)
				return
			}
		}
		status, v := h(body, r)
		out, _ := json.Marshal(v)
		if status < 300 {
			s.effects++
			if key != "" {
				s.replies[key] = out
			}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(out)
	}
}

// startReturn runs with s.mu held.
func (s *Server) startReturn(body map[string]string, r *http.Request) (int, any) {
	o, ok := findOrder(r.PathValue("number"), body["email"])
	if !ok {
		return http.StatusNotFound, map[string]string{"error": "not found"}
	}
	id := fmt.Sprintf("R-%s-%d", o.Number, s.effects+1)
	return http.StatusCreated, map[string]string{"return_id": id, "label_url": "https://shop.example/returns/" + id + "/label.pdf"}
}

// unlock runs with s.mu held.
func (s *Server) unlock(body map[string]string, _ *http.Request) (int, any) {
	acct := body["account"]
	if acct == "" {
		return http.StatusBadRequest, map[string]string{"error": "account required"}
	}
	s.locked[acct] = false
	return http.StatusOK, map[string]string{"account": acct, "status": "unlocked"}
}

// resetMFA runs with s.mu held.
func (s *Server) resetMFA(body map[string]string, _ *http.Request) (int, any) {
	acct := body["account"]
	if acct == "" {
		return http.StatusBadRequest, map[string]string{"error": "account required"}
	}
	return http.StatusOK, map[string]string{"account": acct, "enrolment_url": fmt.Sprintf("https://it.example/mfa/enrol/%d", s.effects+1)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
