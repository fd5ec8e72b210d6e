package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// slackBenchOptions are the flags of tier0 bench slack.
type slackBenchOptions struct {
	config    string
	rate      float64
	duration  time.Duration
	users     int
	knowledge string
	drain     time.Duration
	profile   string
}

// runBenchSlack is tier0 bench slack: signed Events API requests at a
// fixed rate through the real Slack handler on an HTTP server, the engine
// on a private redis-server, replies to the fake Slack Web API.
func runBenchSlack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o slackBenchOptions
	fs := flag.NewFlagSet("bench slack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", DefaultConfigPath, "configuration whose knowledge answers the questions")
	fs.Float64Var(&o.rate, "rate", 1000, "events per second offered")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to offer load")
	fs.IntVar(&o.users, "users", 5000, "Slack users, each in a direct message with the bot")
	fs.StringVar(&o.knowledge, "knowledge", "index", "index: answer from the knowledge index; fixed: a constant cited answer")
	fs.DurationVar(&o.drain, "drain", 20*time.Second, "how long to wait for the last replies")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the load phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.rate <= 0 || o.duration <= 0 || o.users <= 0 {
		return errors.New("bench slack: -rate, -duration and -users must be positive")
	}
	if o.knowledge != "index" && o.knowledge != "fixed" {
		return fmt.Errorf("bench slack: -knowledge %q: want index or fixed", o.knowledge)
	}
	return benchSlack(ctx, o, stdout, stderr)
}

// turnCounter is the engine as the Slack adapter sees it, counting the
// committed (not duplicate) turns of each inbound message.
type turnCounter struct {
	*conversation.Engine
	mu    sync.Mutex
	turns map[string]int // dedupe key → committed turns
}

func (t *turnCounter) Handle(ctx context.Context, m conversation.Message) (conversation.Result, error) {
	res, err := t.Engine.Handle(ctx, m)
	if err == nil && !res.Duplicate {
		t.mu.Lock()
		t.turns[m.DedupeKey]++
		t.mu.Unlock()
	}
	return res, err
}

