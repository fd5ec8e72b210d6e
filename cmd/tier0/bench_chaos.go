package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// chaosOptions are the flags of tier0 bench chaos.
type chaosOptions struct {
	binary     string
	config     string
	replicas   int
	duration   time.Duration
	sessions   int
	slackUsers int
	think      time.Duration
	perConv    int
	killEvery  time.Duration
	minKills   int // keep the chaos going past duration until this many kills
	downFor    time.Duration
	redis      bool
	quiet      time.Duration
	drain      time.Duration
	seed       uint64
	keep       bool
}

// runBenchChaos is tier0 bench chaos: real tier0 serve processes on one
// persistent redis-server, killed at random under load, and a transcript
// check at the end.
func runBenchChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o chaosOptions
	fs := flag.NewFlagSet("bench chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.binary, "binary", "", "the built tier0 binary the replicas run (make build writes bin/tier0)")
	fs.StringVar(&o.config, "config", DefaultConfigPath, "configuration the replicas serve")
	fs.IntVar(&o.replicas, "replicas", 3, "tier0 serve processes")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long to offer load and kill replicas")
	fs.IntVar(&o.sessions, "sessions", 60, "web chat visitors typing at once")
	fs.IntVar(&o.slackUsers, "slack-users", 20, "Slack users writing direct messages at once (0: no Slack)")
	fs.DurationVar(&o.think, "think", 400*time.Millisecond, "mean pause between a customer's messages")
	fs.IntVar(&o.perConv, "messages-per-conversation", 8, "messages before a customer starts a new conversation")
	fs.DurationVar(&o.killEvery, "kill-every", 8*time.Second, "how often a random replica is killed with SIGKILL")
	fs.DurationVar(&o.downFor, "down-for", time.Second, "how long a killed replica stays down before it is started again")
	fs.BoolVar(&o.redis, "redis-restart", true, "restart Redis once (SIGTERM, then start on the same data) half-way")
	fs.DurationVar(&o.quiet, "quiet", 3*time.Second, "messages sent within this long after a kill or Redis restart are left out of p99_ms")
	fs.DurationVar(&o.drain, "drain", 40*time.Second, "how long to wait for the outbox to empty after the load")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (which replica dies when, which question is asked)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (replica logs, Redis data) and print its path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.binary == "":
		return errors.New("bench chaos: -binary PATH is required (the built tier0: make build)")
	case o.replicas < 1 || o.sessions < 0 || o.slackUsers < 0 || o.sessions+o.slackUsers == 0:
		return errors.New("bench chaos: need at least one replica and one customer")
	case o.duration <= 0 || o.killEvery <= 0 || o.perConv <= 0:
		return errors.New("bench chaos: -duration, -kill-every and -messages-per-conversation must be positive")
	}
	res, err := benchChaos(ctx, o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.line())
	return nil
}

// chaosResult is the outcome of a chaos run.
type chaosResult struct {
	replicas, kills, redisRestarts   int
	conversations, accepted, refused int
	answered, lost, duplicated       int
	reordered, misrouted             int
	undelivered, platformDuplicates  int
	duplicatesOutsideWindow          int
	handedOff                        int
	p99, p99All, slackAckP99         float64
}

func (r chaosResult) line() string {
	return fmt.Sprintf("RESULT mode=chaos replicas=%d kills=%d redis_restarts=%d conversations=%d accepted=%d answered=%d lost=%d duplicated=%d reordered=%d misrouted=%d undelivered=%d platform_duplicates=%d platform_duplicates_outside_window=%d refused=%d handed_off=%d p99_ms=%.1f p99_all_ms=%.1f slack_ack_p99_ms=%.1f",
		r.replicas, r.kills, r.redisRestarts, r.conversations, r.accepted, r.answered, r.lost, r.duplicated,
		r.reordered, r.misrouted, r.undelivered, r.platformDuplicates, r.duplicatesOutsideWindow, r.refused, r.handedOff, r.p99, r.p99All, r.slackAckP99)
}

// chaosReplica is one tier0 serve process.
type chaosReplica struct {
	n    int
	port int
	args []string
	env  []string
	logf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (r *chaosReplica) base() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// start launches the process and waits until /readyz answers 200.
func (r *chaosReplica) start(ctx context.Context) error {
	logf, err := os.OpenFile(r.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start replica %d: %w", r.n, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(r.base() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("replica %d exited during start-up (%s); log %s", r.n, cmd.ProcessState, r.logf)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d not ready within 90s; log %s", r.n, r.logf)
		}
	}
}

