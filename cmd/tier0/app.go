package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/analytics"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/metrics"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/handoff"
	"github.com/tier0/tier0/knowledge"
	"github.com/tier0/tier0/knowledge/llm"
	"github.com/tier0/tier0/knowledge/openai"
)

// newLogger returns a text logger at the configured level.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens the configured conversation store.
func openStore(ctx context.Context, c *Config) (conversation.Store, error) {
	switch c.Store.Driver {
	case "redis":
		client := redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:      c.Store.Redis.Addrs,
			MasterName: c.Store.Redis.MasterName,
			DB:         c.Store.Redis.DB,
			Username:   c.Store.Redis.Username,
			Password:   c.Store.Redis.Password,
			// RESP2: tier0 uses no RESP3 push messages or client-side
			// caching, and RESP3 makes the client look for pending
			// pushes before every reply (about 3 % of the engine's CPU).
			Protocol: 2,
		})
		s, err := redisstore.New(client, redisstore.Config{Prefix: c.Store.Redis.Prefix, IdleTTL: c.Store.IdleTTL})
		if err != nil {
			client.Close()
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Ping(pctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("redis at %s: %w", strings.Join(c.Store.Redis.Addrs, ","), err)
		}
		return s, nil
	default:
		s, err := boltstore.Open(c.Store.Path, boltstore.Config{IdleTTL: c.Store.IdleTTL})
		if err != nil {
			if conversation.ErrorCode(err) == conversation.Unavailable {
				return nil, fmt.Errorf("%w (is another tier0 process running on %s? stop it, or share state through Redis with TIER0_REDIS_ADDR)", err, c.Store.Path)
			}
			return nil, err
		}
		return s, nil
	}
}

// openKnowledge opens the knowledge index under the data dir with the
// configured embedder and, when ingest is set, brings it up to date with
// the configured folder. The returned Knowledge is the extractive answerer,
// or the LLM composer over it when an LLM endpoint is configured.
func openKnowledge(ctx context.Context, c *Config, ingest bool, progress io.Writer, log *slog.Logger) (*knowledge.Index, conversation.Knowledge, error) {
	emb, err := newEmbedder(c, log)
	if err != nil {
		return nil, nil, err
	}
	ix, err := knowledge.Open(filepath.Join(c.DataDir, "knowledge"), emb)
	if err != nil {
		return nil, nil, fmt.Errorf("open knowledge index: %w", err)
	}
	if ingest && c.Knowledge.Path != "" {
		if _, err := ingestFolder(ctx, ix, c.Knowledge.Path, progress); err != nil {
			return nil, nil, err
		}
	}
	ans := knowledge.NewAnswerer(ix, knowledge.AnswerConfig{Threshold: c.Knowledge.Threshold, URLFor: urlFor(c.Knowledge.BaseURL)})
	know, err := withLLM(c, ans, log)
	if err != nil {
		return nil, nil, err
	}
	// Product questions are answered from the catalogue's attributes;
	// everything else goes to the document answerer.
	if c.Knowledge.Path != "" {
		cat, err := knowledge.LoadCatalogs(ctx, c.Knowledge.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("load product catalogue: %w", err)
		}
		if len(cat.Products) > 0 {
			know = knowledge.NewProductAnswerer(cat, know)
		}
	}
	return ix, know, nil
}

