package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCmdOutput is a writer tests can wait on.
type fakeCmdOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newFakeCmdOutput() *fakeCmdOutput { return &fakeCmdOutput{changed: make(chan struct{})} }

func (o *fakeCmdOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(p)
}

func (o *fakeCmdOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output contains sub and returns the output.
func (o *fakeCmdOutput) waitFor(tb testing.TB, sub string, done <-chan error) string {
	tb.Helper()
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	for {
		o.mu.Lock()
		s, ch := o.buf.String(), o.changed
		o.mu.Unlock()
		if strings.Contains(s, sub) {
			return s
		}
		select {
		case <-ch:
		case err := <-done:
			tb.Fatalf("tier0 fake ended (%v) before printing %q; output:\n%s", err, sub, o.String())
		case <-limit.C:
			tb.Fatalf("tier0 fake did not print %q; output:\n%s", sub, s)
		}
	}
}

// fakeCmdSettings reads what `tier0 fake` printed for tier0: the exported
// variables, which are all it needs.
func fakeCmdSettings(tb testing.TB, out string) (env map[string]string, yaml string) {
	tb.Helper()
	env = map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "export ") {
			k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
			if !ok {
				tb.Fatalf("export line %q has no value", l)
			}
			env[k] = strings.Trim(v, "'")
		}
	}
	if len(env) == 0 {
		tb.Fatalf("no variables in the output:\n%s", out)
	}
	return env, ""
}

// fakeCmdServe runs tier0 in-process on the IT sample configuration with
// the printed config lines appended and the printed variables as its
// whole environment, its data under dataDir. It returns the server's base
// URL and a function that closes the server (also called when the test
// ends).
func fakeCmdServe(tb testing.TB, env map[string]string, yaml, dataDir string) (string, func()) {
	tb.Helper()
	dir := tb.TempDir()
	sample := filepath.Dir(sampleConfig)
	base, err := os.ReadFile(sampleConfig)
	if err != nil {
		tb.Fatal(err)
	}
	profiles, err := os.ReadFile(filepath.Join(sample, "profiles.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := filepath.Join(dir, "tier0.yaml")
	if err := os.WriteFile(cfg, append(append(base, '\n'), yaml...), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles.yaml"), profiles, 0o600); err != nil {
		tb.Fatal(err)
	}
	knowledgeDir, err := filepath.Abs(filepath.Join(sample, "knowledge"))
	if err != nil {
		tb.Fatal(err)
	}
	all := map[string]string{"TIER0_KNOWLEDGE_PATH": knowledgeDir}
	for k, v := range env {
		all[k] = v
	}
	logs, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		tb.Fatal(err)
	}
	m := NewMain()
	m.Getenv = func(k string) string { return all[k] }
	m.Stdout, m.Stderr = logs, logs
	ctx := context.Background()
	if err := m.ParseFlags(ctx, []string{"-config", cfg, "-listen", "127.0.0.1:0", "-data", dataDir}); err != nil {
		tb.Fatalf("ParseFlags with the printed settings: %v", err)
	}
	if err := m.Run(ctx); err != nil {
		b, _ := os.ReadFile(logs.Name())
		tb.Fatalf("Run with the printed settings: %v\n%s", err, b)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := m.Close(); err != nil {
				tb.Errorf("Close: %v", err)
			}
			if tb.Failed() {
				b, _ := os.ReadFile(logs.Name())
				tb.Logf("server log:\n%s", b)
			}
			logs.Close()
		})
	}
	tb.Cleanup(stop)
	return baseURL(m), stop
}

