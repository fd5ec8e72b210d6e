package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// `tier0 fake <platform>` runs the local fake of a chat platform (the
// same fakes the adapters' tests use, in adapters/fakes) so a person can
// try a channel by hand without an account on the platform: it prints the
// settings that point `tier0 serve` at the fake, sends every line typed
// as a message of a test user over the platform's real inbound path, and
// prints what the bot posts on the fake.

const fakeUsage = `usage: tier0 fake slack|teams|telegram|whatsapp [-listen 127.0.0.1:PORT] [-tier0 http://localhost:8080] [-wait 30s]
       tier0 fake shop-api|it-api [-listen 127.0.0.1:PORT] [-token T] [-latency 0s]

Starts a local fake of the platform, prints the settings for "tier0 serve",
then sends each line you type as a message of a test user and prints what
the bot posts. A line of only a number clicks that button of the bot's last
message. Ctrl-C (or Ctrl-D) ends it.
`

// fakeQuiet is how long the bot must have been quiet after its reply
// before a piped script sends its next line (answers may come in parts).
const fakeQuiet = time.Second

// fakeMaxLine bounds one input line.
const fakeMaxLine = 64 << 10

// fakeSpec is one platform `tier0 fake` knows.
type fakeSpec struct {
	// listen is the default address: fixed per platform, so the printed
	// configuration stays valid when the fake is restarted.
	listen string
	open   func(fakeOptions) (fakePlatform, error)
}

var fakeSpecs = map[string]fakeSpec{
	"slack":    {listen: "127.0.0.1:18081", open: openSlackFake},
	"teams":    {listen: "127.0.0.1:18082", open: openTeamsFake},
	"telegram": {listen: "127.0.0.1:18083", open: openTelegramFake},
	"whatsapp": {listen: "127.0.0.1:18084", open: openWhatsAppFake},
}

// fakeOptions is what a platform's fake is started with.
type fakeOptions struct {
	ln     net.Listener // the loopback listener to serve on
	url    string       // its base URL, http://127.0.0.1:PORT
	tier0  string       // tier0's base URL, without a trailing slash
	client *http.Client // for requests to tier0
}

// fakeSettings is what `tier0 serve` needs to talk to a fake.
type fakeSettings struct {
	env [][2]string // TIER0_* variables, in order
}

// fakeButton is a button the bot posted, with what clicking it does.
type fakeButton struct {
	label string
	click func(ctx context.Context) error
}

// fakePost is a message the bot posted on the fake, as a person would see it.
type fakePost struct {
	where   string // "" for the test user's chat, else where it went
	text    string
	sources []string // cited documents
	links   []string // targets of links in the text
	buttons []fakeButton
	edited  bool // a message shown before was changed
}

// fakePlatform is one platform's fake as `tier0 fake` drives it.
type fakePlatform interface {
	// name is the platform as people call it.
	name() string
	// settings are the environment and configuration lines for tier0.
	settings() fakeSettings
	// ready reports whether tier0 can take a message now, and if not,
	// what the fake is waiting for.
	ready(ctx context.Context) (ok bool, waitingFor string)
	// say sends text as a message of the test user.
	say(ctx context.Context, text string) error
	// watch calls emit for every message the bot posts (and every change
	// of one), in order, until ctx ends.
	watch(ctx context.Context, emit func(fakePost)) error
	// close stops the fake.
	close() error
}

// runFake runs `tier0 fake <platform>`.
func runFake(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(stdout, fakeUsage)
			return nil
		}
		fmt.Fprint(stderr, fakeUsage)
		return errors.New("fake: name the platform: slack, teams, telegram or whatsapp")
	}
	platform := strings.ToLower(args[0])
	if _, ok := fakeBackends[platform]; ok {
		return runFakeBackend(ctx, platform, args[1:], stdout, stderr)
	}
	spec, ok := fakeSpecs[platform]
	if !ok {
		fmt.Fprint(stderr, fakeUsage)
		return fmt.Errorf("fake: unknown platform %q: want slack, teams, telegram or whatsapp", args[0])
	}
	fs := flag.NewFlagSet("fake "+platform, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", spec.listen, "loopback address the fake listens on")
	tier0 := fs.String("tier0", "http://localhost:8080", "base URL of the tier0 server (webhooks are posted there)")
	wait := fs.Duration("wait", 30*time.Second, "how long piped input waits for the bot's answer to a line")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("fake: unexpected argument %q", fs.Arg(0))
	}
	if *wait <= 0 {
		return fmt.Errorf("fake: -wait %v: want a positive duration", *wait)
	}
	base, err := tier0URL(*tier0)
	if err != nil {
		return err
	}
	ln, fakeURL, err := listenLoopback(*listen)
	if err != nil {
		return err
	}
	p, err := spec.open(fakeOptions{ln: ln, url: fakeURL, tier0: base, client: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		ln.Close()
		return fmt.Errorf("fake %s: %w", platform, err)
	}
	defer p.close()

	s := &fakeSession{p: p, out: stdout, errOut: stderr, tier0: base, changed: make(chan struct{}), wait: *wait}
	s.printSettings(platform, fakeURL)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- p.watch(wctx, s.emit) }()
	defer func() {
		stopWatch()
		if err := <-watched; err != nil {
			fmt.Fprintf(stderr, "tier0 fake: watching the bot's messages: %v\n", err)
		}
	}()
	return s.run(ctx, stdin, !isTerminal(stdin))
}

