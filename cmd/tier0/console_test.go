package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// consoleClient is an agent logged in to the console over HTTP.
type consoleClient struct {
	base string
	http *http.Client
	csrf string
}

func consoleLogin(tb testing.TB, m *Main, user, pass string) *consoleClient {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := &consoleClient{base: baseURL(m), http: &http.Client{Jar: jar}}
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	c.do(tb, http.MethodPost, "/console/api/login", map[string]string{"username": user, "password": pass}, http.StatusOK, &out)
	c.csrf = out.CSRF
	return c
}

func (c *consoleClient) do(tb testing.TB, method, path string, body any, want int, out any) {
	tb.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var e bytes.Buffer
		e.ReadFrom(resp.Body)
		tb.Fatalf("%s %s: HTTP %d %s, want %d", method, path, resp.StatusCode, e.String(), want)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
}

// A customer asks for a person in the web chat; an agent logs in to the
// console, finds the ticket, claims it and replies; the customer sees the
// agent join and the reply on their live stream.
func TestServeAgentConsoleReachesTheCustomer(t *testing.T) {
	m, _ := startMain(t, t.TempDir(), map[string]string{"TIER0_CONSOLE_PASSWORD": "correct horse battery"})
	v := newVisitor(t, m)
	ev := v.events(t)
	v.say(t, "I want to talk to a human", "h-1")
	if got := ev.next(t); got.Kind != "handoff" || !strings.Contains(got.Text, "IT-1001") {
		t.Fatalf("handoff reply %+v, want ticket IT-1001", got)
	}

	agent := consoleLogin(t, m, "admin", "correct horse battery")
	var queue struct {
		Tickets []struct {
			ConversationKey string `json:"conversation_key"`
			Ticket          struct {
				ID string `json:"id"`
			} `json:"ticket"`
		} `json:"tickets"`
	}
	agent.do(t, http.MethodGet, "/console/api/tickets", nil, http.StatusOK, &queue)
	if len(queue.Tickets) != 1 || queue.Tickets[0].Ticket.ID != "IT-1001" {
		t.Fatalf("queue %+v, want IT-1001", queue)
	}
	key := url.PathEscape(queue.Tickets[0].ConversationKey)
	act := func(id, kind, text string) {
		t.Helper()
		agent.do(t, http.MethodPost, "/console/api/tickets/"+key+"/actions", map[string]string{"action_id": id, "kind": kind, "text": text}, http.StatusOK, nil)
	}
	act("a-1", "claim", "")
	if got := ev.next(t); got.Kind != "notice" || !strings.Contains(got.Text, "Admin has joined") {
		t.Errorf("after claim the customer got %+v, want the joined notice", got)
	}
	act("a-2", "note", "checked AD: account locked")
	act("a-3", "reply", "I unlocked your account, please try again.")
	if got := ev.next(t); got.Kind != "agent" || got.Text != "I unlocked your account, please try again." {
		t.Errorf("customer got %+v, want the agent's reply (and never the note)", got)
	}
	// The agent saves the answer as a draft FAQ card for review.
	var draft struct {
		Draft string `json:"draft"`
	}
	agent.do(t, http.MethodPost, "/console/api/tickets/"+key+"/draft", map[string]string{}, http.StatusOK, &draft)
	if raw, err := os.ReadFile(draft.Draft); err != nil || !strings.Contains(string(raw), "I unlocked your account") || !strings.HasSuffix(draft.Draft, ".faq.yaml.draft") {
		t.Errorf("draft %q: %q, %v; want the agent's reply in a .faq.yaml.draft file", draft.Draft, raw, err)
	}
	// Priority and escalation along the sample's routes (IT Service Desk →
	// Workplace Engineering); the ticket goes back to the queue.
	act("a-5", "priority", "P1")
	act("a-6", "escalate", "")
	if got := ev.next(t); got.Kind != "notice" || !strings.Contains(got.Text, "Workplace Engineering") {
		t.Errorf("after escalation the customer got %+v, want to hear who continues", got)
	}
	var after struct {
		Tickets []struct {
			Ticket struct {
				Team     string `json:"team"`
				Priority string `json:"priority"`
			} `json:"ticket"`
		} `json:"tickets"`
	}
	agent.do(t, http.MethodGet, "/console/api/tickets", nil, http.StatusOK, &after)
	if len(after.Tickets) != 1 || after.Tickets[0].Ticket.Team != "Workplace Engineering" || after.Tickets[0].Ticket.Priority != "P1" {
		t.Errorf("queue after escalation %+v, want one P1 ticket for Workplace Engineering", after)
	}
	// Without the CSRF token nothing happens.
	agent.csrf = ""
	agent.do(t, http.MethodPost, "/console/api/tickets/"+key+"/actions", map[string]string{"action_id": "a-4", "kind": "resolve"}, http.StatusForbidden, nil)
}

func TestPasswd(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"passwd"}, strings.NewReader("s3cret-pass\n"), &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out.String())), []byte("s3cret-pass")); err != nil {
		t.Errorf("hash %q does not match the password: %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"passwd"}, strings.NewReader("short\n"), &out, &bytes.Buffer{}); err == nil {
		t.Error("a 5-character password was accepted")
	}
}