// signal sends sig and waits for the process to exit (SIGKILL after 20s).
func (r *chaosReplica) signal(sig os.Signal) {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// chaosMsg is one customer message as the harness sent it.
type chaosMsg struct {
	ref        string
	accepted   bool
	start, end time.Time
}

// chaosConv is one customer conversation and what was sent in it.
type chaosConv struct {
	key   string
	slack string // DM channel for Slack conversations
	mu    sync.Mutex
	msgs  []chaosMsg
}

func (c *chaosConv) add(m chaosMsg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

// chaosHarness runs the processes and the customers.
type chaosHarness struct {
	o         chaosOptions
	questions []string
	replicas  []*chaosReplica
	slack     *slackfake.Server
	posted    *postTimes
	http      *http.Client
	log       io.Writer

	stopping atomic.Bool
	mu       sync.Mutex
	convs    []*chaosConv
	// disrupted are [from, to) windows after kills and the Redis restart.
	disrupted [][2]time.Time
	// crashes are the moments a replica was killed or Redis stopped.
	crashes   []time.Time
	slackAcks []time.Duration
	refused   int
}

func (h *chaosHarness) addConv(c *chaosConv) {
	h.mu.Lock()
	h.convs = append(h.convs, c)
	h.mu.Unlock()
}

func (h *chaosHarness) disrupt(from, to time.Time) {
	h.mu.Lock()
	h.disrupted = append(h.disrupted, [2]time.Time{from, to})
	h.mu.Unlock()
}

func (h *chaosHarness) pick(rng *rand.Rand) *chaosReplica {
	return h.replicas[rng.IntN(len(h.replicas))]
}

func benchChaos(ctx context.Context, o chaosOptions, stderr io.Writer) (chaosResult, error) {
	res := chaosResult{replicas: o.replicas}
	bin, err := filepath.Abs(o.binary)
	if err != nil {
		return res, err
	}
	c, err := LoadConfig(o.config, os.Getenv)
	if err != nil {
		return res, err
	}
	questions := answerableQuestions(c)
	if len(questions) == 0 {
		return res, errors.New("bench chaos: no answerable questions beside the config")
	}
	tmp, err := os.MkdirTemp("", "tier0-chaos-")
	if err != nil {
		return res, err
	}
	if o.keep {
		fmt.Fprintf(stderr, "chaos: work directory %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rs, err := redistest.StartPersistentProcess(ctx, filepath.Join(tmp, "redis"))
	if err != nil {
		return res, fmt.Errorf("bench chaos: start redis-server: %w", err)
	}
	defer rs.Close()

	h := &chaosHarness{o: o, questions: questions, log: stderr,
		http: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	env := append(os.Environ(),
		"TIER0_STORE=redis", "TIER0_REDIS_ADDR="+rs.Addr(),
		"TIER0_WEBCHAT_SECRET="+strings.Repeat("chaos-", 8),
		"TIER0_LOG_LEVEL=warn")
	if o.slackUsers > 0 {
		h.slack = slackfake.New(slackfake.Config{})
		h.posted = &postTimes{at: map[string]time.Time{}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return res, err
		}
		fs := &http.Server{Handler: h.posted.wrap(h.slack), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = fs.Serve(ln) }()
		defer fs.Close()
		defer h.slack.Close()
		sc := h.slack.Config()
		env = append(env, "TIER0_SLACK_BOT_TOKEN="+sc.BotToken, "TIER0_SLACK_SIGNING_SECRET="+sc.SigningSecret,
			"TIER0_SLACK_MODE=http", "TIER0_SLACK_API_URL=http://"+ln.Addr().String()+"/api/")
	}
	cfgPath, err := filepath.Abs(o.config)
	if err != nil {
		return res, err
	}
	for i := range o.replicas {
		port, err := freeTCPPort()
		if err != nil {
			return res, err
		}
		dir := filepath.Join(tmp, "replica"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return res, err
		}
		r := &chaosReplica{n: i, port: port, env: env, logf: filepath.Join(dir, "serve.log"),
			args: []string{bin, "serve", "-config", cfgPath, "-listen", "127.0.0.1:" + strconv.Itoa(port), "-data", filepath.Join(dir, "data")}}
		h.replicas = append(h.replicas, r)
	}
	defer func() {
		for _, r := range h.replicas {
			r.signal(syscall.SIGKILL)
		}
	}()
	// The first replica ingests alone; the others start beside it.
	var startErr error
	var wg sync.WaitGroup
	for _, r := range h.replicas {
		wg.Go(func() {
			if err := r.start(ctx); err != nil {
				h.mu.Lock()
				startErr = errors.Join(startErr, err)
				h.mu.Unlock()
			}
		})
	}
	wg.Wait()
	if startErr != nil {
		return res, startErr
	}
	fmt.Fprintf(stderr, "chaos: %d replicas on redis %s (appendonly yes, appendfsync everysec); %d web chat visitors, %d Slack users for %s, a kill every %s\n",
		o.replicas, rs.Addr(), o.sessions, o.slackUsers, o.duration, o.killEvery)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var customers sync.WaitGroup
	for n := range o.sessions {
		customers.Go(func() { h.webCustomer(loadCtx, n) })
	}
	for n := range o.slackUsers {
		customers.Go(func() { h.slackCustomer(loadCtx, n) })
	}

	// The chaos: a random replica every killEvery, Redis once half-way.
	rng := rand.New(rand.NewPCG(o.seed, 99))
	start := time.Now()
	end := start.Add(o.duration)
	redisAt := start.Add(o.duration / 2)
	redisDone := !o.redis
	var restarts sync.WaitGroup
	nextKill := start.Add(o.killEvery)
	// The run lasts o.duration, and longer (within ctx) until o.minKills
	// replicas were killed, so a slow machine still gets the kills it was
	// asked for.
	for (time.Now().Before(end) || res.kills < o.minKills) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		now := time.Now()
		if !redisDone && now.After(redisAt) {
			redisDone = true
			t0 := time.Now()
			rs.Terminate()
			if err := rs.Relaunch(ctx); err != nil {
				return res, fmt.Errorf("bench chaos: restart redis: %w", err)
			}
			res.redisRestarts++
			h.mu.Lock()
			h.crashes = append(h.crashes, t0)
			h.mu.Unlock()
			fmt.Fprintf(stderr, "chaos: redis restarted (SIGTERM, start on the same data) in %s\n", time.Since(t0).Round(time.Millisecond))
			h.disrupt(t0, time.Now().Add(o.quiet))
		}
		if now.After(nextKill) {
			r := h.pick(rng)
			r.mu.Lock()
			running := r.cmd != nil && r.cmd.ProcessState == nil
			r.mu.Unlock()
			if !running {
				continue // still restarting: pick again at the next tick
			}
			nextKill = now.Add(o.killEvery)
			t0 := time.Now()
			r.signal(syscall.SIGKILL)
			res.kills++
			h.disrupt(t0, t0.Add(o.quiet))
			h.mu.Lock()
			h.crashes = append(h.crashes, t0)
			h.mu.Unlock()
			fmt.Fprintf(stderr, "chaos: kill -9 replica %d (kill %d at %s)\n", r.n, res.kills, t0.Sub(start).Round(time.Second))
			restarts.Go(func() {
				time.Sleep(o.downFor)
				if err := r.start(ctx); err != nil {
					fmt.Fprintf(stderr, "chaos: replica %d did not come back: %v\n", r.n, err)
				}
			})
		}
	}
	restarts.Wait()
	h.stopping.Store(true)
	stopLoad()
	customers.Wait()
	fmt.Fprintf(stderr, "chaos: load stopped after %s; waiting for the outbox to empty\n", time.Since(start).Round(time.Second))

	store, closeStore, err := chaosStore(ctx, o.config, rs.Addr())
	if err != nil {
		return res, err
	}
	defer closeStore()
	drainEnd := time.Now().Add(o.drain)
	for time.Now().Before(drainEnd) {
		keys, err := store.Backlog(ctx, time.Now().Add(time.Hour), 1)
		if err == nil && len(keys) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := h.check(ctx, store, &res); err != nil {
		return res, err
	}
	return res, nil
}

// answerableQuestions are the questions beside the config before the
// "# unanswerable" line: the chaos customers want answers, not handoffs.
func answerableQuestions(c *Config) []string {
	raw, err := os.ReadFile(filepath.Join(c.dir, "questions.txt"))
	if err != nil {
		return nil
	}
	var qs []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "# unanswerable") {
			break
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			qs = append(qs, line)
		}
	}
	return qs
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// chaosStore opens the replicas' store for the final check.
func chaosStore(ctx context.Context, config, addr string) (conversation.Store, func(), error) {
	getenv := func(k string) string {
		switch k {
		case "TIER0_STORE":
			return "redis"
		case "TIER0_REDIS_ADDR":
			return addr
		}
		return os.Getenv(k)
	}
	c, err := LoadConfig(config, getenv)
	if err != nil {
		return nil, nil, err
	}
	s, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		if cl, ok := s.(io.Closer); ok {
			_ = cl.Close()
		}
	}, nil
}

// sleepThink pauses about the mean think time (0.5..1.5 of it).
func (h *chaosHarness) sleepThink(ctx context.Context, rng *rand.Rand) {
	d := time.Duration(float64(h.o.think) * (0.5 + rng.Float64()))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// chaosGiveUp is how long a customer keeps retrying one message.
const chaosGiveUp = 45 * time.Second

// webCustomer is one web chat visitor: a session, perConv messages, a new
// session, … Each message is retried (same client_msg_id, another
// replica) until a replica accepts it, as the widget and a load balancer
// would.
func (h *chaosHarness) webCustomer(ctx context.Context, n int) {
	rng := rand.New(rand.NewPCG(h.o.seed, uint64(n)))
	for k := 0; ctx.Err() == nil; k++ {
		id, token, ok := h.webSession(ctx, rng)
		if !ok {
			return
		}
		conv := &chaosConv{key: webchat.KeyPrefix + id}
		h.addConv(conv)
		for i := 0; i < h.o.perConv && ctx.Err() == nil; i++ {
			ref := fmt.Sprintf("w%dc%dm%d", n, k, i)
			conv.add(h.webPost(rng, id, token, ref, h.questions[rng.IntN(len(h.questions))]+" (ref "+ref+")"))
			h.sleepThink(ctx, rng)
		}
	}
}

func (h *chaosHarness) webSession(ctx context.Context, rng *rand.Rand) (id, token string, ok bool) {
	for ctx.Err() == nil {
		r := h.pick(rng)
		resp, err := h.http.Post(r.base()+"/api/webchat/sessions", "application/json", nil)
		if err == nil {
			var s struct {
				ID    string `json:"session_id"`
				Token string `json:"token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusCreated {
				return s.ID, s.Token, true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", "", false
}

// webPost sends one message until a replica answers 202 or the customer
// gives up. It is not cut short by the end of the load: a message in
// flight is either accepted or not.
func (h *chaosHarness) webPost(rng *rand.Rand, id, token, ref, text string) chaosMsg {
	m := chaosMsg{ref: ref, start: time.Now()}
	body, _ := json.Marshal(map[string]string{"text": text, "client_msg_id": ref})
	for time.Since(m.start) < chaosGiveUp {
		r := h.pick(rng)
		req, _ := http.NewRequest(http.MethodPost, r.base()+"/api/webchat/sessions/"+id+"/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.http.Do(req)
		wait := 50 * time.Millisecond
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusAccepted:
				m.accepted, m.end = true, time.Now()
				return m
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusConflict:
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
					wait = min(time.Duration(s)*time.Second, time.Second)
				}
			default:
				fmt.Fprintf(h.log, "chaos: web chat message %s refused with HTTP %d\n", ref, resp.StatusCode)
				m.end = time.Now()
				return m
			}
		}
		time.Sleep(wait)
	}
	m.end = time.Now()
	return m
}

// slackCustomer is one Slack user writing direct messages to the bot; a
// new DM channel (conversation) every perConv messages. Events are
// retried with X-Slack-Retry-Num on any answer but 200, as Slack does
// (faster than Slack's 1 and 5 minute delays).
func (h *chaosHarness) slackCustomer(ctx context.Context, n int) {
	rng := rand.New(rand.NewPCG(h.o.seed, uint64(1_000_000+n)))
	team := h.slack.Config().TeamID
	user := fmt.Sprintf("U0CHAOS%d", n)
	for k := 0; ctx.Err() == nil; k++ {
		channel := fmt.Sprintf("D0C%dK%d", n, k)
		conv := &chaosConv{key: "slack:" + team + ":" + channel, slack: channel}
		h.addConv(conv)
		for i := 0; i < h.o.perConv && ctx.Err() == nil; i++ {
			ref := fmt.Sprintf("s%dc%dm%d", n, k, i)
			text := h.questions[rng.IntN(len(h.questions))] + " (ref " + ref + ")"
			conv.add(h.slackPost(rng, team, user, channel, ref, text))
			h.sleepThink(ctx, rng)
		}
	}
}

var slackTSSeq atomic.Int64

func (h *chaosHarness) slackPost(rng *rand.Rand, team, user, channel, ref, text string) chaosMsg {
	m := chaosMsg{ref: ref, start: time.Now()}
	seq := slackTSSeq.Add(1)
	ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), seq%1_000_000)
	body := h.slack.EventCallback("Ev"+strings.ToUpper(ref), slackfake.Event{
		Type: "message", ChannelType: "im", Channel: channel, User: user, Team: team, Text: text, TS: ts,
	})
	for attempt := 0; time.Since(m.start) < chaosGiveUp; attempt++ {
		r := h.pick(rng)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t0 := time.Now()
		resp, err := h.slack.RetryEvent(ctx, r.base()+"/slack/events", body, attempt)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				h.mu.Lock()
				h.slackAcks = append(h.slackAcks, time.Since(t0))
				h.mu.Unlock()
				m.accepted, m.end = true, time.Now()
				return m
			}
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	m.end = time.Now()
	return m
}

var chaosRefRE = regexp.MustCompile(`\(ref ([a-z0-9]+)\)`)

// chaosOutboundID is the engine's id of the i-th message a turn queued
// (sha256 of key, dedupe key and index, as conversation computes it): a
// reply whose id does not match the customer message before it belongs
// to another turn.
func chaosOutboundID(key, dedupe string, i int) string {
	h := sha256.Sum256([]byte(key + "\x00" + dedupe + "\x00" + strconv.Itoa(i)))
	return "o_" + hex.EncodeToString(h[:12])
}

// check reads every conversation from the store and compares it with
// what the customers sent.
func (h *chaosHarness) check(ctx context.Context, store conversation.Store, res *chaosResult) error {
	var kept, all []time.Duration
	var ackDur []time.Duration
	h.mu.Lock()
	convs := slices.Clone(h.convs)
	windows := slices.Clone(h.disrupted)
	crashes := slices.Clone(h.crashes)
	ackDur = slices.Clone(h.slackAcks)
	h.mu.Unlock()
	var posts map[string][]slackfake.Message
	if h.slack != nil {
		posts = map[string][]slackfake.Message{}
		for _, m := range h.slack.Messages() {
			if m.Method == "chat.postMessage" && !m.Deleted {
				posts[m.Channel] = append(posts[m.Channel], m)
			}
		}
	}
	notes := 0
	note := func(format string, args ...any) {
		if notes++; notes <= 20 {
			fmt.Fprintf(h.log, "chaos: "+format+"\n", args...)
		}
	}
	for _, cv := range convs {
		cv.mu.Lock()
		msgs := slices.Clone(cv.msgs)
		cv.mu.Unlock()
		if len(msgs) == 0 {
			continue
		}
		res.conversations++
		order := map[string]int{}
		for i, m := range msgs {
			order[m.ref] = i
			if !m.accepted {
				res.refused++
				continue
			}
			res.accepted++
			d := m.end.Sub(m.start)
			all = append(all, d)
			if !overlaps(windows, m.start, m.end) {
				kept = append(kept, d)
			}
		}
		c, err := store.Load(ctx, cv.key)
		if conversation.ErrorCode(err) == conversation.NotFound {
			c = &conversation.Conversation{Key: cv.key}
		} else if err != nil {
			return fmt.Errorf("bench chaos: load %s: %w", cv.key, err)
		}
		seen := map[string]int{}
		last := -1
		handedOff := false
		botTurns := 0
		for i := 0; i < len(c.History); i++ {
			t := c.History[i]
			if t.Role != conversation.RoleCustomer {
				continue
			}
			ref := ""
			if sm := chaosRefRE.FindStringSubmatch(t.Text); sm != nil {
				ref = sm[1]
			}
			pos, mine := order[ref]
			if !mine {
				res.misrouted++
				note("%s: customer message %q does not belong here", cv.key, ref)
				continue
			}
			seen[ref]++
			if seen[ref] > 1 {
				res.duplicated++
				note("%s: %s handled %d times", cv.key, ref, seen[ref])
			}
			if pos < last {
				res.reordered++
				note("%s: %s after %s", cv.key, ref, msgs[last].ref)
			}
			last = max(last, pos)
			// The replies of this turn follow it, with the ids the engine
			// derives from this message.
			replies := 0
			for j := i + 1; j < len(c.History) && c.History[j].Role != conversation.RoleCustomer; j++ {
				b := c.History[j]
				if b.Role != conversation.RoleBot {
					continue
				}
				if b.MessageID != chaosOutboundID(cv.key, t.MessageID, replies) {
					res.misrouted++
					note("%s: reply %s after %s is not one of its replies", cv.key, b.MessageID, ref)
				}
				replies++
				if b.Kind == conversation.KindHandoff {
					handedOff = true
				}
			}
			botTurns += replies
			switch {
			case replies > 0:
				res.answered++
			case handedOff:
				res.handedOff++
			default:
				res.lost++
				note("%s: %s has no reply", cv.key, ref)
			}
		}
		for _, m := range msgs {
			if m.accepted && seen[m.ref] == 0 {
				res.lost++
				note("%s: accepted %s is not in the history", cv.key, m.ref)
			}
		}
		pending, err := store.Pending(ctx, cv.key, 1000)
		if err != nil {
			return fmt.Errorf("bench chaos: outbox of %s: %w", cv.key, err)
		}
		res.undelivered += len(pending)
		if len(pending) > 0 {
			note("%s: %d replies still in the outbox", cv.key, len(pending))
		}
		if cv.slack != "" {
			switch got := len(posts[cv.slack]); {
			case got > botTurns:
				res.platformDuplicates += got - botTurns
				outside := h.posted.outsideWindow(posts[cv.slack], crashes, got-botTurns)
				res.duplicatesOutsideWindow += outside
				note("%s: %d Slack posts for %d replies (%d not sent just before a crash)", cv.key, got, botTurns, outside)
			case got < botTurns:
				res.undelivered += max(0, botTurns-got-len(pending))
			}
		}
	}
	slices.Sort(kept)
	slices.Sort(all)
	slices.Sort(ackDur)
	res.p99, res.p99All, res.slackAckP99 = pct(kept, 99), pct(all, 99), pct(ackDur, 99)
	fmt.Fprintf(h.log, "chaos: %d of %d accepted messages outside the %s after a disruption; p50 %.1f ms there\n", len(kept), len(all), h.o.quiet, pct(kept, 50))
	return nil
}

// overlaps reports whether [from, to] meets any window.
func overlaps(windows [][2]time.Time, from, to time.Time) bool {
	for _, w := range windows {
		if from.Before(w[1]) && to.After(w[0]) {
			return true
		}
	}
	return false
}

// postTimes records when the fake Slack accepted each chat.postMessage,
// so a platform duplicate can be told apart: inside the documented window
// its first copy was accepted just before a replica died (or Redis
// stopped), before the replica could record the send.
type postTimes struct {
	mu sync.Mutex
	at map[string]time.Time // "<channel> <ts>" → when the post was answered
}

// wrap serves next, noting the channel and ts of each successful post.
func (p *postTimes) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/chat.postMessage") {
			next.ServeHTTP(w, r)
			return
		}
		rec := &capture{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		var body struct {
			OK      bool   `json:"ok"`
			Channel string `json:"channel"`
			TS      string `json:"ts"`
		}
		if json.Unmarshal(rec.body.Bytes(), &body) == nil && body.OK {
			p.mu.Lock()
			p.at[body.Channel+" "+body.TS] = time.Now()
			p.mu.Unlock()
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

// crashWindow is how long before and after a crash a send may have been
// accepted by the platform without the replica recording it.
const crashWindow = 2 * time.Second

// outsideWindow counts the extra posts of one channel that are not
// explained by a crash: for each text posted more than once, its first
// copy must have been accepted within crashWindow of a crash.
func (p *postTimes) outsideWindow(posts []slackfake.Message, crashes []time.Time, extra int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := map[string]time.Time{}
	copies := map[string]int{}
	for _, m := range posts {
		copies[m.Text]++
		if t, ok := p.at[m.Channel+" "+m.TS]; ok && (first[m.Text].IsZero() || t.Before(first[m.Text])) {
			first[m.Text] = t
		}
	}
	explained := 0
	for text, n := range copies {
		if n < 2 {
			continue
		}
		for _, c := range crashes {
			if d := first[text].Sub(c); d > -crashWindow && d < crashWindow {
				explained += n - 1
				break
			}
		}
	}
	return max(0, extra-explained)
}

// capture is a ResponseWriter that keeps what was written.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) WriteHeader(status int)      { c.status = status }
func (c *capture) Write(b []byte) (int, error) { return c.body.Write(b) }
