package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// The sample deployment every test runs: the Northwind IT helpdesk.
const (
	sampleConfig   = "../../configs/it-helpdesk/tier0.yaml"
	sampleFiles    = 23 // markdown articles in its knowledge folder (two of them German)
	passwordQ      = "How do I reset my password?"
	passwordSource = "password-reset.md"
	passwordURL    = "https://it.northwind.example/kb/password-reset"
	// passwordPhrase is in every passage of the password article that
	// answers passwordQ.
	passwordPhrase = "password.northwind.example"
	humanQ         = "I want to talk to a human"
	firstTicket    = "IT-1001"
)

// waitLimit bounds every wait for something that should happen, so a
// broken server fails the test instead of hanging it. It is a safety net,
// not a speed assertion.
const waitLimit = 20 * time.Second

// quietPeriod is how long a test listens for a reply that must not come.
const quietPeriod = 300 * time.Millisecond

// startMain runs the server in-process with the sample configuration on a
// free loopback port, its data under dataDir. env is the whole environment
// the server sees (nil: none), so the machine's TIER0_* variables cannot
// change the test. The server is closed when the test ends; its log (a
// file, so concurrent writers are safe) is shown when the test failed.
// The function returned reads the log so far.
func startMain(tb testing.TB, dataDir string, env map[string]string) (*Main, func() string) {
	tb.Helper()
	logs, err := os.Create(filepath.Join(tb.TempDir(), "server.log"))
	if err != nil {
		tb.Fatalf("create server log: %v", err)
	}
	readLog := func() string {
		b, err := os.ReadFile(logs.Name())
		if err != nil {
			tb.Errorf("read server log: %v", err)
		}
		return string(b)
	}
	m := NewMain()
	m.Getenv = func(k string) string { return env[k] }
	m.Stdout, m.Stderr = logs, logs
	ctx := context.Background()
	if err := m.ParseFlags(ctx, []string{"-config", sampleConfig, "-listen", "127.0.0.1:0", "-data", dataDir}); err != nil {
		tb.Fatalf("ParseFlags: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log:\n%s", readLog())
		}
		logs.Close()
	})
	if err := m.Run(ctx); err != nil {
		tb.Fatalf("Run: %v\nserver log:\n%s", err, readLog())
	}
	return m, readLog
}

// baseURL is the server's root URL.
func baseURL(m *Main) string { return "http://" + m.Addr() }

// doJSON sends body (nil: none) as JSON with the bearer token (if any),
// checks the status and decodes the response into out (if not nil).
func doJSON(tb testing.TB, method, url, token string, body any, wantStatus int, out any) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("encode %s body: %v", url, err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		tb.Fatalf("read %s %s: %v", method, url, err)
	}
	if resp.StatusCode != wantStatus {
		tb.Fatalf("%s %s: status %d, want %d; body %s", method, url, resp.StatusCode, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("decode %s %s: %v; body %s", method, url, err, raw)
		}
	}
}

// checkProbes checks that /healthz and /readyz report the server ready.
func checkProbes(tb testing.TB, m *Main) {
	tb.Helper()
	var health map[string]string
	doJSON(tb, http.MethodGet, baseURL(m)+"/healthz", "", nil, http.StatusOK, &health)
	var ready map[string]string
	doJSON(tb, http.MethodGet, baseURL(m)+"/readyz", "", nil, http.StatusOK, &ready)
	if want := map[string]string{"store": "ok", "knowledge": "ok"}; !maps.Equal(ready, want) {
		tb.Errorf("readyz = %v, want %v", ready, want)
	}
}

