package whatsappgraph_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
)

const (
	token   = "EAAGfaketoken"
	phoneID = "106540352242922"
)

type graphError struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

func newServer(tb testing.TB) (*whatsappgraph.Server, *httptest.Server) {
	tb.Helper()
	s := whatsappgraph.New(whatsappgraph.Config{AccessToken: token, PhoneNumberID: phoneID})
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts
}

// call makes a Graph request and returns the status and raw answer.
func call(tb testing.TB, method, url, bearer, body string) (int, []byte, http.Header) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func decodeError(tb testing.TB, b []byte) graphError {
	tb.Helper()
	var e graphError
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == 0 || e.Error.Type == "" || e.Error.FBTraceID == "" {
		tb.Fatalf("answer %s is not a Graph error (%v)", b, err)
	}
	return e
}

func TestAuth(t *testing.T) {
	_, ts := newServer(t)
	for _, bearer := range []string{"", "EAAGwrong"} {
		status, b, _ := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", bearer,
			`{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"hi"}}`)
		if e := decodeError(t, b); status != 401 || e.Error.Code != 190 {
			t.Errorf("bearer %q: %d code %d, want 401 code 190", bearer, status, e.Error.Code)
		}
	}
}

func TestSendValidation(t *testing.T) {
	btn := func(id, title string) string {
		return `{"type":"reply","reply":{"id":"` + id + `","title":"` + title + `"}}`
	}
	rows := func(n int) string {
		var rs []string
		for i := range n {
			rs = append(rs, `{"id":"r`+string(rune('a'+i))+`","title":"Row"}`)
		}
		return strings.Join(rs, ",")
	}
	list := func(button, rowsJSON string) string {
		return `{"messaging_product":"whatsapp","to":"4915112345678","type":"interactive","interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"` +
			button + `","sections":[{"rows":[` + rowsJSON + `]}]}}}`
	}
	buttons := func(bs ...string) string {
		return `{"messaging_product":"whatsapp","to":"4915112345678","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[` +
			strings.Join(bs, ",") + `]}}}`
	}
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"text", `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678","type":"text","text":{"body":"hi https://x.example","preview_url":true},"context":{"message_id":"wamid.IN1"}}`, true},
		{"text without product", `{"to":"4915112345678","type":"text","text":{"body":"hi"}}`, false},
		{"empty text", `{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":" "}}`, false},
		{"text too long", `{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"` + strings.Repeat("a", 4097) + `"}}`, false},
		{"unknown field", `{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"hi","bold":true}}`, false},
		{"bad recipient", `{"messaging_product":"whatsapp","to":"kerry","type":"text","text":{"body":"hi"}}`, false},
		{"three buttons", buttons(btn("a", "One"), btn("b", "Two"), btn("c", "Three")), true},
		{"four buttons", buttons(btn("a", "One"), btn("b", "Two"), btn("c", "Three"), btn("d", "Four")), false},
		{"button title too long", buttons(btn("a", "A title over twenty chars")), false},
		{"duplicate button ids", buttons(btn("a", "One"), btn("a", "Two")), false},
		{"duplicate button titles", buttons(btn("a", "One"), btn("b", "One")), false},
		{"button id too long", buttons(btn(strings.Repeat("i", 257), "One")), false},
		{"list of ten", list("Choose", rows(10)), true},
		{"list of eleven", list("Choose", rows(11)), false},
		{"list button too long", list("Choose one of these please", rows(2)), false},
		{"row title too long", list("Choose", `{"id":"r1","title":"A row title of more than 24"}`), false},
		{"row description too long", list("Choose", `{"id":"r1","title":"Row","description":"`+strings.Repeat("d", 73)+`"}`), false},
		{"image is not supported", `{"messaging_product":"whatsapp","to":"4915112345678","type":"image","image":{"id":"1"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := newServer(t)
			status, b, _ := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token, tt.body)
			if !tt.ok {
				if e := decodeError(t, b); status != 400 || e.Error.Code != 100 {
					t.Errorf("got %d code %d, want 400 code 100", status, e.Error.Code)
				}
				if n := len(s.Sent()); n != 0 {
					t.Errorf("recorded %d messages, want 0", n)
				}
				return
			}
			var res struct {
				MessagingProduct string `json:"messaging_product"`
				Contacts         []struct {
					Input string `json:"input"`
					WaID  string `json:"wa_id"`
				} `json:"contacts"`
				Messages []struct{ ID string } `json:"messages"`
			}
			if err := json.Unmarshal(b, &res); err != nil || status != 200 {
				t.Fatalf("got %d %s, want 200", status, b)
			}
			if res.MessagingProduct != "whatsapp" || len(res.Contacts) != 1 || res.Contacts[0].WaID != "4915112345678" ||
				len(res.Messages) != 1 || !strings.HasPrefix(res.Messages[0].ID, "wamid.") {
				t.Errorf("answer = %s, want Graph's send answer", b)
			}
			sent := s.Sent()
			if len(sent) != 1 || sent[0].ID != res.Messages[0].ID || sent[0].To != "4915112345678" || len(sent[0].Raw) == 0 {
				t.Errorf("recorded %+v, want the message with its wamid", sent)
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	s, ts := newServer(t)
	f := whatsappgraph.FaultThroughput
	f.RetryAfter = 3 * time.Second
	s.FailNext(2, f)
	body := `{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"hi"}}`
	for i := range 2 {
		status, b, h := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token, body)
		if e := decodeError(t, b); status != 429 || e.Error.Code != 130429 || h.Get("Retry-After") != "3" {
			t.Errorf("attempt %d: %d code %d Retry-After %q, want 429 130429 3", i, status, e.Error.Code, h.Get("Retry-After"))
		}
	}
	if status, b, _ := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token, body); status != 200 {
		t.Errorf("third attempt: %d %s, want 200", status, b)
	}
	if s.Attempts() != 3 || len(s.Sent()) != 1 {
		t.Errorf("attempts %d, sent %d; want 3 and 1", s.Attempts(), len(s.Sent()))
	}
	s.FailNext(1, whatsappgraph.FaultReengagement)
	status, b, _ := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token, body)
	if e := decodeError(t, b); status != 400 || e.Error.Code != 131047 || e.Error.ErrorData.Details == "" {
		t.Errorf("re-engagement: %d %s, want 400 code 131047 with details", status, b)
	}
}

func TestReadReceipts(t *testing.T) {
	s, ts := newServer(t)
	status, b, _ := call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token,
		`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1","typing_indicator":{"type":"text"}}`)
	if status != 200 || !bytes.Contains(b, []byte(`"success":true`)) {
		t.Fatalf("got %d %s, want success", status, b)
	}
	reads, err := s.WaitReads(context.Background(), 1)
	if err != nil || len(reads) != 1 || reads[0] != (whatsappgraph.Read{MessageID: "wamid.IN1", Typing: true}) {
		t.Errorf("reads = %+v, %v", reads, err)
	}
	status, _, _ = call(t, "POST", ts.URL+"/v21.0/"+phoneID+"/messages", token, `{"messaging_product":"whatsapp","status":"read"}`)
	if status != 400 {
		t.Errorf("read without message id: %d, want 400", status)
	}
}

