package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// channels holds the chat-platform adapters the configuration enables:
// their HTTP endpoints, their senders, the background jobs that keep a
// connection (Socket Mode, Telegram long polling, the WhatsApp socket) and
// what must be closed on shutdown.
type channels struct {
	log     *slog.Logger
	routes  map[string]http.Handler
	senders map[conversation.Channel]conversation.Sender
	jobs    []channelJob
	closers []func() error
	stop    context.CancelFunc
	running sync.WaitGroup
	enabled []string

	mu      sync.Mutex
	stopped map[string]string // job name → why it stopped, for /readyz

	secrets []string // tokens that must not reach a log line or /readyz
}

// channelJob is a long-running connection. Leader jobs run on exactly one
// replica at a time (under a lease in the store).
type channelJob struct {
	name   string
	leader bool
	run    func(ctx context.Context) error
}

// channelDeps is what the adapters are built on.
type channelDeps struct {
	engine *conversation.Engine
	store  conversation.Store
	log    *slog.Logger
}

// staffChannel is the Channel the handoff desk posts staff cards to, ""
// for the web console only.
func staffChannel(c *Config) conversation.Channel {
	switch c.Handoff.StaffChannel {
	case "slack":
		return slack.StaffChannel
	case "teams":
		return teams.StaffChannel
	case "telegram":
		return telegram.StaffChannel
	}
	return ""
}

// openChannels builds every enabled adapter. Errors name the platform.
func openChannels(ctx context.Context, c *Config, d channelDeps) (*channels, error) {
	ch := &channels{
		log:     d.log,
		routes:  map[string]http.Handler{},
		senders: map[conversation.Channel]conversation.Sender{},
		stopped: map[string]string{},
	}
	for _, v := range []string{c.Slack.BotToken, c.Slack.AppToken, c.Slack.SigningSecret, c.Teams.AppPassword,
		c.Telegram.Token, c.Telegram.WebhookSecret, c.WhatsApp.PostgresDSN,
		c.WhatsAppCloud.AccessToken, c.WhatsAppCloud.AppSecret, c.WhatsAppCloud.VerifyToken} {
		if v != "" {
			ch.secrets = append(ch.secrets, v)
		}
	}
	refs, ok := d.store.(conversation.Refs)
	if !ok {
		return nil, fmt.Errorf("store %T keeps no platform references (conversation.Refs)", d.store)
	}
	steps := []func(context.Context, *Config, channelDeps, conversation.Refs) error{
		ch.openSlack, ch.openTeams, ch.openTelegram, ch.openWhatsApp, ch.openWhatsAppCloud,
	}
	for _, open := range steps {
		if err := open(ctx, c, d, refs); err != nil {
			_ = ch.close()
			return nil, err
		}
	}
	return ch, nil
}

func (ch *channels) openSlack(ctx context.Context, c *Config, d channelDeps, refs conversation.Refs) error {
	if c.Slack.BotToken == "" {
		return nil
	}
	cfg := slack.Config{
		BotToken:         c.Slack.BotToken,
		APIURL:           c.Slack.APIURL,
		StaffChannelID:   c.Slack.StaffChannelID,
		PlaceholderAfter: c.Slack.PlaceholderAfter,
		Logger:           d.log.With("channel", "slack"),
	}
	if c.Slack.Mode == "socket" {
		cfg.AppToken = c.Slack.AppToken
	} else {
		cfg.SigningSecret = c.Slack.SigningSecret
	}
	a, err := slack.New(cfg, d.engine, refs)
	if err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	if err := a.Start(ctx); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	ch.senders[conversation.ChannelSlack] = a.Sender()
	if c.Slack.StaffChannelID != "" {
		ch.senders[slack.StaffChannel] = a.StaffSender()
	}
	ch.closers = append(ch.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return a.Close(ctx)
	})
	if c.Slack.Mode == "socket" {
		// Every replica may hold a Socket Mode connection: Slack spreads
		// envelopes over them and the store dedupes.
		ch.jobs = append(ch.jobs, channelJob{name: "slack-socket", run: a.RunSocketMode})
	} else {
		ch.routes["POST /slack/events"] = a.EventsHandler()
		ch.routes["POST /slack/interactive"] = a.InteractiveHandler()
	}
	ch.enabled = append(ch.enabled, "slack ("+c.Slack.Mode+")")
	return nil
}

