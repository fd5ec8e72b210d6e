package main

import (
	"fmt"
	"path/filepath"
	"time"
)

// SlackConfig connects a Slack workspace: employees ask in DMs, mentions
// and threads; with handoff.staff_channel: slack, agents work tickets in
// one thread per ticket of StaffChannelID. Enabled when
// TIER0_SLACK_BOT_TOKEN is set.
type SlackConfig struct {
	// Mode is "http" (Events API at /slack/events and /slack/interactive,
	// the default) or "socket" (Socket Mode, needs TIER0_SLACK_APP_TOKEN).
	Mode           string `yaml:"mode"`
	StaffChannelID string `yaml:"staff_channel_id"`
	// APIURL overrides https://slack.com/api/ (for the offline fake).
	APIURL string `yaml:"api_url"`
	// PlaceholderAfter: a "looking that up" placeholder is posted when an
	// answer takes longer (default 1s).
	PlaceholderAfter time.Duration `yaml:"placeholder_after"`
	BotToken         string        `yaml:"-"` // TIER0_SLACK_BOT_TOKEN
	SigningSecret    string        `yaml:"-"` // TIER0_SLACK_SIGNING_SECRET
	AppToken         string        `yaml:"-"` // TIER0_SLACK_APP_TOKEN
}

// TeamsConfig connects a Microsoft Teams bot (Azure Bot registration):
// /api/messages is its messaging endpoint. Enabled when TIER0_TEAMS_APP_ID
// is set.
type TeamsConfig struct {
	// OpenIDMetadataURL and TokenURL override the Bot Framework's (for the
	// offline fake).
	OpenIDMetadataURL string `yaml:"openid_metadata_url"`
	TokenURL          string `yaml:"token_url"`
	// Staff channel (handoff.staff_channel: teams): the Teams channel that
	// gets one reply chain per ticket, and the service URL of its tenant.
	StaffServiceURL string `yaml:"staff_service_url"`
	StaffChannelID  string `yaml:"staff_channel_id"`
	StaffTenantID   string `yaml:"staff_tenant_id"` // default: TIER0_TEAMS_TENANT_ID
	AppID           string `yaml:"-"`               // TIER0_TEAMS_APP_ID
	AppPassword     string `yaml:"-"`               // TIER0_TEAMS_APP_PASSWORD
	TenantID        string `yaml:"-"`               // TIER0_TEAMS_TENANT_ID
}

// TelegramConfig connects a Telegram bot made with BotFather. Enabled when
// TIER0_TELEGRAM_TOKEN is set.
type TelegramConfig struct {
	// Mode is "polling" (the default: long polling on one elected
	// replica) or "webhook" (POST /telegram/webhook, on every replica).
	Mode string `yaml:"mode"`
	// WebhookURL is the public URL of /telegram/webhook; when set in
	// webhook mode the webhook is registered with Telegram on start.
	WebhookURL string `yaml:"webhook_url"`
	// StaffChatID is the forum supergroup for handoff.staff_channel: telegram.
	StaffChatID int64 `yaml:"staff_chat_id"`
	// APIURL overrides https://api.telegram.org (for the offline fake).
	APIURL        string `yaml:"api_url"`
	Token         string `yaml:"-"` // TIER0_TELEGRAM_TOKEN
	WebhookSecret string `yaml:"-"` // TIER0_TELEGRAM_WEBHOOK_SECRET
}

// WhatsAppConfig runs the unofficial multi-device client (whatsmeow):
// pair once with `tier0 whatsapp pair`. It holds one connection, run on
// one elected replica.
type WhatsAppConfig struct {
	Enabled bool `yaml:"enabled"`
	// Store is the device store: a SQLite file (default
	// <data_dir>/whatsapp.db; relative to data_dir), or PostgreSQL when
	// TIER0_WHATSAPP_POSTGRES_DSN is set.
	Store string `yaml:"store"`
	// DeviceName is shown under "Linked devices" on the phone (default: name).
	DeviceName string `yaml:"device_name"`
	// Groups answers in group chats too (default: private chats only).
	Groups bool `yaml:"groups"`
	// MaxBacklogAge skips older messages delivered after downtime (default 24h).
	MaxBacklogAge time.Duration `yaml:"max_backlog_age"`
	// ChoicePolls also sends numbered choices as a one-tap poll.
	ChoicePolls bool   `yaml:"choice_polls"`
	PostgresDSN string `yaml:"-"` // TIER0_WHATSAPP_POSTGRES_DSN
}

// WhatsAppCloudConfig connects the official WhatsApp Business Cloud API:
// Meta calls GET/POST /whatsapp/webhook. Enabled when
// TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN is set.
type WhatsAppCloudConfig struct {
	PhoneNumberID string `yaml:"phone_number_id"`
	// APIURL and APIVersion override https://graph.facebook.com and the
	// default Graph API version.
	APIURL      string `yaml:"api_url"`
	APIVersion  string `yaml:"api_version"`
	AccessToken string `yaml:"-"` // TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN
	AppSecret   string `yaml:"-"` // TIER0_WHATSAPP_CLOUD_APP_SECRET
	VerifyToken string `yaml:"-"` // TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN
}

// LeaderConfig tunes the lease that keeps single-connection channels
// (Telegram long polling, the WhatsApp socket) on one replica.
type LeaderConfig struct {
	// TTL is how long a dead leader's lease blocks the others (default
	// 15s, at least 1s); the leader renews it every TTL/3.
	TTL time.Duration `yaml:"ttl"`
}

