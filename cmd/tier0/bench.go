package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// benchOptions are the flags of tier0 bench.
type benchOptions struct {
	config        string
	mode          string
	conversations int
	rate          float64
	duration      time.Duration
	drain         time.Duration
	redisAddr     string
	dupShare      float64
	questions     string
	knowledge     string
	cpuProfile    string
}

// runBench drives many concurrent conversations through the engine on a
// real Redis at a fixed offered rate (open loop, like real users who do not
// wait for each other) and prints one RESULT line.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "knowledge" {
		return runBenchKnowledge(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "actions" {
		return runBenchActions(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "chaos" {
		return runBenchChaos(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "slack" {
		return runBenchSlack(ctx, args[1:], stdout, stderr)
	}
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", DefaultConfigPath, "configuration whose knowledge answers the questions")
	fs.StringVar(&o.mode, "mode", "engine", "engine: call the engine directly; http: go through the web chat HTTP API")
	fs.IntVar(&o.conversations, "conversations", 10000, "concurrent conversations")
	fs.Float64Var(&o.rate, "rate", 2500, "offered load in turns per second")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to offer load")
	fs.DurationVar(&o.drain, "drain", 15*time.Second, "how long to wait for the last replies")
	fs.StringVar(&o.redisAddr, "redis", "", "Redis address (default: start a private redis-server for the run)")
	fs.Float64Var(&o.dupShare, "duplicates", 0.02, "share of messages delivered twice, like a platform retry")
	fs.StringVar(&o.questions, "questions", "", "file with one question per line (default: questions.txt beside the config)")
	fs.StringVar(&o.knowledge, "knowledge", "index", "index: answer from the real knowledge index; fixed: a constant cited answer, to measure the engine and Redis alone")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.mode != "engine" && o.mode != "http" {
		return fmt.Errorf("bench: -mode %q: want engine or http", o.mode)
	}
	if o.knowledge != "index" && o.knowledge != "fixed" {
		return fmt.Errorf("bench: -knowledge %q: want index or fixed", o.knowledge)
	}
	if o.conversations <= 0 || o.rate <= 0 || o.duration <= 0 {
		return errors.New("bench: -conversations, -rate and -duration must be positive")
	}
	return bench(ctx, o, stdout, stderr)
}

// benchRecorder is the bench channel's Sender: it records when each
// inbound message got its reply, and how many distinct replies it got.
type benchRecorder struct {
	mu      sync.Mutex
	sent    map[string]time.Time // dedupe key → when the customer sent it
	replied map[string]int       // dedupe key → distinct customer replies
	seenIDs map[string]bool      // outbound ids delivered (retries of one id are not duplicates)
	lat     []time.Duration
	convOf  map[string]int // dedupe key → conversation number
	// accepted are the messages the engine took (one delivery returned
	// nil); only those must get a reply.
	accepted map[string]bool
	handoff  map[int]bool // conversations handed to a human: the bench stops writing to them
	next     func(ctx context.Context, o conversation.Outbound) error
}

// forget drops what the recorder collected, so the heap measured after a
// run holds the conversations' cost, not the bench's. A late Send still
// finds maps to write to.
func (r *benchRecorder) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent, r.replied, r.seenIDs, r.convOf = map[string]time.Time{}, map[string]int{}, map[string]bool{}, map[string]int{}
	r.accepted, r.handoff, r.lat = map[string]bool{}, map[int]bool{}, nil
}

func (r *benchRecorder) Send(ctx context.Context, o conversation.Outbound) error {
	if r.next != nil {
		if err := r.next(ctx, o); err != nil {
			return err
		}
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seenIDs[o.ID] {
		return nil
	}
	r.seenIDs[o.ID] = true
	r.replied[o.InReplyTo]++
	if t, ok := r.sent[o.InReplyTo]; ok && r.replied[o.InReplyTo] == 1 {
		r.lat = append(r.lat, now.Sub(t))
	}
	if o.Kind == conversation.KindHandoff {
		r.handoff[r.convOf[o.InReplyTo]] = true
	}
	return nil
}

func bench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	c, err := LoadConfig(o.config, os.Getenv)
	if err != nil {
		return err
	}
	questions, err := loadQuestions(o, c)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tier0-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	addr := o.redisAddr
	if addr == "" {
		srv, err := redistest.StartProcess(ctx, filepath.Join(tmp, "redis"))
		if err != nil {
			return fmt.Errorf("bench: start a private redis-server (or pass -redis ADDR): %w", err)
		}
		defer srv.Close()
		addr = srv.Addr()
	}
	fmt.Fprintf(stderr, "bench: redis at %s, %d conversations, %.0f turns/s offered for %s (mode %s)\n", addr, o.conversations, o.rate, o.duration, o.mode)

	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, Protocol: 2}) // as serve (see openStore)
	defer client.Close()
	// A prefix as short as the default "tier0" (every key carries it, so a
	// longer one would count against the bytes per conversation), unique
	// per run on a shared Redis.
	prefix := "b" + strconv.FormatInt(time.Now().UnixNano()%(36*36*36*36), 36)
	baseline, err := redisBaseline(ctx, client, prefix, 2*time.Second)
	if err != nil {
		return err
	}
	memBefore, err := redisUsedMemory(ctx, client)
	if err != nil {
		return err
	}

	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		return err
	}
	c.DataDir = filepath.Join(tmp, "data")
	log := newLogger(stderr, "error")
	var know conversation.Knowledge = fixedKnowledge{}
	if o.knowledge == "index" {
		_, ans, err := openKnowledge(ctx, c, true, io.Discard, log)
		if err != nil {
			return err
		}
		know = ans
	}
	// The events go where serve sends them: Prometheus metrics and the
	// analytics counters in the store.
	engine, closeEngine, err := benchEngine(c, store, know, log)
	if err != nil {
		return err
	}
	defer closeEngine()
	rec := &benchRecorder{sent: map[string]time.Time{}, replied: map[string]int{}, seenIDs: map[string]bool{}, convOf: map[string]int{}, handoff: map[int]bool{}, accepted: map[string]bool{}}
	d := conversation.NewDispatcher(store, conversation.DispatcherConfig{Logger: log, Workers: 64})
	engine.DeliverWith(d)
	dctx, stopDeliver := context.WithCancel(ctx)
	defer stopDeliver()
	delivering := make(chan struct{})
	go func() { _ = d.Run(dctx); close(delivering) }()

	var send func(ctx context.Context, conv int, m conversation.Message) error
	// storeKey is the store's key of a bench conversation.
	storeKey := func(conv int) string { return fmt.Sprintf("bench:%d", conv) }
	channel := conversation.Channel("bench")
	switch o.mode {
	case "engine":
		d.Register(channel, rec)
		send = func(ctx context.Context, _ int, m conversation.Message) error {
			_, err := engine.Handle(ctx, m)
			return err
		}
	case "http":
		channel = conversation.ChannelWebChat
		hb, err := newHTTPBench(ctx, engine, store, log, o.conversations)
		if err != nil {
			return err
		}
		defer hb.close()
		rec.next = hb.adapter.Send
		d.Register(channel, rec)
		send = hb.post
		storeKey = func(conv int) string { return webchat.KeyPrefix + hb.ids[conv] }
	}

	var (
		handled, failed, offered, skipped, refused atomic.Int64
		handleLat                                  latencies
		wg                                         sync.WaitGroup
		busy                                       = make([]atomic.Bool, o.conversations)
		turnNo                                     = make([]int, o.conversations)
	)
	heapBefore := liveHeap()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.rate)
	next := 0
	rng := rand.New(rand.NewPCG(1, 2))
	bar := newProgress(stderr, "bench")
	total := int(o.rate * o.duration.Seconds())
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		bar.update(i, total)
		offered.Add(1)
		// Round-robin over conversations; one in flight per conversation,
		// as a person waits for the answer before typing again.
		conv := -1
		for k := 0; k < o.conversations; k++ {
			cand := (next + k) % o.conversations
			if !busy[cand].Load() {
				conv = cand
				break
			}
		}
		next = (conv + 1) % o.conversations
		if conv < 0 {
			skipped.Add(1)
			continue
		}
		key := fmt.Sprintf("bench:%d", conv)
		rec.mu.Lock()
		handedOff := rec.handoff[conv]
		rec.mu.Unlock()
		if handedOff {
			skipped.Add(1)
			continue
		}
		turnNo[conv]++
		m := conversation.Message{
			Channel:         channel,
			ConversationKey: key,
			DedupeKey:       fmt.Sprintf("%s:%d", key, turnNo[conv]),
			User:            conversation.Identity{ID: fmt.Sprintf("user-%d", conv)},
			Text:            questions[rng.IntN(len(questions))],
		}
		dup := rng.Float64() < o.dupShare
		busy[conv].Store(true)
		rec.mu.Lock()
		rec.sent[m.DedupeKey] = time.Now()
		rec.convOf[m.DedupeKey] = conv
		rec.mu.Unlock()
		wg.Go(func() {
			defer busy[conv].Store(false)
			var inner sync.WaitGroup
			deliveries := 1
			if dup {
				deliveries = 2
			}
			for range deliveries {
				inner.Go(func() {
					t0 := time.Now()
					err := send(ctx, conv, m)
					handleLat.add(time.Since(t0))
					if errors.Is(err, conversation.ErrOverloaded) {
						refused.Add(1) // admission control: explicit, not lost
						return
					}
					if err != nil {
						failed.Add(1)
						log.Error("bench turn failed", "err", err)
						return
					}
					handled.Add(1)
					rec.mu.Lock()
					rec.accepted[m.DedupeKey] = true
					rec.mu.Unlock()
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	bar.finish()
	loadTime := time.Since(start)

	// Wait until every accepted message has its reply, or the drain ends.
	deadline := time.Now().Add(o.drain)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		pending := len(rec.accepted) - len(rec.replied)
		rec.mu.Unlock()
		if pending <= 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopDeliver()
	<-delivering // sends in flight finish (and are acked) before the outbox is read

	rec.mu.Lock()
	duplicated := 0
	unanswered := map[string]string{} // dedupe key → conversation key
	for k := range rec.accepted {
		switch n := rec.replied[k]; {
		case n == 0:
			unanswered[k] = storeKey(rec.convOf[k])
		case n > 1:
			duplicated++
		}
	}
	lat := slices.Clone(rec.lat)
	turns := len(rec.accepted) // refused and failed messages are not turns
	rec.mu.Unlock()
	slices.Sort(lat)
	pprof.StopCPUProfile() // the load and the last deliveries, not the checks below
	missing, err := classifyMissing(ctx, store, unanswered)
	if err != nil {
		return err
	}

	memAfter, err := redisUsedMemory(ctx, client)
	if err != nil {
		return err
	}
	footprint, err := sampleRedisFootprint(ctx, client, prefix, turnNo)
	if err != nil {
		return err
	}
	if o.redisAddr != "" { // someone else's Redis: leave it as we found it
		if err := deletePrefix(ctx, client, prefix); err != nil {
			fmt.Fprintf(stderr, "bench: could not remove the run's keys (prefix %s): %v\n", prefix, err)
		}
	}
	convs := min(o.conversations, turns)
	bytesPer := int64(0)
	if convs > 0 {
		bytesPer = (memAfter - memBefore) / int64(convs)
	}
	hl := handleLat.sorted()
	fmt.Fprintf(stderr, "bench: accepting a message (until its reply is committed): p50 %.1f ms, p99 %.1f ms\n", pct(hl, 50), pct(hl, 99))
	fmt.Fprintf(stderr, "bench: %d unanswered messages went to conversations already handed to a person (relayed, not lost)\n", missing.relayed)
	fmt.Fprintf(stderr, "bench: offered %d, skipped %d (conversation busy or handed off), handled %d deliveries, %d failed, load phase %s\n",
		offered.Load(), skipped.Load(), handled.Load(), failed.Load(), loadTime.Round(time.Millisecond))
	fmt.Fprintf(stdout, "RESULT mode=%s knowledge=%s conversations=%d turns=%d turns_per_sec=%.0f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f late=%d lost=%d duplicated=%d refused=%d errors=%d redis_ops_per_sec=%.0f bytes_per_conversation=%d\n",
		o.mode, o.knowledge, convs, turns, float64(turns)/loadTime.Seconds(), pct(lat, 50), pct(lat, 95), pct(lat, 99), missing.late, missing.lost, duplicated, refused.Load(), failed.Load(), baseline, bytesPer)
	// The heap of idle conversations: without the bench's own records.
	rec.forget()
	lat, hl, handleLat.d = nil, nil, nil
	printMemory(stdout, convs, bytesPer, footprint, heapBefore, liveHeap())
	return nil
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) sorted() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.d)
	slices.Sort(out)
	return out
}

// fixedKnowledge answers every question with the same cited passage, so a
// bench run measures the engine, the store and delivery without retrieval.
type fixedKnowledge struct{}

func (fixedKnowledge) Answer(context.Context, conversation.Query) (conversation.Answer, error) {
	return conversation.Answer{
		Text:      "Reset your password at https://password.northwind.example; it takes about five minutes.",
		Citations: []conversation.Citation{{Title: "Reset your password", Source: "password-reset.md", URL: "https://it.northwind.example/kb/password-reset"}},
		Score:     1, Confident: true,
	}, nil
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return float64(sorted[i].Microseconds()) / 1000
}

// loadQuestions reads the answerable questions (before "# unanswerable")
// and the unanswerable ones: a realistic mix.
func loadQuestions(o benchOptions, c *Config) ([]string, error) {
	path := o.questions
	if path == "" {
		path = filepath.Join(c.dir, "questions.txt")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench questions: %w", err)
	}
	var qs []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			qs = append(qs, line)
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("bench questions: %s has no questions", path)
	}
	return qs, nil
}

// redisBaseline measures raw round trips (SET then GET of small values)
// from 64 goroutines: the ceiling the engine's Redis traffic runs under.
func redisBaseline(ctx context.Context, client *redis.Client, prefix string, d time.Duration) (float64, error) {
	var ops atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	var firstErr atomic.Value
	for g := range 64 {
		wg.Go(func() {
			key := fmt.Sprintf("%s:baseline:%d", prefix, g)
			for time.Now().Before(end) {
				if err := client.Set(ctx, key, "x", time.Minute).Err(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if err := client.Get(ctx, key).Err(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(2)
			}
			client.Del(ctx, key)
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, fmt.Errorf("redis baseline: %w", err)
	}
	return float64(ops.Load()) / d.Seconds(), nil
}

// deletePrefix removes every key that starts with prefix.
func deletePrefix(ctx context.Context, client *redis.Client, prefix string) error {
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := client.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return client.Unlink(ctx, batch...).Err()
	}
	return nil
}

func redisUsedMemory(ctx context.Context, client *redis.Client) (int64, error) {
	info, err := client.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("redis INFO memory: no used_memory")
}

// httpBench drives the web chat HTTP API: one session per conversation.
type httpBench struct {
	adapter *webchat.Adapter
	srv     *http.Server
	base    string
	client  *http.Client
	tokens  []string
	ids     []string
}

func newHTTPBench(ctx context.Context, engine *conversation.Engine, store conversation.Store, log *slog.Logger, n int) (*httpBench, error) {
	secret := make([]byte, 32)
	if _, err := crand.Read(secret); err != nil {
		return nil, err
	}
	ad, err := webchat.New(webchat.Config{Secret: secret, RatePerMinute: 6000, RateBurst: 100, MaxRateBuckets: n + 100}, engine, store, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &httpBench{
		adapter: ad,
		srv:     &http.Server{Handler: ad.Handler(), ReadHeaderTimeout: 10 * time.Second},
		base:    "http://" + ln.Addr().String(),
		client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		tokens:  make([]string, n),
		ids:     make([]string, n),
	}
	go func() { _ = h.srv.Serve(ln) }()
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/webchat/sessions", nil)
		if err != nil {
			return nil, err
		}
		resp, err := h.client.Do(req)
		if err != nil {
			h.close()
			return nil, fmt.Errorf("create session: %w", err)
		}
		var s struct {
			ID    string `json:"session_id"`
			Token string `json:"token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			h.close()
			return nil, fmt.Errorf("create session: HTTP %d: %v", resp.StatusCode, err)
		}
		h.ids[i], h.tokens[i] = s.ID, s.Token
	}
	return h, nil
}

func (h *httpBench) close() {
	_ = h.adapter.Close()
	_ = h.srv.Close()
}

func (h *httpBench) post(ctx context.Context, conv int, m conversation.Message) error {
	body, _ := json.Marshal(map[string]string{"text": m.Text, "client_msg_id": m.DedupeKey})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/api/webchat/sessions/"+h.ids[conv]+"/messages", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens[conv])
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("POST message: HTTP 429: %w", conversation.ErrOverloaded)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST message: HTTP %d", resp.StatusCode)
	}
	return nil
}