func benchSlack(ctx context.Context, o slackBenchOptions, stdout, stderr io.Writer) error {
	c, err := LoadConfig(o.config, os.Getenv)
	if err != nil {
		return err
	}
	questions, err := loadQuestions(benchOptions{}, c)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tier0-bench-slack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	srv, err := redistest.StartProcess(ctx, filepath.Join(tmp, "redis"))
	if err != nil {
		return fmt.Errorf("bench slack: start a private redis-server: %w", err)
	}
	defer srv.Close()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		return err
	}
	c.DataDir = filepath.Join(tmp, "data")
	log := newLogger(stderr, "error")
	var know conversation.Knowledge = fixedKnowledge{}
	if o.knowledge == "index" {
		if _, know, err = openKnowledge(ctx, c, true, io.Discard, log); err != nil {
			return err
		}
	}
	engine, closeEngine, err := benchEngine(c, store, know, log)
	if err != nil {
		return err
	}
	defer closeEngine()
	counter := &turnCounter{Engine: engine, turns: map[string]int{}}

	users := make([]slackfake.User, o.users) // known to users.info, as real members are
	for i := range users {
		users[i] = slackfake.User{ID: "U0B" + strconv.Itoa(i), Name: "user" + strconv.Itoa(i), RealName: "Bench User " + strconv.Itoa(i), Locale: "en-US"}
	}
	fake, err := slackfake.Start(slackfake.Config{Users: users})
	if err != nil {
		return err
	}
	defer fake.Close()
	fc := fake.Config()
	ad, err := slack.New(slack.Config{BotToken: fc.BotToken, SigningSecret: fc.SigningSecret, APIURL: fake.APIURL(),
		PlaceholderAfter: -1, Logger: log}, counter, store)
	if err != nil {
		return err
	}
	if err := ad.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = ad.Close(cctx)
	}()
	d := conversation.NewDispatcher(store, conversation.DispatcherConfig{Logger: log, Workers: 64})
	d.Register(conversation.ChannelSlack, ad.Sender())
	engine.DeliverWith(d)
	dctx, stopDeliver := context.WithCancel(ctx)
	defer stopDeliver()
	go func() { _ = d.Run(dctx) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/slack/events", ad.EventsHandler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/slack/events"
	fmt.Fprintf(stderr, "bench slack: %.0f events/s for %s over %d direct messages (knowledge %s), redis %s\n", o.rate, o.duration, o.users, o.knowledge, srv.Addr())

	var (
		acks             latencies
		acked, non200    atomic.Int64
		failed, attempts atomic.Int64
		wg               sync.WaitGroup
		sent             = map[string]bool{} // dedupe keys of the events offered
		sentMu           sync.Mutex
	)
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	total := int(o.rate * o.duration.Seconds())
	interval := time.Duration(float64(time.Second) / o.rate)
	// The events are written before the load starts, so the harness's own
	// JSON work does not compete with the door it measures.
	type benchEvent struct {
		channel, ts string
		body        []byte
	}
	events := make([]benchEvent, total)
	base := time.Now().Unix()
	for i := range events {
		user := i % o.users
		e := &events[i]
		e.channel = "D0B" + strconv.Itoa(user)
		e.ts = fmt.Sprintf("%d.%06d", base+int64(i/1_000_000), i%1_000_000)
		e.body = fake.EventCallback("EvB"+strconv.Itoa(i), slackfake.Event{
			Type: "message", ChannelType: "im", Channel: e.channel, User: "U0B" + strconv.Itoa(user), Team: fc.TeamID,
			Text: questions[i%len(questions)], TS: e.ts,
		})
	}
	bar := newProgress(stderr, "bench slack")
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		bar.update(i, total)
		channel, ts, body := events[i].channel, events[i].ts, events[i].body
		sentMu.Lock()
		sent[channel+":"+ts] = true
		sentMu.Unlock()
		wg.Go(func() {
			// Slack retries an event that got no 200 three times (at once,
			// after 1 and after 5 minutes); here after 1, 2 and 4 seconds.
			backoff := time.Second
			for attempt := 0; attempt < 4; attempt++ {
				attempts.Add(1)
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				t0 := time.Now()
				resp, err := fake.RetryEvent(rctx, url, body, attempt)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				cancel()
				acks.add(time.Since(t0))
				if err == nil && resp.StatusCode == http.StatusOK {
					acked.Add(1)
					return
				}
				if n := non200.Add(1); n <= 3 {
					if err != nil {
						fmt.Fprintf(stderr, "bench slack: event not acknowledged: %v\n", err)
					} else {
						fmt.Fprintf(stderr, "bench slack: event answered HTTP %d\n", resp.StatusCode)
					}
				}
				time.Sleep(backoff)
				backoff *= 2
			}
			failed.Add(1)
		})
	}
	wg.Wait()
	bar.finish()
	loadTime := time.Since(start)

	// Every acknowledged event must become exactly one turn and one reply.
	deadline := time.Now().Add(o.drain)
	for time.Now().Before(deadline) && len(fake.Calls("chat.postMessage")) < int(acked.Load()) {
		time.Sleep(100 * time.Millisecond)
	}
	stopDeliver()
	counter.mu.Lock()
	missing, doubled, turns, stray := 0, 0, 0, 0
	for key := range sent {
		n := counter.turns[key] // the adapter's dedupe key: "<channel>:<ts>"
		turns += n
		switch {
		case n == 0:
			missing++
		case n > 1:
			doubled++
		}
	}
	for key := range counter.turns {
		if !sent[key] {
			stray++
		}
	}
	counter.mu.Unlock()
	replies := len(fake.Calls("chat.postMessage"))
	a := acks.sorted()
	fmt.Fprintf(stderr, "bench slack: %d requests for %d events (%d not answered 200, retried), load phase %s\n", attempts.Load(), total, non200.Load(), loadTime.Round(time.Millisecond))
	fmt.Fprintf(stdout, "RESULT mode=slack knowledge=%s events=%d events_per_sec=%.0f acked=%d ack_p50_ms=%.1f ack_p99_ms=%.1f ack_max_ms=%.1f not_200=%d turns=%d missing=%d duplicated=%d stray=%d replies=%d unacked=%d\n",
		o.knowledge, total, float64(total)/loadTime.Seconds(), acked.Load(), pct(a, 50), pct(a, 99), pct(a, 100), non200.Load(), turns, missing, doubled, stray, replies, failed.Load())
	return nil
}
