package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/actions/fakebackend"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// `tier0 bench actions` drives conversations that run the shop sample's
// actions against the fake shop back end (in process, on loopback, with
// a set latency) on a private redis-server: most ask for an order's
// status (question, e-mail, status), some start a return (question,
// e-mail, reason button, confirmation). A share of messages is delivered
// twice at once, like a platform retry. It prints one RESULT line: turns
// per second, the latency of a turn until its reply is committed with the
// back end's set latency taken off the turns that call it, and the side
// effects at the back end against the confirmations the engine accepted.

type benchActionsOptions struct {
	config        string
	conversations int
	rate          float64
	duration      time.Duration
	latency       time.Duration
	dupShare      float64
	returnShare   float64
	redisAddr     string
}

func runBenchActions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o benchActionsOptions
	fs := flag.NewFlagSet("bench actions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "configs/shop/tier0.yaml", "configuration whose actions run (the shop sample)")
	fs.IntVar(&o.conversations, "conversations", 2000, "concurrent conversations")
	fs.Float64Var(&o.rate, "rate", 600, "offered load in turns per second")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to offer load")
	fs.DurationVar(&o.latency, "backend-latency", 5*time.Millisecond, "the fake back end's own latency per request (taken off the turns that call it)")
	fs.Float64Var(&o.dupShare, "duplicates", 0.02, "share of messages delivered twice at once, like a platform retry")
	fs.Float64Var(&o.returnShare, "returns", 0.2, "share of conversations that start a return (a POST with confirmation) instead of asking for a status")
	fs.StringVar(&o.redisAddr, "redis", "", "Redis address (default: start a private redis-server for the run)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.conversations <= 0 || o.rate <= 0 || o.duration <= 0 || o.latency < 0 {
		return errors.New("bench actions: -conversations, -rate and -duration must be positive")
	}
	return benchActions(ctx, o, stdout, stderr)
}

// actionScript is what one conversation says, turn by turn; backend
// marks the turn that calls the back end.
type actionStep struct {
	text    string
	click   *conversation.Action
	backend bool
	confirm bool
}

var (
	statusScript = []actionStep{{text: "Wo ist meine Bestellung 10042?"}, {text: "max@example.com", backend: true}}
	returnScript = []actionStep{
		{text: "Ich möchte meine Bestellung 10042 zurückschicken"}, {text: "max@example.com"},
		{click: &conversation.Action{ID: conversation.ActionChoose, Value: "size"}},
		{click: &conversation.Action{ID: conversation.ActionConfirm}, backend: true, confirm: true},
	}
)

