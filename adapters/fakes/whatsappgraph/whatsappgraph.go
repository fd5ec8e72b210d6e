// Package whatsappgraph is a local stand-in for the Meta Graph API of the
// WhatsApp Business Platform Cloud API, for tests and offline demos of
// adapters/whatsappcloud. It speaks the real wire protocol:
//
//	POST /{version}/{phone-number-id}/messages   send text / interactive button / list
//	                                             messages, or mark a message read
//	                                             ("status":"read", optional typing_indicator)
//	GET  /{version}/{media-id}                   media info {"url","mime_type","sha256","file_size","id"}
//	GET  /media/{media-id}                       the media's bytes (the "url" above)
//
// Every call needs "Authorization: Bearer <AccessToken>" (else 401 with
// Graph's error JSON, code 190). Message bodies are checked the way Graph
// checks them (unknown fields, lengths of bodies, titles, ids, the number
// of buttons and rows) and rejected with HTTP 400, code 100. Answers and
// errors have Graph's shapes:
//
//	{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id":"wamid.…"}]}
//	{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}
//
// Errors can be injected for the next N sends ([Server.FailNext]), e.g.
// [FaultThroughput] (130429), [FaultReengagement] (131047). Sent messages
// are recorded for assertions ([Server.Sent], [Server.WaitSent]).
//
// [Webhook] builds notification payloads (text, button and list replies,
// quick replies, media, location, contacts, statuses) and posts them to a
// webhook signed with X-Hub-Signature-256 exactly like Meta does.
package whatsappgraph

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures the fake.
type Config struct {
	// AccessToken is the bearer token every call must carry.
	AccessToken string
	// PhoneNumberID is the business number's id; sends to other ids fail
	// with code 100 like Graph's "Unsupported post request".
	PhoneNumberID string
}

// Fault is an error answer to inject.
type Fault struct {
	Status     int // HTTP status, e.g. 429 or 400
	Code       int // Graph error code, e.g. 130429
	Subcode    int
	Message    string
	Details    string
	RetryAfter time.Duration // sent as a Retry-After header when positive
}

// Faults Graph answers with, ready to inject.
var (
	// FaultThroughput: the business number's throughput was exceeded.
	FaultThroughput = Fault{Status: http.StatusTooManyRequests, Code: 130429, Message: "(#130429) Rate limit hit",
		Details: "Cloud API message throughput has been reached."}
	// FaultPairRateLimit: too many messages to one user in a short time.
	FaultPairRateLimit = Fault{Status: http.StatusBadRequest, Code: 131056, Message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
		Details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."}
	// FaultReengagement: the 24-hour customer service window is closed.
	FaultReengagement = Fault{Status: http.StatusBadRequest, Code: 131047, Message: "(#131047) Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	// FaultTokenExpired: the access token expired.
	FaultTokenExpired = Fault{Status: http.StatusUnauthorized, Code: 190, Subcode: 463,
		Message: "Error validating access token: Session has expired."}
	// FaultServerError: Graph had an internal problem.
	FaultServerError = Fault{Status: http.StatusInternalServerError, Code: 1, Message: "An unknown error occurred"}
)

// Choice is a reply button or a list row of a sent message.
type Choice struct {
	ID          string
	Title       string
	Description string
}

// Sent is one message the fake accepted.
type Sent struct {
	ID            string // the wamid returned
	PhoneNumberID string
	To            string
	Type          string // "text" or "interactive"
	// Interactive is "button" or "list" for interactive messages.
	Interactive string
	// Text is the text body, or the interactive body text.
	Text       string
	PreviewURL bool
	// ReplyTo is context.message_id: the message this one quotes.
	ReplyTo    string
	Choices    []Choice // reply buttons or list rows, in order
	ListButton string   // the label that opens a list
	Raw        []byte   // the request body as received
}

// Read is one "mark as read" call.
type Read struct {
	MessageID string
	Typing    bool // a typing indicator was asked for
}

type media struct {
	mimeType string
	data     []byte
}

// Server is the fake Graph API; it is an http.Handler. Serve it with
// httptest.NewServer in tests, or with http.Server for a demo. It is safe
// for concurrent use.
type Server struct {
	cfg Config

	mu       sync.Mutex
	sent     []Sent
	reads    []Read
	faults   []Fault
	attempts int
	media    map[string]media
	seq      int
	changed  chan struct{} // closed and replaced whenever something is recorded
}

// New returns a fake for cfg.
func New(cfg Config) *Server {
	return &Server{cfg: cfg, media: make(map[string]media), changed: make(chan struct{})}
}

// FailNext makes the next n message sends (not read receipts) fail with
// f, after the token check.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// AddMedia makes a media object available under id.
func (s *Server) AddMedia(id, mimeType string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[id] = media{mimeType: mimeType, data: bytes.Clone(data)}
}

// Sent returns the messages accepted so far, oldest first.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Reads returns the "mark as read" calls so far, oldest first.
func (s *Server) Reads() []Read {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Read(nil), s.reads...)
}

// Attempts returns how many message sends were tried, accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// WaitSent waits until at least n messages were accepted and returns
// them. Errors: ctx's error.
func (s *Server) WaitSent(ctx context.Context, n int) ([]Sent, error) {
	return wait(ctx, s, func() []Sent {
		if len(s.sent) >= n {
			return append([]Sent(nil), s.sent...)
		}
		return nil
	})
}

// WaitReads waits until at least n read receipts arrived and returns them.
// Errors: ctx's error.
func (s *Server) WaitReads(ctx context.Context, n int) ([]Read, error) {
	return wait(ctx, s, func() []Read {
		if len(s.reads) >= n {
			return append([]Read(nil), s.reads...)
		}
		return nil
	})
}

func wait[T any](ctx context.Context, s *Server, ready func() []T) ([]T, error) {
	for {
		s.mu.Lock()
		got, ch := ready(), s.changed
		s.mu.Unlock()
		if got != nil {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// notify wakes waiters; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var versionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// ServeHTTP routes Graph API calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, Fault{Status: http.StatusUnauthorized, Code: 190, Subcode: 463,
			Message: "Error validating access token: the token is missing, malformed or expired."})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "media" && r.Method == http.MethodGet:
		s.download(w, parts[1])
	case len(parts) == 3 && versionRE.MatchString(parts[0]) && parts[2] == "messages" && r.Method == http.MethodPost:
		s.messages(w, r, parts[1])
	case len(parts) == 2 && versionRE.MatchString(parts[0]) && r.Method == http.MethodGet:
		s.mediaInfo(w, r, parts[1])
	default:
		writeError(w, Fault{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
			Message: fmt.Sprintf("Unsupported %s request. Object with path '%s' does not exist or does not support this operation.", strings.ToLower(r.Method), r.URL.Path)})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || s.cfg.AccessToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(s.cfg.AccessToken))
	return a == b
}