// withLLM puts the LLM composer over ans when an LLM endpoint is
// configured.
func withLLM(c *Config, ans *knowledge.Answerer, log *slog.Logger) (conversation.Knowledge, error) {
	if c.Knowledge.LLM.BaseURL == "" {
		return ans, nil
	}
	l := c.Knowledge.LLM
	chat, err := openai.NewChatClient(openai.Config{BaseURL: l.BaseURL, APIKey: l.APIKey, Model: l.Model, AzureAPIVersion: l.AzureAPIVersion, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("knowledge.llm: %w", err)
	}
	comp, err := llm.New(ans, chat, llm.Config{Model: l.Model, Timeout: l.Timeout, MaxTokens: l.MaxTokens, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("knowledge.llm: %w", err)
	}
	return comp, nil
}

// newEmbedder returns the built-in offline embedder, or the
// OpenAI-compatible one when knowledge.embedding.base_url is set.
func newEmbedder(c *Config, log *slog.Logger) (knowledge.Embedder, error) {
	e := c.Knowledge.Embedding
	if e.BaseURL == "" {
		return knowledge.NewHashEmbedder(), nil
	}
	emb, err := openai.NewEmbedder(openai.Config{BaseURL: e.BaseURL, APIKey: e.APIKey, Model: e.Model, Dimensions: e.Dimensions, AzureAPIVersion: e.AzureAPIVersion, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("knowledge.embedding: %w", err)
	}
	return emb, nil
}

// urlFor maps a document path to a link under base ("" → no link).
func urlFor(base string) func(string) string {
	if base == "" {
		return nil
	}
	base = strings.TrimRight(base, "/")
	return func(source string) string {
		return base + "/" + strings.TrimSuffix(source, filepath.Ext(source))
	}
}

// ingestFolder runs one incremental ingestion with a progress bar on w.
func ingestFolder(ctx context.Context, ix *knowledge.Index, dir string, w io.Writer) (knowledge.IngestStats, error) {
	bar := newProgress(w, "ingest")
	st, err := ix.Ingest(ctx, dir, bar.update)
	bar.finish()
	if err != nil {
		return st, fmt.Errorf("ingest %s: %w", dir, err)
	}
	fmt.Fprintf(w, "ingest: %d files, %d chunks (%d added, %d updated, %d removed, %d unchanged) in %s\n",
		st.Files, st.Chunks, st.Added, st.Updated, st.Removed, st.Unchanged, st.Duration.Round(time.Millisecond))
	return st, nil
}

// newEngine wires the engine with the configured handoff desk and texts;
// events, when not nil, receives every committed turn's events.
func newEngine(c *Config, store conversation.Store, k conversation.Knowledge, events conversation.EventSink, log *slog.Logger) (*conversation.Engine, error) {
	hc := handoff.Config{TicketPrefix: c.Handoff.TicketPrefix, Team: c.Handoff.Team, Priority: c.Handoff.Priority, StaffChannel: staffChannel(c)}
	for _, r := range c.Handoff.Priorities {
		hc.Priorities.Rules = append(hc.Priorities.Rules, handoff.PriorityRule{Keywords: r.Keywords, MinNegativeSentiment: r.MinNegativeSentiment, CustomerTiers: r.CustomerTiers, Priority: r.Priority})
	}
	for _, r := range c.Handoff.Routes {
		rule := handoff.RouteRule{Categories: r.Categories, Languages: r.Languages, Team: r.Team, EscalateTo: r.EscalateTo}
		for _, ch := range r.Channels {
			rule.Channels = append(rule.Channels, conversation.Channel(ch))
		}
		if bh := r.BusinessHours; bh != nil {
			days, err := weekdays(bh.Days)
			if err != nil {
				return nil, fmt.Errorf("handoff.routes: %w", err)
			}
			rule.BusinessHours = &handoff.BusinessHours{TimeZone: bh.TimeZone, Days: days, Start: bh.Start, End: bh.End, OutOfHoursTeam: bh.OutOfHoursTeam}
		}
		hc.Routes.Rules = append(hc.Routes.Rules, rule)
	}
	for p, sla := range c.Handoff.SLA {
		if hc.SLA == nil {
			hc.SLA = map[string]handoff.SLA{}
		}
		hc.SLA[p] = handoff.SLA{FirstResponse: sla.FirstResponse, Resolution: sla.Resolution}
	}
	switch pc := c.Handoff.Profiles; {
	case pc.File != "":
		p, err := handoff.LoadProfiles(pc.File)
		if err != nil {
			return nil, err
		}
		hc.Profiles = p
	case pc.URL != "":
		h := handoff.HTTPProfiles{URL: pc.URL}
		if pc.Token != "" {
			h.Header = http.Header{"Authorization": {"Bearer " + pc.Token}}
		}
		hc.Profiles = h
	}
	desk, err := handoff.NewDesk(store, hc)
	if err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	lang, texts, flows, err := c.engineLanguage()
	if err != nil {
		return nil, fmt.Errorf("language: %w", err)
	}
	consulting := conversation.ConsultingConfig{MaxQuestions: c.Consulting.MaxQuestions, Flows: flows}
	acts, err := buildActions(c)
	if err != nil {
		return nil, err
	}
	cfg := conversation.EngineConfig{Texts: texts, Language: lang, Logger: log, Consulting: consulting, Events: events, Actions: acts,
		Admission: conversation.AdmissionConfig{Budget: c.Admission.Budget, MinInFlight: c.Admission.MinInFlight}}
	if *c.Handoff.Frustration {
		cfg.Sentiment = handoff.NewLexiconScorer()
	}
	return conversation.NewEngine(store, k, desk, cfg), nil
}

// benchEngine builds a bench run's engine as serve does, its events going
// to Prometheus metrics (a private registry) and the store's analytics;
// closeEngine flushes the analytics.
func benchEngine(c *Config, store conversation.Store, know conversation.Knowledge, log *slog.Logger) (engine *conversation.Engine, closeEngine func(), err error) {
	events, stats, err := eventSinks(prometheus.NewRegistry(), store, log)
	if err != nil {
		return nil, nil, err
	}
	closeEngine = func() {
		if stats != nil {
			_ = stats.Close()
		}
	}
	if engine, err = newEngine(c, store, know, events, log); err != nil {
		closeEngine()
		return nil, nil, err
	}
	return engine, closeEngine, nil
}

// eventSinks builds where the engine's events go, in serve and in the
// bench that measures the same path: Prometheus metrics on reg and, when
// the store keeps them, the analytics counters shared by all replicas.
// stats is nil without analytics; the caller closes it.
func eventSinks(reg prometheus.Registerer, store conversation.Store, log *slog.Logger) (events *eventFanout, stats *analytics.Recorder, err error) {
	sink, err := metrics.New(reg, metrics.Config{})
	if err != nil {
		return nil, nil, err
	}
	events = &eventFanout{}
	events.add(sink)
	if as, ok := store.(analytics.Store); ok {
		if stats, err = analytics.NewRecorder(as, analytics.Config{Logger: log}); err != nil {
			return nil, nil, fmt.Errorf("analytics: %w", err)
		}
		events.add(stats)
	}
	return events, stats, nil
}

// eventFanout hands each batch of the engine's events to every sink, in
// the order they were added. Sinks are added while wiring, before the
// engine handles its first turn.
type eventFanout struct {
	sinks []conversation.EventSink
}

var _ conversation.EventSink = (*eventFanout)(nil)

func (f *eventFanout) add(s conversation.EventSink) { f.sinks = append(f.sinks, s) }

// Record passes events on to every sink.
func (f *eventFanout) Record(events []conversation.Event) {
	for _, s := range f.sinks {
		s.Record(events)
	}
}

// weekdays parses "mon", "tuesday", "Sa", … into weekdays.
func weekdays(names []string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, n := range names {
		l := strings.ToLower(strings.TrimSpace(n))
		found := false
		for d := time.Sunday; d <= time.Saturday; d++ {
			if full := strings.ToLower(d.String()); len(l) >= 2 && strings.HasPrefix(full, l) {
				out, found = append(out, d), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown weekday %q (want mon, tue, …, sun)", n)
		}
	}
	return out, nil
}

// webchatSecret returns the session-signing key: TIER0_WEBCHAT_SECRET, or a
// random key generated once into <data_dir>/webchat.key (mode 0600).
func webchatSecret(c *Config) ([]byte, error) {
	return secretKey(c.WebChat.Secret, filepath.Join(c.DataDir, "webchat.key"))
}

// consoleSecret returns the agent console's session key:
// TIER0_CONSOLE_SECRET, or a random key generated once into
// <data_dir>/console.key.
func consoleSecret(c *Config) ([]byte, error) {
	return secretKey(c.Console.Secret, filepath.Join(c.DataDir, "console.key"))
}

// secretKey returns configured when set, else the key stored at path,
// generating it (mode 0600) on first use.
func secretKey(configured, path string) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 64 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(k[:]))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}
