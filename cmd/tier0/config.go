package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// AdmissionConfig is the engine's admission control (see
// conversation.AdmissionConfig): a new customer turn is refused (web chat
// 429 with Retry-After, Slack 503 so it retries) when the turns in flight
// would take longer than Budget to serve at the measured rate.
type AdmissionConfig struct {
	// Budget is the latency budget (default 2s; negative: never refuse).
	Budget time.Duration `yaml:"budget"`
	// MinInFlight turns are always admitted (default 256).
	MinInFlight int `yaml:"min_in_flight"`
}

// Config is the YAML configuration of a tier0 deployment. Secrets never
// live here: they come from environment variables (see applyEnv).
type Config struct {
	// Name is shown in the web chat title.
	Name string `yaml:"name"`
	// Listen is the HTTP address (default ":8080").
	Listen string `yaml:"listen"`
	// DataDir holds the embedded store, the knowledge index and generated
	// keys (default "data", relative to the working directory).
	DataDir   string          `yaml:"data_dir"`
	LogLevel  string          `yaml:"log_level"` // debug, info, warn, error
	Store     StoreConfig     `yaml:"store"`
	Knowledge KnowledgeConfig `yaml:"knowledge"`
	Handoff   HandoffConfig   `yaml:"handoff"`
	WebChat   WebChatConfig   `yaml:"webchat"`
	Texts     TextsConfig     `yaml:"texts"`
	// Language: the languages the bot detects and speaks.
	Language LanguageConfig `yaml:"language"`
	// Consulting: the questions asked before a thread goes to a person.
	Consulting ConsultingConfig `yaml:"consulting"`
	// Console: the web agent console at /console/.
	Console ConsoleConfig `yaml:"console"`
	// Chat platforms; each is off until its token is in the environment.
	Slack         SlackConfig         `yaml:"slack"`
	Teams         TeamsConfig         `yaml:"teams"`
	Telegram      TelegramConfig      `yaml:"telegram"`
	WhatsApp      WhatsAppConfig      `yaml:"whatsapp"`
	WhatsAppCloud WhatsAppCloudConfig `yaml:"whatsapp_cloud"`
	// Leader: the lease of the single-connection channels.
	Leader LeaderConfig `yaml:"leader"`
	// Actions: what the bot does besides answering (order status,
	// returns, account unlock, ticket status).
	Actions ActionsConfig `yaml:"actions"`
	// Admission: when the engine refuses new customer turns as overloaded.
	Admission AdmissionConfig `yaml:"admission"`

	// dir is the directory of the config file; relative paths in the
	// file are resolved against it.
	dir string
}

// StoreConfig selects where dialogue state lives.
type StoreConfig struct {
	// Driver is "bolt" (embedded file, the default) or "redis".
	Driver string      `yaml:"driver"`
	Path   string      `yaml:"path"` // bolt file (default <data_dir>/tier0.db)
	Redis  RedisConfig `yaml:"redis"`
	// IdleTTL expires conversations idle this long (default 720h).
	IdleTTL time.Duration `yaml:"idle_ttl"`
}

// RedisConfig points at Redis standalone, Sentinel or Cluster.
type RedisConfig struct {
	// Addrs: one address for standalone, several for Cluster, or the
	// Sentinel addresses together with MasterName.
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	DB         int      `yaml:"db"`
	Username   string   `yaml:"username"`
	Prefix     string   `yaml:"prefix"`
	// Password comes from TIER0_REDIS_PASSWORD only.
	Password string `yaml:"-"`
}

// KnowledgeConfig says where the documents are and how sure the bot must be.
type KnowledgeConfig struct {
	// Path is the folder of markdown documents (relative to the config file).
	Path string `yaml:"path"`
	// BaseURL, when set, turns a document path into a link:
	// BaseURL + path without ".md". Documents with a front-matter url keep it.
	BaseURL string `yaml:"base_url"`
	// Threshold overrides the answerability threshold (0 = built-in default).
	Threshold float64 `yaml:"threshold"`
	// IngestOnStart ingests Path when serve starts (incremental; default true).
	IngestOnStart *bool `yaml:"ingest_on_start"`
	// Embedding selects the embedding model: the built-in offline one
	// (default), or any OpenAI-compatible /embeddings endpoint.
	Embedding EmbeddingConfig `yaml:"embedding"`
	// LLM, when its base_url is set, writes answers from the retrieved
	// passages through an OpenAI-compatible /chat/completions endpoint.
	LLM LLMConfig `yaml:"llm"`
}