// chatMessage is a message as the web chat API shows it to a visitor.
type chatMessage struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	Kind      string `json:"kind"`
	Text      string `json:"text"`
	Citations []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"citations"`
}

// chatVisitor is one web chat session talking to a server over HTTP.
type chatVisitor struct {
	base    string
	Session string `json:"session_id"`
	Token   string `json:"token"`
}

// newVisitor starts a web chat session.
func newVisitor(tb testing.TB, m *Main) *chatVisitor {
	tb.Helper()
	v := &chatVisitor{base: baseURL(m)}
	doJSON(tb, http.MethodPost, v.base+"/api/webchat/sessions", "", nil, http.StatusCreated, v)
	if v.Session == "" || v.Token == "" {
		tb.Fatalf("session response without id or token: %+v", v)
	}
	return v
}

func (v *chatVisitor) url(sub string) string {
	return v.base + "/api/webchat/sessions/" + v.Session + "/" + sub
}

// messageReply is the response to a posted message.
type messageReply struct {
	MessageID   string `json:"message_id"`
	ExpectReply bool   `json:"expect_reply"`
}

// say posts text with the client's message id and returns the response.
func (v *chatVisitor) say(tb testing.TB, text, clientMsgID string) messageReply {
	tb.Helper()
	var r messageReply
	body := map[string]string{"text": text, "client_msg_id": clientMsgID}
	doJSON(tb, http.MethodPost, v.url("messages"), v.Token, body, http.StatusAccepted, &r)
	if r.MessageID != clientMsgID {
		tb.Errorf("message_id = %q, want the client's %q", r.MessageID, clientMsgID)
	}
	return r
}

// history returns the conversation as the visitor sees it.
func (v *chatVisitor) history(tb testing.TB) []chatMessage {
	tb.Helper()
	var h struct {
		Messages []chatMessage `json:"messages"`
	}
	doJSON(tb, http.MethodGet, v.url("history"), v.Token, nil, http.StatusOK, &h)
	return h.Messages
}

// eventStream is an open SSE stream of a session's replies.
type eventStream struct {
	msgs chan chatMessage // closed when the stream ends
}

// events opens the session's event stream; it is closed when the test ends.
func (v *chatVisitor) events(tb testing.TB) *eventStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url("events"), nil)
	if err != nil {
		cancel()
		tb.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+v.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("open event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		tb.Fatalf("event stream: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{msgs: make(chan chatMessage, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.msgs)
		readEvents(ctx, resp.Body, s.msgs)
	}()
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// readEvents parses "message" events from an SSE body into msgs until the
// body ends or ctx is done. Events it cannot decode are passed on with the
// raw data as text, so the test sees them.
func readEvents(ctx context.Context, body io.Reader, msgs chan<- chatMessage) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		case line == "":
			if event == "message" {
				var m chatMessage
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					m = chatMessage{Kind: "undecodable", Text: data}
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
			event, data = "", ""
		}
	}
}

// next returns the next reply on the stream.
func (s *eventStream) next(tb testing.TB) chatMessage {
	tb.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			tb.Fatal("event stream ended before the reply came")
		}
		return m
	case <-time.After(waitLimit):
		tb.Fatalf("no reply on the event stream within %s", waitLimit)
	}
	return chatMessage{}
}

// quiet checks that no reply comes for a while.
func (s *eventStream) quiet(tb testing.TB) {
	tb.Helper()
	select {
	case m, ok := <-s.msgs:
		if ok {
			tb.Errorf("unexpected reply on the event stream: %+v", m)
		}
	case <-time.After(quietPeriod):
	}
}

// askPassword asks passwordQ and checks that the reply is the password
// article's answer with its link, on the stream and in the stored turn.
func askPassword(tb testing.TB, m *Main, v *chatVisitor, ev *eventStream, clientMsgID string) chatMessage {
	tb.Helper()
	if r := v.say(tb, passwordQ, clientMsgID); !r.ExpectReply {
		tb.Errorf("expect_reply = false for a new question, want true")
	}
	ans := ev.next(tb)
	if ans.Role != "bot" || ans.Kind != string(conversation.KindAnswer) || !strings.Contains(ans.Text, passwordPhrase) {
		tb.Errorf("reply = %s/%s %q, want a bot answer mentioning %q", ans.Role, ans.Kind, ans.Text, passwordPhrase)
	}
	if len(ans.Citations) == 0 || ans.Citations[0].URL != passwordURL {
		tb.Errorf("reply citations = %+v, want the first to link %s", ans.Citations, passwordURL)
	}
	c, err := m.store.Load(context.Background(), webchat.KeyPrefix+v.Session)
	if err != nil {
		tb.Fatalf("load conversation: %v", err)
	}
	i := slices.IndexFunc(c.History, func(t conversation.Turn) bool { return t.MessageID == ans.ID })
	if i < 0 || len(c.History[i].Citations) == 0 || c.History[i].Citations[0].Source != passwordSource {
		tb.Errorf("stored turn of reply %s: %+v, want a citation of %s", ans.ID, c.History, passwordSource)
	}
	return ans
}

// ingestSummary is the line ingestion prints when it is done.
var ingestSummary = regexp.MustCompile(`ingest: (\d+) files, (\d+) chunks \((\d+) added, (\d+) updated, (\d+) removed, (\d+) unchanged\)`)

// ingestStats are the numbers of an ingestion summary line, in its order:
// files, chunks, added, updated, removed, unchanged.
type ingestStats [6]int

// lastIngest returns the numbers of the last summary line in out.
func lastIngest(tb testing.TB, out string) ingestStats {
	tb.Helper()
	all := ingestSummary.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		tb.Fatalf("no ingestion summary in output:\n%s", out)
	}
	var st ingestStats
	for i, s := range all[len(all)-1][1:] {
		st[i], _ = strconv.Atoi(s)
	}
	return st
}

// checkUnchanged checks that an ingestion of the sample found every chunk
// already indexed.
func checkUnchanged(tb testing.TB, st ingestStats) {
	tb.Helper()
	if st[0] != sampleFiles || st[2]+st[3]+st[4] != 0 || st[5] != st[1] || st[1] == 0 {
		tb.Errorf("re-ingestion: files, chunks, added, updated, removed, unchanged = %v; want %d files, all chunks unchanged", st, sampleFiles)
	}
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	m, _ := startMain(t, dir, nil)
	checkProbes(t, m)

	v := newVisitor(t, m)
	ev := v.events(t)
	ans := askPassword(t, m, v, ev, "q-1")
	want := []chatMessage{{ID: "q-1", Role: "customer", Text: passwordQ}, ans}
	got := v.history(t)
	checkHistory(t, "after the answer", got, want)

	// A retry of the same message is answered once.
	if r := v.say(t, passwordQ, "q-1"); r.ExpectReply {
		t.Errorf("retry: expect_reply = true, want false (duplicate)")
	}
	ev.quiet(t)
	checkHistory(t, "after the retry", v.history(t), want)

	// Asking for a person opens a ticket.
	v.say(t, humanQ, "q-2")
	ho := ev.next(t)
	if ho.Kind != string(conversation.KindHandoff) || !strings.Contains(ho.Text, firstTicket) {
		t.Errorf("handoff reply = %s %q, want kind handoff naming ticket %s", ho.Kind, ho.Text, firstTicket)
	}
	// From now on a person owns the conversation: the bot stays silent.
	if r := v.say(t, "Is anybody there? My password still does not work.", "q-3"); r.ExpectReply {
		t.Errorf("message while a person owns the thread: expect_reply = true, want false")
	}
	ev.quiet(t)
	want = append(want,
		chatMessage{ID: "q-2", Role: "customer", Text: humanQ}, ho,
		chatMessage{ID: "q-3", Role: "customer", Text: "Is anybody there? My password still does not work."})
	checkHistory(t, "after the handoff", v.history(t), want)

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// State survives a restart on the same data directory, and the
	// knowledge index is not rebuilt.
	m2, readLog := startMain(t, dir, nil)
	checkProbes(t, m2)
	v.base = baseURL(m2)
	checkHistory(t, "after the restart", v.history(t), want)
	checkUnchanged(t, lastIngest(t, readLog()))
}

// checkHistory compares a history with the messages it should hold: ids,
// roles, texts and citation links.
func checkHistory(tb testing.TB, when string, got, want []chatMessage) {
	tb.Helper()
	render := func(ms []chatMessage) string {
		var b strings.Builder
		for _, m := range ms {
			b.WriteString(m.ID + " " + m.Role + ": " + m.Text)
			for _, c := range m.Citations {
				b.WriteString(" <" + c.URL + ">")
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	if g, w := render(got), render(want); g != w {
		tb.Errorf("history %s:\n%s\nwant:\n%s", when, g, w)
	}
}

func TestServeRedis(t *testing.T) {
	srv := redistest.Start(t)
	m, _ := startMain(t, t.TempDir(), map[string]string{"TIER0_REDIS_ADDR": srv.Addr()})
	if m.Config.Store.Driver != "redis" {
		t.Fatalf("store driver = %q, want redis (TIER0_REDIS_ADDR is set)", m.Config.Store.Driver)
	}
	checkProbes(t, m)
	v := newVisitor(t, m)
	askPassword(t, m, v, v.events(t), "r-1")
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStdout bool   // usage on stdout (else on stderr)
	}{
		{name: "no command", args: nil, wantErr: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"help"}, wantStdout: true},
		{name: "-h", args: []string{"-h"}, wantStdout: true},
		{name: "--help", args: []string{"--help"}, wantStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, strings.NewReader(""), &out, &errb)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("run(%q) = %v, want nil", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			usageOn, silent := &errb, &out
			if tt.wantStdout {
				usageOn, silent = &out, &errb
			}
			if usageOn.String() != usage {
				t.Errorf("run(%q) printed %q, want the usage text", tt.args, usageOn.String())
			}
			if silent.Len() != 0 {
				t.Errorf("run(%q) also printed %q on the other stream", tt.args, silent.String())
			}
		})
	}
}