// sendRequest is the body of POST /{phone-number-id}/messages.
type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Context          *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Interactive     *interactive `json:"interactive"`
	Status          string       `json:"status"`
	MessageID       string       `json:"message_id"`
	TypingIndicator *struct {
		Type string `json:"type"`
	} `json:"typing_indicator"`
}

type interactive struct {
	Type string `json:"type"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Action *struct {
		Buttons []struct {
			Type  string `json:"type"`
			Reply *struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Button   string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
	} `json:"action"`
}

const maxRequest = 1 << 20

func (s *Server) messages(w http.ResponseWriter, r *http.Request, phoneID string) {
	if phoneID != s.cfg.PhoneNumberID {
		writeError(w, Fault{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
			Message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", phoneID)})
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		writeError(w, invalid("the request body could not be read"))
		return
	}
	var req sendRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, invalid("the request body is not valid: "+err.Error()))
		return
	}
	if req.Status != "" {
		s.read(w, req)
		return
	}
	s.mu.Lock()
	s.attempts++
	var fault *Fault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	s.mu.Unlock()
	if fault != nil {
		writeError(w, *fault)
		return
	}
	sent, f := validate(req)
	if f != nil {
		writeError(w, *f)
		return
	}
	sent.PhoneNumberID, sent.Raw = phoneID, raw
	s.mu.Lock()
	s.seq++
	sent.ID = fmt.Sprintf("wamid.FAKE%010d", s.seq)
	s.sent = append(s.sent, sent)
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": strings.TrimPrefix(req.To, "+")}},
		"messages":          []map[string]string{{"id": sent.ID}},
	})
}

// read records a "mark as read" call.
func (s *Server) read(w http.ResponseWriter, req sendRequest) {
	switch {
	case req.MessagingProduct != "whatsapp":
		writeError(w, invalid("messaging_product must be whatsapp"))
		return
	case req.Status != "read":
		writeError(w, invalid("status must be read"))
		return
	case req.MessageID == "":
		writeError(w, invalid("message_id is required"))
		return
	case req.TypingIndicator != nil && req.TypingIndicator.Type != "text":
		writeError(w, invalid("typing_indicator.type must be text"))
		return
	case req.To != "" || req.Type != "" || req.Text != nil || req.Interactive != nil:
		writeError(w, invalid("a read receipt takes only messaging_product, status, message_id and typing_indicator"))
		return
	}
	s.mu.Lock()
	s.reads = append(s.reads, Read{MessageID: req.MessageID, Typing: req.TypingIndicator != nil})
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Server) mediaInfo(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	m, ok := s.media[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, Fault{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
			Message: fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id)})
		return
	}
	sum := sha256.Sum256(m.data)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"url":               scheme + "://" + r.Host + "/media/" + id,
		"mime_type":         m.mimeType,
		"sha256":            hex.EncodeToString(sum[:]),
		"file_size":         strconv.Itoa(len(m.data)),
		"id":                id,
	})
}

func (s *Server) download(w http.ResponseWriter, id string) {
	s.mu.Lock()
	m, ok := s.media[id]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", m.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	_, _ = w.Write(m.data)
}

func invalid(details string) Fault {
	return Fault{Status: http.StatusBadRequest, Code: 100, Message: "(#100) Invalid parameter", Details: details}
}

func writeError(w http.ResponseWriter, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+f.Message+`"`)
	}
	e := map[string]any{
		"message":    f.Message,
		"type":       "OAuthException",
		"code":       f.Code,
		"fbtrace_id": "AfakeTrace" + strconv.Itoa(f.Code),
	}
	if f.Subcode != 0 {
		e["error_subcode"] = f.Subcode
	}
	if f.Details != "" {
		e["error_data"] = map[string]string{"messaging_product": "whatsapp", "details": f.Details}
	}
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