// channelEnv reads the channels' secrets from the environment.
func (c *Config) channelEnv(str func(name string, dst *string)) {
	// Where the platforms are: the defaults are the real ones; these point
	// tier0 at the local fakes (tier0 fake) or a self-hosted Bot API.
	str("TIER0_SLACK_API_URL", &c.Slack.APIURL)
	str("TIER0_SLACK_MODE", &c.Slack.Mode)
	str("TIER0_TEAMS_OPENID_METADATA_URL", &c.Teams.OpenIDMetadataURL)
	str("TIER0_TEAMS_TOKEN_URL", &c.Teams.TokenURL)
	str("TIER0_TELEGRAM_API_URL", &c.Telegram.APIURL)
	str("TIER0_TELEGRAM_MODE", &c.Telegram.Mode)
	str("TIER0_WHATSAPP_CLOUD_API_URL", &c.WhatsAppCloud.APIURL)
	str("TIER0_WHATSAPP_CLOUD_PHONE_NUMBER_ID", &c.WhatsAppCloud.PhoneNumberID)
	str("TIER0_SLACK_BOT_TOKEN", &c.Slack.BotToken)
	str("TIER0_SLACK_SIGNING_SECRET", &c.Slack.SigningSecret)
	str("TIER0_SLACK_APP_TOKEN", &c.Slack.AppToken)
	str("TIER0_TEAMS_APP_ID", &c.Teams.AppID)
	str("TIER0_TEAMS_APP_PASSWORD", &c.Teams.AppPassword)
	str("TIER0_TEAMS_TENANT_ID", &c.Teams.TenantID)
	str("TIER0_TELEGRAM_TOKEN", &c.Telegram.Token)
	str("TIER0_TELEGRAM_WEBHOOK_SECRET", &c.Telegram.WebhookSecret)
	str("TIER0_WHATSAPP_POSTGRES_DSN", &c.WhatsApp.PostgresDSN)
	str("TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN", &c.WhatsAppCloud.AccessToken)
	str("TIER0_WHATSAPP_CLOUD_APP_SECRET", &c.WhatsAppCloud.AppSecret)
	str("TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN", &c.WhatsAppCloud.VerifyToken)
}

func (c *Config) channelDefaults() {
	if c.Slack.Mode == "" {
		c.Slack.Mode = "http"
	}
	if c.Telegram.Mode == "" {
		c.Telegram.Mode = "polling"
	}
	if c.WhatsApp.Store == "" {
		c.WhatsApp.Store = "whatsapp.db"
	}
	if !filepath.IsAbs(c.WhatsApp.Store) {
		c.WhatsApp.Store = filepath.Join(c.DataDir, c.WhatsApp.Store)
	}
}

// validateChannels reports the first inconsistent channel setting; each
// adapter validates its own details when it starts.
func (c *Config) validateChannels() error {
	if c.Leader.TTL != 0 && c.Leader.TTL < time.Second {
		return fmt.Errorf("leader.ttl %s: want at least 1s", c.Leader.TTL)
	}
	switch c.Slack.Mode {
	case "http", "socket":
	default:
		return fmt.Errorf("slack.mode %q: want http or socket", c.Slack.Mode)
	}
	if c.Slack.BotToken != "" {
		if c.Slack.Mode == "http" && c.Slack.SigningSecret == "" {
			return fmt.Errorf("slack: TIER0_SLACK_SIGNING_SECRET is required in http mode")
		}
		if c.Slack.Mode == "socket" && c.Slack.AppToken == "" {
			return fmt.Errorf("slack: TIER0_SLACK_APP_TOKEN (xapp-…) is required in socket mode")
		}
	}
	switch c.Telegram.Mode {
	case "polling", "webhook":
	default:
		return fmt.Errorf("telegram.mode %q: want polling or webhook", c.Telegram.Mode)
	}
	if c.Telegram.Token != "" && c.Telegram.Mode == "webhook" && c.Telegram.WebhookSecret == "" {
		return fmt.Errorf("telegram: TIER0_TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
	}
	if c.Teams.AppID != "" && c.Teams.AppPassword == "" {
		return fmt.Errorf("teams: TIER0_TEAMS_APP_PASSWORD is required with TIER0_TEAMS_APP_ID")
	}
	if c.WhatsAppCloud.AccessToken != "" && (c.WhatsAppCloud.AppSecret == "" || c.WhatsAppCloud.VerifyToken == "" || c.WhatsAppCloud.PhoneNumberID == "") {
		return fmt.Errorf("whatsapp_cloud: TIER0_WHATSAPP_CLOUD_APP_SECRET, TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN and whatsapp_cloud.phone_number_id are required with the access token")
	}
	switch c.Handoff.StaffChannel {
	case "", "console":
	case "slack":
		if c.Slack.BotToken == "" || c.Slack.StaffChannelID == "" {
			return fmt.Errorf("handoff.staff_channel slack needs TIER0_SLACK_BOT_TOKEN and slack.staff_channel_id")
		}
	case "teams":
		if c.Teams.AppID == "" || c.Teams.StaffChannelID == "" || c.Teams.StaffServiceURL == "" {
			return fmt.Errorf("handoff.staff_channel teams needs TIER0_TEAMS_APP_ID, teams.staff_channel_id and teams.staff_service_url")
		}
	case "telegram":
		if c.Telegram.Token == "" || c.Telegram.StaffChatID == 0 {
			return fmt.Errorf("handoff.staff_channel telegram needs TIER0_TELEGRAM_TOKEN and telegram.staff_chat_id")
		}
	default:
		return fmt.Errorf("handoff.staff_channel %q: want console, slack, teams or telegram", c.Handoff.StaffChannel)
	}
	return nil
}