// tier0URL checks -tier0 and returns it without a trailing slash.
func tier0URL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("fake: -tier0 %q: want the server's base URL, like http://localhost:8080", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// listenLoopback listens on addr, which must be a loopback address (the
// fakes accept anyone's requests); an empty host means 127.0.0.1.
func listenLoopback(addr string) (net.Listener, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("fake: -listen %q: want host:port, like 127.0.0.1:18083", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", fmt.Errorf("fake: -listen %q: the fake only listens on loopback (127.0.0.1, ::1 or localhost)", addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, "", fmt.Errorf("fake: listen on %s: %w", addr, err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// fakeHTTP serves a fake on a listener.
type fakeHTTP struct {
	srv  *http.Server
	done chan struct{}
}

func serveFake(ln net.Listener, h http.Handler) *fakeHTTP {
	f := &fakeHTTP{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f
}

// close stops serving, cutting requests (long polls) that do not end soon.
func (f *fakeHTTP) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = f.srv.Close()
	}
	<-f.done
	return err
}

// fakeSession is one run of `tier0 fake`: the terminal side.
type fakeSession struct {
	p      fakePlatform
	out    io.Writer
	errOut io.Writer
	tier0  string
	wait   time.Duration

	mu       sync.Mutex // guards the fields below and writes to out
	buttons  []fakeButton
	replies  int       // posts to the test user so far
	lastPost time.Time // when the last of them arrived
	changed  chan struct{}
}

func (s *fakeSession) printf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format, a...)
}

func (s *fakeSession) warnf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.errOut, "tier0 fake: "+format+"\n", a...)
}

// printSettings prints, ready to paste, how to start tier0 against the fake.
func (s *fakeSession) printSettings(platform, fakeURL string) {
	st := s.p.settings()
	var b strings.Builder
	fmt.Fprintf(&b, "Fake %s listening on %s (for tier0 at %s).\n\n", s.p.name(), fakeURL, s.tier0)
	b.WriteString("# In a second terminal, set these variables and start the server:\n")
	for _, kv := range st.env {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	b.WriteString("go run ./cmd/tier0 serve\n\n")
	fmt.Fprintf(&b, "Then type messages here as the %s test user. A number clicks that button of the bot's last message; Ctrl-C ends.\n", s.p.name())
	s.printf("%s", b.String())
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// emit prints a post and remembers the buttons of the test user's last
// message for numbered clicks.
func (s *fakeSession) emit(p fakePost) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := p.where == ""
	fmt.Fprint(s.out, formatPost(p, mine))
	if !mine {
		return
	}
	s.buttons = p.buttons
	s.replies++
	s.lastPost = time.Now()
	close(s.changed)
	s.changed = make(chan struct{})
}

// formatPost renders a post for the terminal; numbered buttons can be
// clicked by typing their number.
func formatPost(p fakePost, numbered bool) string {
	const pad = "     "
	var b strings.Builder
	head := "bot> "
	if p.where != "" {
		head = "bot → " + clean(p.where) + "> "
	}
	text := strings.TrimSpace(clean(p.text))
	if p.edited {
		text = "(edited) " + text
	}
	lines := strings.Split(text, "\n")
	b.WriteString(head + lines[0] + "\n")
	for _, l := range lines[1:] {
		b.WriteString(pad + l + "\n")
	}
	for _, src := range p.sources {
		b.WriteString(pad + "source: " + clean(src) + "\n")
	}
	for _, l := range p.links {
		b.WriteString(pad + "link: " + clean(l) + "\n")
	}
	if len(p.buttons) > 0 {
		parts := make([]string, len(p.buttons))
		for i, btn := range p.buttons {
			if numbered {
				parts[i] = "[" + strconv.Itoa(i+1) + "] " + clean(btn.label)
			} else {
				parts[i] = "[" + clean(btn.label) + "]"
			}
		}
		b.WriteString(pad + strings.Join(parts, "  ") + "\n")
	}
	return b.String()
}

// clean drops control characters (terminal escapes) from text the bot
// posted, keeping line breaks and tabs.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, strings.ReplaceAll(s, "\r\n", "\n"))
}