func (ch *channels) openTeams(_ context.Context, c *Config, d channelDeps, refs conversation.Refs) error {
	if c.Teams.AppID == "" {
		return nil
	}
	a, err := teams.New(teams.Config{
		AppID:             c.Teams.AppID,
		AppPassword:       c.Teams.AppPassword,
		TenantID:          c.Teams.TenantID,
		OpenIDMetadataURL: c.Teams.OpenIDMetadataURL,
		TokenURL:          c.Teams.TokenURL,
		StaffServiceURL:   c.Teams.StaffServiceURL,
		StaffChannelID:    c.Teams.StaffChannelID,
		StaffTenantID:     c.Teams.StaffTenantID,
		Logger:            d.log.With("channel", "teams"),
	}, d.engine, refs)
	if err != nil {
		return fmt.Errorf("teams: %w", err)
	}
	ch.routes["/api/messages"] = a.Handler()
	ch.senders[conversation.ChannelTeams] = a.Sender()
	if c.Teams.StaffChannelID != "" {
		ch.senders[teams.StaffChannel] = a.StaffSender()
	}
	ch.closers = append(ch.closers, a.Close)
	ch.enabled = append(ch.enabled, "teams")
	return nil
}

func (ch *channels) openTelegram(ctx context.Context, c *Config, d channelDeps, refs conversation.Refs) error {
	if c.Telegram.Token == "" {
		return nil
	}
	a, err := telegram.New(ctx, telegram.Config{
		Token:                   c.Telegram.Token,
		WebhookSecret:           c.Telegram.WebhookSecret,
		APIURL:                  c.Telegram.APIURL,
		StaffChatID:             c.Telegram.StaffChatID,
		DeleteWebhookOnConflict: c.Telegram.Mode == "polling",
		Welcome:                 c.WebChat.Welcome,
		Welcomes:                c.WebChat.WelcomeByLanguage,
		Logger:                  d.log.With("channel", "telegram"),
	}, d.engine, refs)
	if err != nil {
		return fmt.Errorf("telegram: %w", err)
	}
	ch.senders[telegram.Channel] = a.Sender()
	if c.Telegram.StaffChatID != 0 {
		ch.senders[telegram.StaffChannel] = a.StaffSender()
	}
	ch.closers = append(ch.closers, a.Close)
	if c.Telegram.Mode == "webhook" {
		ch.routes["/telegram/webhook"] = a.WebhookHandler()
		if c.Telegram.WebhookURL != "" {
			if err := a.SetWebhook(ctx, c.Telegram.WebhookURL); err != nil {
				return fmt.Errorf("telegram: register the webhook %s: %w", c.Telegram.WebhookURL, err)
			}
		}
	} else {
		ch.jobs = append(ch.jobs, channelJob{name: fmt.Sprintf("telegram:%d", a.BotID()), leader: true, run: a.RunPolling})
	}
	ch.enabled = append(ch.enabled, "telegram ("+c.Telegram.Mode+")")
	return nil
}

func (ch *channels) openWhatsAppCloud(_ context.Context, c *Config, d channelDeps, refs conversation.Refs) error {
	w := c.WhatsAppCloud
	if w.AccessToken == "" {
		return nil
	}
	channel := conversation.ChannelWhatsApp
	if c.WhatsApp.Enabled { // both routes at once: keep their senders apart
		channel = "whatsappcloud"
	}
	a, err := whatsappcloud.New(whatsappcloud.Config{
		AccessToken:   w.AccessToken,
		AppSecret:     w.AppSecret,
		VerifyToken:   w.VerifyToken,
		PhoneNumberID: w.PhoneNumberID,
		APIURL:        w.APIURL,
		APIVersion:    w.APIVersion,
		Channel:       channel,
		Refs:          refs,
		Logger:        d.log.With("channel", string(channel)),
	}, d.engine)
	if err != nil {
		return fmt.Errorf("whatsapp_cloud: %w", err)
	}
	ch.routes["/whatsapp/webhook"] = a.WebhookHandler()
	ch.senders[a.Channel()] = a.Sender()
	ch.closers = append(ch.closers, a.Close)
	ch.enabled = append(ch.enabled, "whatsapp cloud api")
	return nil
}