// EmbeddingConfig points at an OpenAI-compatible embeddings API (OpenAI,
// Azure OpenAI, Ollama, vLLM, TEI). Changing the model rebuilds the index.
type EmbeddingConfig struct {
	BaseURL         string `yaml:"base_url"` // e.g. https://api.openai.com/v1, http://localhost:11434/v1
	Model           string `yaml:"model"`
	Dimensions      int    `yaml:"dimensions"`
	AzureAPIVersion string `yaml:"azure_api_version"`
	APIKey          string `yaml:"-"` // TIER0_EMBED_API_KEY only
}

// LLMConfig points at an OpenAI-compatible chat completions API.
type LLMConfig struct {
	BaseURL         string        `yaml:"base_url"`
	Model           string        `yaml:"model"`
	Timeout         time.Duration `yaml:"timeout"` // latency budget; the extractive answer after it (default 8s)
	MaxTokens       int           `yaml:"max_tokens"`
	AzureAPIVersion string        `yaml:"azure_api_version"`
	APIKey          string        `yaml:"-"` // TIER0_LLM_API_KEY only
}

// HandoffConfig configures tickets.
type HandoffConfig struct {
	TicketPrefix string `yaml:"ticket_prefix"`
	Team         string `yaml:"team"`
	Priority     string `yaml:"priority"`
	// Frustration hands a frustrated customer (built-in English and German
	// sentiment scorer) to a person at once (default true).
	Frustration *bool `yaml:"frustration"`
	// Priorities: the first-listed most urgent matching rule sets the
	// ticket's priority; otherwise priority applies.
	Priorities []PriorityRuleConfig `yaml:"priorities"`
	// Routes: the first matching rule picks the team; otherwise team.
	Routes []RouteRuleConfig `yaml:"routes"`
	// Profiles: where customer profiles come from (tier for routing,
	// details for the handoff card): a YAML/JSON file, or an HTTP JSON
	// endpoint (bearer token from TIER0_PROFILES_TOKEN).
	Profiles ProfilesConfig `yaml:"profiles"`
	// SLA per priority: first_response and resolution durations.
	SLA map[string]SLAConfig `yaml:"sla"`
	// StaffChannel is where agents get handoff cards besides the web
	// console: "console" (the default: the console only), "slack",
	// "teams" or "telegram" (one thread, reply chain or topic per ticket).
	StaffChannel string `yaml:"staff_channel"`
}

// SLAConfig is the service level of one priority.
type SLAConfig struct {
	FirstResponse time.Duration `yaml:"first_response"`
	Resolution    time.Duration `yaml:"resolution"`
}

// ProfilesConfig selects the customer profile source.
type ProfilesConfig struct {
	File  string `yaml:"file"` // relative to the config file
	URL   string `yaml:"url"`
	Token string `yaml:"-"`
}

// PriorityRuleConfig is one priority rule; every condition it sets must hold.
type PriorityRuleConfig struct {
	Keywords             []string `yaml:"keywords"`
	MinNegativeSentiment float64  `yaml:"min_negative_sentiment"` // e.g. -0.5: fires at or below
	CustomerTiers        []string `yaml:"customer_tiers"`
	Priority             string   `yaml:"priority"`
}

// RouteRuleConfig is one routing rule; empty lists match anything.
type RouteRuleConfig struct {
	Categories    []string             `yaml:"categories"`
	Languages     []string             `yaml:"languages"`
	Channels      []string             `yaml:"channels"`
	Team          string               `yaml:"team"`
	EscalateTo    string               `yaml:"escalate_to"`
	BusinessHours *BusinessHoursConfig `yaml:"business_hours"`
}