// run reads lines until EOF or ctx ends. A piped script waits for the
// bot's answer to each line before it sends the next, so a number can
// click a button of that answer.
func (s *fakeSession) run(ctx context.Context, stdin io.Reader, piped bool) error {
	lines, scanErr := readLines(ctx, stdin)
	ready := false
	for {
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
		}
		if !ok {
			if err := <-scanErr; err != nil {
				return fmt.Errorf("fake: read input: %w", err)
			}
			return nil
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !ready {
			if !s.waitReady(ctx) {
				return nil
			}
			ready = true
		}
		if piped {
			s.printf("you> %s\n", line)
		}
		s.mu.Lock()
		before := s.replies
		s.mu.Unlock()
		if err := s.send(ctx, line); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.warnf("%v", err)
			continue
		}
		if piped {
			s.settle(ctx, before)
		}
	}
}

// readLines delivers stdin's lines until EOF (the channel is closed, then
// the read error, nil for EOF, is sent) or ctx ends.
func readLines(ctx context.Context, r io.Reader) (<-chan string, <-chan error) {
	lines, errc := make(chan string), make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), fakeMaxLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				errc <- nil
				return
			}
		}
		errc <- sc.Err()
	}()
	return lines, errc
}

// send delivers one line: a click when it is the number of a button of
// the bot's last message, else a text message (a number too, when that
// message has no buttons: it may answer a numbered list).
func (s *fakeSession) send(ctx context.Context, line string) error {
	n, isNumber := buttonNumber(line)
	s.mu.Lock()
	buttons := s.buttons
	s.mu.Unlock()
	if !isNumber || len(buttons) == 0 {
		return s.p.say(ctx, line)
	}
	if n < 1 || n > len(buttons) {
		return fmt.Errorf("no button %d: the bot's last message has buttons 1 to %d", n, len(buttons))
	}
	b := buttons[n-1]
	s.printf("(clicked [%d] %s)\n", n, clean(b.label))
	return b.click(ctx)
}

// buttonNumber reads a line of only digits.
func buttonNumber(line string) (int, bool) {
	if line == "" || len(line) > 3 || strings.Trim(line, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(line)
	return n, err == nil
}

// waitReady waits until the platform says tier0 can take a message,
// saying once what it waits for. It returns false when ctx ended.
func (s *fakeSession) waitReady(ctx context.Context) bool {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	said := false
	for {
		ok, waitingFor := s.p.ready(ctx)
		if ok {
			return true
		}
		if !said {
			s.warnf("waiting for %s…", waitingFor)
			said = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// settle waits until the bot answered (a post to the test user after
// the line was sent, before was the count then) and then stayed quiet for
// fakeQuiet, or until the -wait limit passes without an answer.
func (s *fakeSession) settle(ctx context.Context, before int) {
	deadline := time.Now().Add(s.wait)
	for {
		s.mu.Lock()
		replies, last, changed := s.replies, s.lastPost, s.changed
		s.mu.Unlock()
		var d time.Duration
		if replies > before {
			d = fakeQuiet - time.Since(last)
		} else {
			d = time.Until(deadline)
			if d <= 0 {
				s.warnf("no answer within %v", s.wait)
				return
			}
		}
		if d <= 0 {
			return
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// tier0Healthy reports whether tier0 answers GET /healthz with 200.
func tier0Healthy(ctx context.Context, client *http.Client, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode == http.StatusOK
}

// webhookReady is the readiness of platforms that post to tier0.
func webhookReady(ctx context.Context, o fakeOptions) (bool, string) {
	if tier0Healthy(ctx, o.client, o.tier0) {
		return true, ""
	}
	return false, "tier0 at " + o.tier0 + " (start tier0 serve with the settings above, or pass -tier0)"
}

// postStatus checks the status tier0 answered a delivery with.
func postStatus(what string, status int, body string) error {
	if status >= 200 && status < 300 {
		return nil
	}
	body = strings.TrimSpace(body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Errorf("%s: tier0 answered %d %s %s", what, status, http.StatusText(status), clean(body))
}

// uniqueIDs hands out ids that grow with the clock, so they never repeat
// across runs of the fake (tier0 remembers the ids it has seen).
type uniqueIDs struct {
	mu   sync.Mutex
	last int64
}

// next returns a new id: microseconds since the epoch, or the last id + 1.
func (u *uniqueIDs) next() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := time.Now().UnixMicro()
	if n <= u.last {
		n = u.last + 1
	}
	u.last = n
	return n
}

// readResponse reads (a bounded part of) a response's body and closes it.
func readResponse(resp *http.Response, err error) (int, string, error) {
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}