// whatsappConfig maps the configuration onto the whatsmeow adapter's.
func whatsappConfig(c *Config, refs conversation.Refs) whatsapp.Config {
	wc := whatsapp.Config{
		DataDir:       c.DataDir,
		DeviceName:    cmp.Or(c.WhatsApp.DeviceName, c.Name),
		Groups:        c.WhatsApp.Groups,
		MaxBacklogAge: c.WhatsApp.MaxBacklogAge,
		ChoicePolls:   c.WhatsApp.ChoicePolls,
		Refs:          refs,
	}
	if c.WhatsApp.PostgresDSN != "" {
		wc.PostgresDSN = c.WhatsApp.PostgresDSN
	} else {
		wc.SQLitePath = c.WhatsApp.Store
	}
	return wc
}

func (ch *channels) openWhatsApp(ctx context.Context, c *Config, d channelDeps, refs conversation.Refs) error {
	if !c.WhatsApp.Enabled {
		return nil
	}
	a, err := whatsapp.Open(ctx, whatsappConfig(c, refs), d.engine, d.log.With("channel", "whatsapp"))
	if err != nil {
		return fmt.Errorf("whatsapp: %w (pair this server once with: tier0 whatsapp pair)", err)
	}
	ch.senders[conversation.ChannelWhatsApp] = a
	ch.closers = append(ch.closers, a.Close)
	ch.jobs = append(ch.jobs, channelJob{name: "whatsapp", leader: true, run: a.Run})
	ch.enabled = append(ch.enabled, "whatsapp")
	return nil
}

// mount adds the adapters' endpoints to mux.
func (ch *channels) mount(mux *http.ServeMux) {
	for path, h := range ch.routes {
		mux.Handle(path, h)
	}
}

// register hands the adapters' senders to the dispatcher.
func (ch *channels) register(d *conversation.Dispatcher) {
	for name, s := range ch.senders {
		d.Register(name, s)
	}
}

// start runs the connection jobs until close; leader jobs under a lease
// in store, so exactly one replica holds each connection.
func (ch *channels) start(ctx context.Context, store conversation.Store, ttl time.Duration) {
	ctx, ch.stop = context.WithCancel(context.WithoutCancel(ctx))
	locker, _ := store.(conversation.LeaderLocker)
	for _, j := range ch.jobs {
		log := ch.log.With("job", j.name)
		ch.running.Go(func() {
			var err error
			if j.leader && locker != nil {
				err = conversation.RunAsLeader(ctx, locker, conversation.LeaderConfig{Name: "leader:" + j.name, TTL: ttl, Logger: log}, j.run)
			} else {
				err = j.run(ctx)
			}
			if err != nil && ctx.Err() == nil {
				// For the operator: the cause ("run tier0 whatsapp pair"),
				// with any token (e.g. in a Bot API URL) blanked out.
				why := ch.redact(err.Error())
				log.Error("channel connection stopped; restart tier0 once the cause is fixed", "err", why)
				ch.mu.Lock()
				ch.stopped[j.name] = truncate(why, 300)
				ch.mu.Unlock()
			}
		})
	}
}

// health lists the connections that stopped for good, with the reason.
func (ch *channels) health() map[string]string {
	if ch == nil {
		return nil
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return maps.Clone(ch.stopped)
}

// close stops the jobs and closes the adapters.
func (ch *channels) close() error {
	if ch == nil {
		return nil
	}
	if ch.stop != nil {
		ch.stop()
	}
	ch.running.Wait()
	var errs []error
	for i := len(ch.closers) - 1; i >= 0; i-- {
		if err := ch.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// redact blanks out the configured secrets in s.
func (ch *channels) redact(s string) string {
	for _, v := range ch.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
