package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tier0/tier0/adapters/agentconsole"
	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/metrics"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/knowledge"
)

// Main is the tier0 server. Tests run the whole server in-process:
//
//	m := NewMain(); m.ParseFlags(ctx, []string{"-config", path, "-listen", "127.0.0.1:0"})
//	m.Run(ctx); defer m.Close(); http.Get("http://" + m.Addr() + "/healthz")
type Main struct {
	ConfigPath string
	Config     *Config
	Getenv     func(string) string
	Stdout     io.Writer
	Stderr     io.Writer
	Logger     *slog.Logger

	store      conversation.Store
	index      *knowledge.Index
	engine     *conversation.Engine
	dispatcher *conversation.Dispatcher
	webchat    *webchat.Adapter
	console    *agentconsole.Console // nil without agent accounts
	stats      *analytics.Recorder   // nil when the store keeps no analytics
	channels   *channels             // chat platforms beyond the web chat
	liveHub    *redisstore.LiveHub
	metrics    *prometheus.Registry // what GET /metrics serves
	ln         net.Listener
	srv        *http.Server

	stopDeliver context.CancelFunc
	delivered   chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

// NewMain returns a Main reading the process environment and writing to
// the process's stdout and stderr.
func NewMain() *Main {
	return &Main{Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr}
}

// ParseFlags reads serve's flags and loads the configuration.
func (m *Main) ParseFlags(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.StringVar(&m.ConfigPath, "config", DefaultConfigPath, "configuration file")
	listen := fs.String("listen", "", "HTTP listen address (overrides the config and TIER0_LISTEN)")
	dataDir := fs.String("data", "", "data directory (overrides the config and TIER0_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	getenv := m.Getenv
	m.Getenv = func(k string) string {
		switch {
		case k == "TIER0_LISTEN" && *listen != "":
			return *listen
		case k == "TIER0_DATA_DIR" && *dataDir != "":
			return *dataDir
		}
		return getenv(k)
	}
	c, err := LoadConfig(m.ConfigPath, m.Getenv)
	if err != nil {
		return err
	}
	m.Config = c
	return nil
}

// Run opens the store and the knowledge index (ingesting on first start),
// starts delivery and the HTTP server, and returns once it is listening.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if c == nil {
		return errors.New("serve: Run before ParseFlags")
	}
	if m.Logger == nil {
		m.Logger = newLogger(m.Stderr, c.LogLevel)
	}
	log := m.Logger
	var err error
	if m.store, err = openStore(ctx, c); err != nil {
		return err
	}
	var ans conversation.Knowledge
	if m.index, ans, err = openKnowledge(ctx, c, *c.Knowledge.IngestOnStart, m.Stderr, log); err != nil {
		return err
	}
	m.metrics = newMetricsRegistry()
	// The engine's events go to the metrics, the analytics shared by all
	// replicas (in the store) and, added below, the console's live streams.
	events, stats, err := eventSinks(m.metrics, m.store, log)
	if err != nil {
		return err
	}
	m.stats = stats
	if m.engine, err = newEngine(c, m.store, ans, events, log); err != nil {
		return err
	}
	secret, err := webchatSecret(c)
	if err != nil {
		return err
	}
	// With Redis, replies travel between replicas, so a visitor's live
	// stream may be held by any of them.
	var hub webchat.Hub
	if rs, ok := m.store.(*redisstore.Store); ok {
		m.liveHub, err = redisstore.NewLiveHub(ctx, rs.Client(), rs.Config().Prefix+":live:webchat", webchat.NewMemoryHub(webchat.HubConfig{}), log)
		if err != nil {
			return fmt.Errorf("web chat live hub: %w", err)
		}
		hub = m.liveHub
	}
	m.webchat, err = webchat.New(webchat.Config{
		Hub:            hub,
		Secret:         secret,
		SessionTTL:     c.WebChat.SessionTTL,
		RatePerMinute:  c.WebChat.RatePerMinute,
		Title:          c.WebChat.Title,
		Welcome:        c.WebChat.Welcome,
		Welcomes:       c.WebChat.WelcomeByLanguage,
		AllowedOrigins: c.WebChat.AllowedOrigins,
	}, m.engine, m.store, log)
	if err != nil {
		return fmt.Errorf("web chat: %w", err)
	}

	if m.console, err = newConsole(c, m.store, m.engine, m.stats, log); err != nil {
		return fmt.Errorf("agent console: %w", err)
	}
	if m.console != nil {
		events.add(m.console)
	}

	if m.channels, err = openChannels(ctx, c, channelDeps{engine: m.engine, store: m.store, log: log}); err != nil {
		return err
	}

	m.dispatcher = conversation.NewDispatcher(m.store, conversation.DispatcherConfig{Logger: log})
	if err := metrics.RegisterLoad(m.metrics, metrics.LoadSources{Engine: m.engine.Load, DeliveryQueue: m.dispatcher.Queued}); err != nil {
		return err
	}
	m.dispatcher.Register(conversation.ChannelWebChat, m.webchat)
	m.channels.register(m.dispatcher)
	m.engine.DeliverWith(m.dispatcher)
	dctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopDeliver, m.delivered = stop, make(chan struct{})
	go func() {
		defer close(m.delivered)
		var wg sync.WaitGroup
		// Tickets nobody touched still get their SLA breaches recorded.
		wg.Go(func() { m.engine.RunSLASweeper(dctx, time.Minute) })
		_ = m.dispatcher.Run(dctx)
		wg.Wait()
	}()
	m.channels.start(dctx, m.store, c.Leader.TTL)

	m.ln, err = net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	m.srv = &http.Server{
		Handler:           m.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Live event streams end when shutdown starts, so Shutdown only waits
	// for real turns in flight.
	m.srv.RegisterOnShutdown(func() {
		_ = m.webchat.Close()
		if m.console != nil {
			_ = m.console.Close()
		}
	})
	go func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("tier0 serving", "addr", "http://"+displayAddr(m.ln.Addr()), "store", c.Store.Driver, "documents", m.index.Count(), "channels", strings.Join(append([]string{"webchat"}, m.channels.enabled...), ", "))
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

func displayAddr(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") {
		return "localhost:" + strings.TrimPrefix(s, "[::]:")
	}
	return s
}

func (m *Main) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", m.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
		Registry: m.metrics,
	}))
	if m.console != nil {
		mux.Handle(agentconsole.Prefix, m.console.Handler())
		mux.Handle("/console", m.console.Handler())
	}
	m.channels.mount(mux)
	mux.Handle("/", m.webchat.Handler())
	return mux
}