func benchActions(ctx context.Context, o benchActionsOptions, stdout, stderr io.Writer) error {
	shop := fakebackend.NewShop(fakebackend.Config{Token: "bench-token", Latency: o.latency})
	backend := httptest.NewServer(shop)
	defer backend.Close()
	env := map[string]string{"TIER0_SHOP_API_URL": backend.URL, "TIER0_SHOP_API_TOKEN": "bench-token"}
	c, err := LoadConfig(o.config, func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tier0-bench-actions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	addr := o.redisAddr
	if addr == "" {
		srv, err := redistest.StartProcess(ctx, filepath.Join(tmp, "redis"))
		if err != nil {
			return fmt.Errorf("bench actions: start a private redis-server (or pass -redis ADDR): %w", err)
		}
		defer srv.Close()
		addr = srv.Addr()
	}
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, Protocol: 2})
	defer client.Close()
	prefix := fmt.Sprintf("bencha%d", time.Now().UnixNano())
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		return err
	}
	log := newLogger(stderr, "error")
	acts, err := buildActions(c)
	if err != nil {
		return err
	}
	// No per-user limit: the bench's customers ask far more often than people do.
	acts.PerUser, acts.PerAction = conversation.RateLimit{Runs: -1}, conversation.RateLimit{Runs: -1}
	engine := conversation.NewEngine(store, fixedKnowledge{}, nil, conversation.EngineConfig{Actions: acts, Logger: log})
	fmt.Fprintf(stderr, "bench actions: redis at %s, fake shop at %s (latency %s), %d conversations, %.0f turns/s for %s\n", addr, backend.URL, o.latency, o.conversations, o.rate, o.duration)

	var (
		wg                       sync.WaitGroup
		lat                      latencies
		turns, failed, skipped   atomic.Int64
		overloaded               atomic.Int64
		confirmsOK, wrongReplies atomic.Int64
		busy                     = make([]atomic.Bool, o.conversations)
		step                     = make([]int, o.conversations)
		round                    = make([]int, o.conversations)
		script                   = make([][]actionStep, o.conversations)
		rng                      = rand.New(rand.NewPCG(3, 4))
	)
	for i := range script {
		script[i] = statusScript
		if rng.Float64() < o.returnShare {
			script[i] = returnScript
		}
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.rate)
	total := int(o.rate * o.duration.Seconds())
	next := 0
	bar := newProgress(stderr, "bench")
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		bar.update(i, total)
		conv := -1
		for k := 0; k < o.conversations; k++ {
			if cand := (next + k) % o.conversations; !busy[cand].Load() {
				conv = cand
				break
			}
		}
		if conv < 0 {
			skipped.Add(1)
			continue
		}
		next = (conv + 1) % o.conversations
		st := script[conv][step[conv]]
		key := fmt.Sprintf("bench:%d", conv)
		m := conversation.Message{Channel: conversation.ChannelWebChat, ConversationKey: key,
			DedupeKey: fmt.Sprintf("%s:%d:%d", key, round[conv], step[conv]),
			User:      conversation.Identity{ID: fmt.Sprintf("visitor-%d", conv)}, Text: st.text, Action: st.click}
		deliveries := 1
		if rng.Float64() < o.dupShare {
			deliveries = 2
		}
		busy[conv].Store(true)
		wg.Go(func() {
			defer busy[conv].Store(false)
			var inner sync.WaitGroup
			var accepted atomic.Int64
			for range deliveries {
				inner.Go(func() {
					t0 := time.Now()
					res, err := engine.Handle(ctx, m)
					d := time.Since(t0)
					if errors.Is(err, conversation.ErrOverloaded) {
						// Refused at the door, like a platform told to retry:
						// the simulated customer sends it again later.
						overloaded.Add(1)
						return
					}
					if err != nil {
						failed.Add(1)
						log.Error("bench turn failed", "err", err)
						return
					}
					if res.Duplicate {
						accepted.Add(1) // the other delivery committed it
						return
					}
					if st.backend {
						d -= o.latency
					}
					lat.add(d)
					turns.Add(1)
					accepted.Add(1)
					if st.backend && (len(res.Outbound) == 0 || res.Outbound[0].Kind != conversation.KindAnswer) {
						wrongReplies.Add(1)
					}
				})
			}
			inner.Wait()
			if accepted.Load() > 0 {
				// The next message of the script only once this one is in.
				step[conv]++
				if step[conv] == len(script[conv]) {
					step[conv], round[conv] = 0, round[conv]+1
				}
				if st.confirm {
					confirmsOK.Add(1)
				}
			}
		})
	}
	wg.Wait()
	bar.finish()
	loadTime := time.Since(start)
	sorted := lat.sorted()
	stats := shop.Stats()
	duplicated := max(int64(stats.Effects)-confirmsOK.Load(), 0)
	if o.redisAddr != "" {
		if err := deletePrefix(ctx, client, prefix); err != nil {
			fmt.Fprintf(stderr, "bench actions: could not remove the run's keys (prefix %s): %v\n", prefix, err)
		}
	}
	fmt.Fprintf(stderr, "bench actions: %d turns refused as overloaded (sent again later)\n", overloaded.Load())
	fmt.Fprintf(stderr, "bench actions: %d turns committed, %d skipped (conversation busy), %d failed, %d answers that were not a result; back end: %d POSTs, %d effects, %d confirmations accepted\n",
		turns.Load(), skipped.Load(), failed.Load(), wrongReplies.Load(), stats.Posts, stats.Effects, confirmsOK.Load())
	fmt.Fprintf(stdout, "RESULT mode=actions conversations=%d turns=%d turns_per_sec=%.0f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f backend_latency_ms=%.0f posts=%d effects=%d confirmations=%d duplicated_effects=%d not_results=%d overloaded=%d errors=%d\n",
		o.conversations, turns.Load(), float64(turns.Load())/loadTime.Seconds(), pct(sorted, 50), pct(sorted, 95), pct(sorted, 99),
		float64(o.latency)/float64(time.Millisecond), stats.Posts, stats.Effects, confirmsOK.Load(), duplicated, wrongReplies.Load(), overloaded.Load(), failed.Load())
	return nil
}