// BusinessHoursConfig is when a team works; outside, out_of_hours_team
// takes the ticket.
type BusinessHoursConfig struct {
	TimeZone       string   `yaml:"time_zone"` // IANA, e.g. Europe/Berlin
	Days           []string `yaml:"days"`      // mon … sun (default mon–fri)
	Start          string   `yaml:"start"`     // "08:00"
	End            string   `yaml:"end"`       // "18:00"
	OutOfHoursTeam string   `yaml:"out_of_hours_team"`
}

// WebChatConfig configures the web chat channel.
type WebChatConfig struct {
	Title   string `yaml:"title"`
	Welcome string `yaml:"welcome"`
	// WelcomeByLanguage: the greeting in other languages, by code.
	WelcomeByLanguage map[string]string `yaml:"welcome_by_language"`
	AllowedOrigins    []string          `yaml:"allowed_origins"`
	RatePerMinute     int               `yaml:"rate_per_minute"`
	SessionTTL        time.Duration     `yaml:"session_ttl"`
	// Secret signs session tokens; from TIER0_WEBCHAT_SECRET only. When it
	// is unset a random key is generated once into <data_dir>/webchat.key.
	Secret string `yaml:"-"`
}

// ConsultingConfig configures consulting questions: when the bot is not
// sure, it asks up to max_questions (default 2; -1 turns consulting off)
// before handing off: "which one do you mean" when the best answers
// disagree, or the questions of the first flow whose keywords the
// customer's question mentions.
type ConsultingConfig struct {
	MaxQuestions int          `yaml:"max_questions"`
	Flows        []FlowConfig `yaml:"flows"`
}

// FlowConfig is the consulting of one topic.
type FlowConfig struct {
	Name     string   `yaml:"name"`
	Keywords []string `yaml:"keywords"`
	// Questions are asked one at a time; each is a sentence or a map of
	// language code to sentence (see Localized).
	Questions []Localized `yaml:"questions"`
}

// ConsoleConfig configures the web agent console. Accounts hold bcrypt
// hashes (make one with `tier0 passwd`); TIER0_CONSOLE_PASSWORD adds an
// account "admin" with that password for trying it out.
type ConsoleConfig struct {
	SessionTTL   time.Duration   `yaml:"session_ttl"`
	SecureCookie bool            `yaml:"secure_cookie"` // true behind a TLS-terminating proxy
	Accounts     []AccountConfig `yaml:"accounts"`
	Secret       string          `yaml:"-"` // TIER0_CONSOLE_SECRET (the same on every replica)
	AdminPass    string          `yaml:"-"` // TIER0_CONSOLE_PASSWORD
}

// AccountConfig is one agent account.
type AccountConfig struct {
	Username     string   `yaml:"username"`
	Name         string   `yaml:"name"`
	PasswordHash string   `yaml:"password_hash"`
	Teams        []string `yaml:"teams"`
}

// DefaultConfigPath is used when no -config flag is given.
const DefaultConfigPath = "configs/it-helpdesk/tier0.yaml"