// newConsole builds the agent console from the configured accounts (and
// the TIER0_CONSOLE_PASSWORD admin); nil when there are none. stats, when
// not nil, serves its analytics page.
func newConsole(c *Config, store conversation.Store, engine *conversation.Engine, stats *analytics.Recorder, log *slog.Logger) (*agentconsole.Console, error) {
	var accounts []agentconsole.Account
	for _, a := range c.Console.Accounts {
		accounts = append(accounts, agentconsole.Account{Username: a.Username, Name: a.Name, PasswordHash: a.PasswordHash, Teams: a.Teams})
	}
	if c.Console.AdminPass != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(c.Console.AdminPass), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("TIER0_CONSOLE_PASSWORD: %w", err)
		}
		accounts = append(accounts, agentconsole.Account{Username: "admin", Name: "Admin", PasswordHash: string(hash)})
	}
	if len(accounts) == 0 {
		log.Info("agent console off: no accounts (set console.accounts, or TIER0_CONSOLE_PASSWORD for an admin account)")
		return nil, nil
	}
	secret, err := consoleSecret(c)
	if err != nil {
		return nil, err
	}
	deps := agentconsole.Deps{Queue: store, Agents: engine, Drafts: draftSaver{store: store, dir: filepath.Join(c.DataDir, "faq-drafts")}}
	if stats != nil {
		deps.Analytics = stats
	}
	return agentconsole.New(agentconsole.Config{
		Accounts:     accounts,
		Secret:       secret,
		SessionTTL:   c.Console.SessionTTL,
		SecureCookie: c.Console.SecureCookie,
	}, deps, log)
}

// draftSaver writes a resolved ticket's answer as a draft FAQ card into
// dir (<data_dir>/faq-drafts): reviewed, renamed to *.faq.yaml and moved
// into the knowledge folder, it is ingested like any FAQ file.
type draftSaver struct {
	store conversation.Store
	dir   string
}

func (d draftSaver) SaveDraft(ctx context.Context, key string) (string, error) {
	c, err := d.store.Load(ctx, key)
	if err != nil {
		return "", err
	}
	card, ok := knowledge.DraftCard(c)
	if !ok {
		return "", conversation.Errorf(conversation.Invalid, "nothing to draft yet: the ticket needs the customer's question and an agent reply")
	}
	return knowledge.WriteDraft(d.dir, card)
}

// newMetricsRegistry returns a private registry holding the Go runtime
// and process collectors; the conversation metrics are added to it.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (m *Main) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "knowledge": "ok"}
	status := http.StatusOK
	if err := m.store.Ping(ctx); err != nil {
		checks["store"], status = conversation.ErrorMessage(err), http.StatusServiceUnavailable
		m.Logger.Warn("readiness: store", "err", err)
	}
	if m.index.Count() == 0 {
		checks["knowledge"], status = "no documents indexed", http.StatusServiceUnavailable
	}
	for name, why := range m.channels.health() {
		checks[name], status = "stopped: "+why, http.StatusServiceUnavailable
	}
	writeJSON(w, status, checks)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Close stops accepting requests, waits for in-flight turns, stops
// delivery and closes the store. Safe to call more than once.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		if m.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := m.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			cancel()
		}
		// No new platform events: stop the connections and let the
		// adapters finish the turns they accepted.
		if err := m.channels.close(); err != nil {
			errs = append(errs, fmt.Errorf("close channels: %w", err))
		}
		if m.stopDeliver != nil {
			m.stopDeliver()
			<-m.delivered
		}
		// No turn runs any more: the last analytics counts go to the store.
		if m.stats != nil {
			if err := m.stats.Close(); err != nil {
				errs = append(errs, fmt.Errorf("flush analytics: %w", err))
			}
		}
		if m.liveHub != nil {
			if err := m.liveHub.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if m.store != nil {
			if err := m.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