// fakeCmdTrial runs `tier0 fake <platform>` with script as its piped
// input, starts tier0 with the settings it prints and returns everything
// the fake printed once the script is done.
func fakeCmdTrial(tb testing.TB, platform, dataDir, script string) string {
	tb.Helper()
	// The fake needs tier0's URL before tier0 can know the fake's: it
	// posts through this proxy, which forwards once tier0 runs.
	var target atomic.Pointer[url.URL]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := target.Load()
		if u == nil {
			http.Error(w, "tier0 is not running yet", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	defer front.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := newFakeCmdOutput(), newFakeCmdOutput()
	done := make(chan error, 1)
	go func() {
		done <- runFake(ctx, []string{platform, "-listen", "127.0.0.1:0", "-tier0", front.URL, "-wait", waitLimit.String()},
			strings.NewReader(script), out, errOut)
	}()
	env, yaml := fakeCmdSettings(tb, out.waitFor(tb, "Then type messages", done))
	base, stop := fakeCmdServe(tb, env, yaml, dataDir)
	defer stop()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	target.Store(u)

	limit := time.NewTimer(3 * waitLimit)
	defer limit.Stop()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("tier0 fake %s: %v\nstderr:\n%s", platform, err, errOut.String())
		}
	case <-limit.C:
		cancel()
		<-done
		tb.Fatalf("tier0 fake %s did not finish the script; output:\n%s\nstderr:\n%s", platform, out.String(), errOut.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "tier0 fake: waiting for ") {
			tb.Errorf("tier0 fake %s reported a problem: %s", platform, l)
		}
	}
	return out.String()
}

// TestFakePlatforms asks each platform's fake the password question and
// clicks the answer's third button: the cited answer, its numbered buttons
// and the ticket notice must be printed.
func TestFakePlatforms(t *testing.T) {
	for _, platform := range []string{"telegram", "slack", "teams", "whatsapp"} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			out := fakeCmdTrial(t, platform, t.TempDir(), passwordQ+"\n3\n")
			answer := strings.Index(out, passwordPhrase)
			button := strings.Index(out, "[3] Talk to a person")
			click := strings.Index(out, "(clicked [3] Talk to a person)")
			ticket := strings.LastIndex(out, firstTicket)
			switch {
			case !strings.Contains(out, "you> "+passwordQ):
				t.Errorf("the question is not echoed; output:\n%s", out)
			case answer < 0:
				t.Errorf("no answer mentioning %q; output:\n%s", passwordPhrase, out)
			case !strings.Contains(out[answer:], passwordURL):
				t.Errorf("the answer does not cite %s; output:\n%s", passwordURL, out)
			case button < answer:
				t.Errorf("no numbered button [3] Talk to a person after the answer; output:\n%s", out)
			case click < button:
				t.Errorf("the line 3 did not click the button; output:\n%s", out)
			case ticket < click:
				t.Errorf("no ticket %s notice after the click; output:\n%s", firstTicket, out)
			}
		})
	}
}

// TestFakeTelegramRestart runs the Telegram fake twice against one data
// directory: the second fake numbers its updates from the same start, and
// must still get past the offset tier0 kept from the first run.
func TestFakeTelegramRestart(t *testing.T) {
	data := t.TempDir()
	first := fakeCmdTrial(t, "telegram", data, passwordQ+"\n")
	if !strings.Contains(first, passwordPhrase) {
		t.Fatalf("first run: no answer; output:\n%s", first)
	}
	second := fakeCmdTrial(t, "telegram", data, "/human\n")
	if !strings.Contains(second, firstTicket) {
		t.Errorf("second run: /human was not answered with ticket %s; output:\n%s", firstTicket, second)
	}
}

func TestFakeArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no platform", nil, "name the platform"},
		{"unknown platform", []string{"irc"}, `unknown platform "irc"`},
		{"not loopback", []string{"slack", "-listen", "0.0.0.0:0"}, "only listens on loopback"},
		{"no port", []string{"slack", "-listen", "127.0.0.1"}, "want host:port"},
		{"bad tier0 URL", []string{"teams", "-tier0", "localhost:8080"}, "want the server's base URL"},
		{"extra argument", []string{"telegram", "now"}, `unexpected argument "now"`},
		{"bad wait", []string{"whatsapp", "-wait", "0s"}, "want a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runFake(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runFake(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestFakeEndsAtEOF: with nothing to send, the fake prints its settings
// and ends at the end of the input without waiting for tier0.
func TestFakeEndsAtEOF(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runFake(context.Background(), []string{"whatsapp", "-listen", "127.0.0.1:0"}, strings.NewReader("\n  \n"), &out, &errOut); err != nil {
		t.Fatalf("runFake: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"export TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN=", "export TIER0_WHATSAPP_CLOUD_API_URL=http://127.0.0.1:", "go run ./cmd/tier0 serve"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFakeRendering(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"slack link", mrkdwnText(":page_facing_up: <https://kb.example/a?x=1&amp;y=2|Password reset>"), "Password reset <https://kb.example/a?x=1&y=2>"},
		{"slack bare link and mention", mrkdwnText("see <https://a.example> <@U0BOT> &lt;b&gt;"), "see https://a.example <@U0BOT> <b>"},
		{"teams link", markdownText("1. [VPN guide › Reset](https://intranet.example/vpn)"), "1. VPN guide › Reset <https://intranet.example/vpn>"},
		{"control characters", clean("a\x1b[31mred\x07\r\nb\tc"), "a[31mred\nb\tc"},
		{"post", formatPost(fakePost{text: "Hi\nthere", sources: []string{"Doc <https://d.example>"}, buttons: []fakeButton{{label: "Yes"}, {label: "No"}}}, true),
			"bot> Hi\n     there\n     source: Doc <https://d.example>\n     [1] Yes  [2] No\n"},
		{"post elsewhere", formatPost(fakePost{where: "channel C1", text: "card", buttons: []fakeButton{{label: "Claim"}}, edited: true}, false),
			"bot → channel C1> (edited) card\n     [Claim]\n"},
		{"shell quote", shellQuote("it's"), `'it'\''s'`},
		{"shell plain", shellQuote("123:AAbc-_"), "123:AAbc-_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		line string
		n    int
		ok   bool
	}{{"3", 3, true}, {"12", 12, true}, {"+3", 0, false}, {"3a", 0, false}, {"", 0, false}, {"1234", 0, false}} {
		if n, ok := buttonNumber(tt.line); n != tt.n || ok != tt.ok {
			t.Errorf("buttonNumber(%q) = %d, %v; want %d, %v", tt.line, n, ok, tt.n, tt.ok)
		}
	}
}

// fakeCmdStub is a platform that records what the session sends.
type fakeCmdStub struct{ said []string }

func (f *fakeCmdStub) name() string                         { return "Stub" }
func (f *fakeCmdStub) settings() fakeSettings               { return fakeSettings{} }
func (f *fakeCmdStub) ready(context.Context) (bool, string) { return true, "" }
func (f *fakeCmdStub) say(_ context.Context, text string) error {
	f.said = append(f.said, "say:"+text)
	return nil
}
func (f *fakeCmdStub) watch(context.Context, func(fakePost)) error { return nil }
func (f *fakeCmdStub) close() error                                { return nil }

// TestFakeNumberLines: a number clicks a button of the bot's last message
// to the test user; without buttons there it is sent as text.
func TestFakeNumberLines(t *testing.T) {
	tests := []struct {
		name    string
		posts   []fakePost
		line    string
		want    string
		wantErr string
	}{
		{"text", nil, "hello", "say:hello", ""},
		{"number without buttons", nil, "2", "say:2", ""},
		{"click", []fakePost{{text: "answer", buttons: []fakeButton{{label: "A"}, {label: "B"}}}}, "2", "click:B", ""},
		{"staff buttons do not count", []fakePost{{where: "channel C1", text: "card", buttons: []fakeButton{{label: "Claim"}}}}, "1", "say:1", ""},
		{"last message has none", []fakePost{{text: "q", buttons: []fakeButton{{label: "A"}}}, {text: "numbered list"}}, "1", "say:1", ""},
		{"out of range", []fakePost{{text: "answer", buttons: []fakeButton{{label: "A"}}}}, "3", "", "has buttons 1 to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := &fakeCmdStub{}
			var out bytes.Buffer
			s := &fakeSession{p: stub, out: &out, errOut: &out, changed: make(chan struct{})}
			for _, p := range tt.posts {
				for i := range p.buttons {
					label := p.buttons[i].label
					p.buttons[i].click = func(context.Context) error {
						stub.said = append(stub.said, "click:"+label)
						return nil
					}
				}
				s.emit(p)
			}
			err := s.send(context.Background(), tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("send(%q) = %v, want an error containing %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(stub.said) != 1 || stub.said[0] != tt.want {
				t.Errorf("send(%q) = %v, did %v; want %s", tt.line, err, stub.said, tt.want)
			}
		})
	}
}