func TestMediaAndWrongPaths(t *testing.T) {
	s, ts := newServer(t)
	s.AddMedia("1479537139650973", "image/jpeg", []byte("JPEG"))
	status, b, _ := call(t, "GET", ts.URL+"/v21.0/1479537139650973", token, "")
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil || status != 200 {
		t.Fatalf("media info: %d %s", status, b)
	}
	u, _ := raw["url"].(string)
	if raw["mime_type"] != "image/jpeg" || !strings.HasPrefix(u, ts.URL+"/media/") || raw["file_size"] != "4" || raw["id"] != "1479537139650973" {
		t.Errorf("media info = %s", b)
	}
	if status, b, _ := call(t, "GET", u, token, ""); status != 200 || string(b) != "JPEG" {
		t.Errorf("download: %d %q", status, b)
	}
	if status, _, _ := call(t, "GET", u, "", ""); status != 401 {
		t.Errorf("download without token: %d, want 401", status)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v21.0/404404"},
		{"POST", "/v21.0/999/messages"},
		{"DELETE", "/v21.0/" + phoneID + "/messages"},
		{"GET", "/nothing/here/at/all"},
	} {
		status, b, _ := call(t, c.method, ts.URL+c.path, token, `{}`)
		if e := decodeError(t, b); status != 400 || e.Error.Code != 100 {
			t.Errorf("%s %s: %d code %d, want 400 code 100", c.method, c.path, status, e.Error.Code)
		}
	}
}

func TestWebhookSigningAndDelivery(t *testing.T) {
	w := whatsappgraph.Webhook{AppSecret: "s3cret", PhoneNumberID: phoneID}
	body := w.Messages("Kerry", whatsappgraph.TextMessage("4915112345678", "wamid.1", "hi"),
		whatsappgraph.ButtonReply("4915112345678", "wamid.2", "wamid.OUT", "t0:helpful:", "Helpful"))
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	if got, want := whatsappgraph.Sign("s3cret", body), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	var p whatsappgraph.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	v := p.Entry[0].Changes[0].Value
	if p.Object != "whatsapp_business_account" || p.Entry[0].Changes[0].Field != "messages" || v.Metadata.PhoneNumberID != phoneID ||
		len(v.Contacts) != 1 || v.Contacts[0].Profile.Name != "Kerry" || len(v.Messages) != 2 || v.Messages[1].Interactive.ButtonReply.ID != "t0:helpful:" {
		t.Errorf("payload = %s", body)
	}

	var gotSig string
	var gotBody []byte
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		gotSig = r.Header.Get("X-Hub-Signature-256")
		gotBody, _ = io.ReadAll(r.Body)
		rw.WriteHeader(http.StatusAccepted)
		_, _ = rw.Write([]byte("ok"))
	})
	status, resp := w.Serve(context.Background(), h, "/whatsapp/webhook", body)
	if status != http.StatusAccepted || resp != "ok" || !bytes.Equal(gotBody, body) || gotSig != whatsappgraph.Sign("s3cret", body) {
		t.Errorf("Serve: %d %q, signature %q", status, resp, gotSig)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	status, resp, err := w.Post(context.Background(), nil, ts.URL, w.Statuses(whatsappgraph.StatusUpdate("wamid.OUT", "4915112345678", "read")))
	if err != nil || status != http.StatusAccepted || resp != "ok" || !bytes.Contains(gotBody, []byte(`"status":"read"`)) {
		t.Errorf("Post: %d %q %v", status, resp, err)
	}
}