// LoadConfig reads a YAML file, applies environment overrides and
// defaults, and validates the result.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file means all defaults
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.dir = filepath.Dir(abs)
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// applyEnv overrides settings from TIER0_* environment variables.
func (c *Config) applyEnv(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str("TIER0_LISTEN", &c.Listen)
	str("TIER0_DATA_DIR", &c.DataDir)
	str("TIER0_LOG_LEVEL", &c.LogLevel)
	str("TIER0_STORE", &c.Store.Driver)
	str("TIER0_REDIS_MASTER_NAME", &c.Store.Redis.MasterName)
	str("TIER0_REDIS_USERNAME", &c.Store.Redis.Username)
	str("TIER0_REDIS_PASSWORD", &c.Store.Redis.Password)
	str("TIER0_WEBCHAT_SECRET", &c.WebChat.Secret)
	str("TIER0_KNOWLEDGE_PATH", &c.Knowledge.Path)
	str("TIER0_EMBED_BASE_URL", &c.Knowledge.Embedding.BaseURL)
	str("TIER0_EMBED_MODEL", &c.Knowledge.Embedding.Model)
	str("TIER0_EMBED_API_KEY", &c.Knowledge.Embedding.APIKey)
	str("TIER0_LLM_BASE_URL", &c.Knowledge.LLM.BaseURL)
	str("TIER0_LLM_MODEL", &c.Knowledge.LLM.Model)
	str("TIER0_LLM_API_KEY", &c.Knowledge.LLM.APIKey)
	str("TIER0_PROFILES_TOKEN", &c.Handoff.Profiles.Token)
	str("TIER0_CONSOLE_SECRET", &c.Console.Secret)
	str("TIER0_CONSOLE_PASSWORD", &c.Console.AdminPass)
	c.channelEnv(str)
	c.actionsEnv(getenv)
	if v := getenv("TIER0_REDIS_ADDR"); v != "" {
		c.Store.Redis.Addrs = strings.Split(v, ",")
		if c.Store.Driver == "" || getenv("TIER0_STORE") == "" {
			c.Store.Driver = "redis"
		}
	}
	if v := getenv("TIER0_REDIS_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("TIER0_REDIS_DB=%q: not a number", v)
		}
		c.Store.Redis.DB = n
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "tier0"
	}
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "bolt"
	}
	if c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.DataDir, "tier0.db")
	}
	if len(c.Store.Redis.Addrs) == 0 {
		c.Store.Redis.Addrs = []string{"127.0.0.1:6379"}
	}
	if c.Handoff.Frustration == nil {
		t := true
		c.Handoff.Frustration = &t
	}
	if c.Knowledge.IngestOnStart == nil {
		t := true
		c.Knowledge.IngestOnStart = &t
	}
	if f := c.Handoff.Profiles.File; f != "" && !filepath.IsAbs(f) {
		c.Handoff.Profiles.File = filepath.Join(c.dir, f)
	}
	if c.Knowledge.Path != "" && !filepath.IsAbs(c.Knowledge.Path) {
		c.Knowledge.Path = filepath.Join(c.dir, c.Knowledge.Path)
	}
	if c.WebChat.Title == "" {
		c.WebChat.Title = c.Name
	}
	c.channelDefaults()
	c.languageDefaults()
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	switch c.Store.Driver {
	case "bolt", "redis":
	default:
		return fmt.Errorf("store.driver %q: want bolt or redis", c.Store.Driver)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Knowledge.Threshold < 0 || c.Knowledge.Threshold > 1 {
		return fmt.Errorf("knowledge.threshold %v: want a number between 0 and 1", c.Knowledge.Threshold)
	}
	if c.Knowledge.Embedding.BaseURL != "" && c.Knowledge.Embedding.Model == "" {
		return fmt.Errorf("knowledge.embedding.model is required with base_url (or TIER0_EMBED_MODEL)")
	}
	if c.Knowledge.LLM.BaseURL != "" && c.Knowledge.LLM.Model == "" {
		return fmt.Errorf("knowledge.llm.model is required with base_url (or TIER0_LLM_MODEL)")
	}
	if c.Handoff.Profiles.File != "" && c.Handoff.Profiles.URL != "" {
		return fmt.Errorf("handoff.profiles: set file or url, not both")
	}
	for i, f := range c.Consulting.Flows {
		if f.Name == "" || len(f.Keywords) == 0 || len(f.Questions) == 0 {
			return fmt.Errorf("consulting.flows[%d]: name, keywords and questions are required", i)
		}
	}
	if c.Consulting.MaxQuestions < -1 || c.Consulting.MaxQuestions > 10 {
		return fmt.Errorf("consulting.max_questions %d: want -1 (off), 0 (default 2) or 1..10", c.Consulting.MaxQuestions)
	}
	if c.Console.Secret != "" && len(c.Console.Secret) < 32 {
		return fmt.Errorf("TIER0_CONSOLE_SECRET must be at least 32 characters")
	}
	if c.WebChat.Secret != "" && len(c.WebChat.Secret) < 32 {
		return fmt.Errorf("TIER0_WEBCHAT_SECRET must be at least 32 characters")
	}
	if err := c.validateLanguage(); err != nil {
		return err
	}
	if err := c.validateActions(); err != nil {
		return err
	}
	return c.validateChannels()
}
