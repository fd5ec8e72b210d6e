// Package teams is the Microsoft Teams channel: employees ask IT in a
// personal chat with the bot or by @mentioning it in a channel, and a Teams
// channel can be the staff channel, one reply chain per ticket.
//
// # Routes
//
// [Adapter.Handler] serves the bot's messaging endpoint; mount it at
// /api/messages (the "Messaging endpoint" of the Azure Bot resource):
//
//	POST /api/messages   Bot Framework activities
//	  202  a message's turn is committed to the store (its reply follows
//	       proactively), or it was committed before (a retry)
//	  200  an activity that is not for us (conversationUpdate, typing, invoke, …), ignored
//	  400  malformed JSON or an activity without conversation or id
//	  401  missing, forged, expired or misaddressed Bot Framework token
//	  403  an activity from another tenant when Config.TenantID is set
//	  405  not POST; 413 body over Config.MaxBodyBytes
//	  503  not committed: the store or engine is unavailable, the engine is
//	       overloaded (Retry-After), the turn took longer than
//	       Config.CommitWait, or no worker was free; the Bot Framework
//	       retries, and a retry of a committed message is a duplicate
//
// # Inbound
//
// Every request must carry a Bot Framework JWT: RS256 only, signed by a key
// from the JWKS named by the OpenID metadata document
// (Config.OpenIDMetadataURL), issuer in Config.Issuers, audience the app
// id, a serviceurl claim equal to the activity's serviceUrl, nbf/exp with
// five minutes of clock skew, and, when the key lists endorsements, the
// activity's channelId among them. Keys are cached; an unknown kid fetches
// them again at most once a minute, and they are refreshed every
// Config.KeyRefreshInterval (default 24h).
//
// In channels and group chats only messages that @mention the bot, and
// clicks on its cards, are handled; other messages (which the bot sees
// with the ChannelMessage.Read.Group permission) get 200 and nothing else.
// A message becomes a conversation.Message on channel "teams":
// ConversationKey "teams:<tenant>:<conversation id>" (a conversation id
// that would make the key longer than 200 bytes, or that holds control
// characters, is replaced by "h:" and its SHA-256 in hex); a channel reply
// chain is its own conversation (its id carries ";messageid=<root>", which
// is also the ThreadKey); DedupeKey and PlatformMsgID are the activity id;
// the user is from.aadObjectId (else from.id) with from.name, the locale
// and the tenant. The bot's own <at>…</at> mention is cut from the text,
// other mentions keep their name. An Adaptive Card Action.Submit click is
// the Action {"tier0_action","tier0_value"} from the card's data; files
// and images become Attachments (name, content type, https link).
//
// Before the message is handed to the engine, its conversation reference
// (serviceUrl, conversation, bot and user accounts, tenant, activity id:
// the library's schema.ConversationReference) is stored in the Refs store
// (namespace "teams.ref", key the conversation key), so replies can be
// sent proactively, also hours later by an agent. When a turn takes longer
// than Config.TypingDelay (default 1s) a typing activity is sent;
// [Adapter.Typing] does the same on demand.
//
// # Outbound
//
// [Adapter.Sender] delivers channel "teams": answers, consulting
// questions and anything with buttons or citations as an Adaptive Card
// (text, sources as a FactSet with links, one Action.Submit per button),
// other notices as markdown text; to the stored conversation (a channel
// reply chain stays in its chain), as a reply to the message answered when
// known. Staff and note kinds are refused (Invalid): they never go to an
// employee.
//
// The connector client gets an OAuth client-credentials token from
// Config.TokenURL (scope https://api.botframework.com/.default), caches it
// until five minutes before expiry (one fetch at a time), and on a 401
// from the connector fetches a new one once. Network errors and 412, 429,
// 500, 502, 503 and 504 are retried with exponential backoff, honouring Retry-After up to
// Config.MaxRetryWait; after Config.MaxAttempts, or when the platform asks
// for a longer wait, Send returns conversation.Unavailable (wrapped in a
// conversation.RetryAfterError carrying the platform's delay) so the
// dispatcher retries later.
//
// Outbound.ID is the idempotency key, shared by all replicas: before an
// outbound (customer or staff) is posted, refs are asked for its sent mark
// (namespace "teams-sent", key "<outbound id>#0" — Teams messages are
// never split, so there is only part 0), and once the connector accepted
// the post the mark is written (value: the activity id, kept 24 hours).
// A bounded in-memory set of recently sent ids (Config.RecentIDs) answers
// first, so a retry in the same process does not even ask the store. A
// retry on another replica or after a restart therefore posts nothing.
// When refs cannot be read the Send returns Unavailable and the dispatcher
// retries later; when the mark cannot be written after the connector
// accepted the post, a warning is logged and the Send still succeeds. The
// connector has no idempotency key of its own, so one window remains: the
// connector accepted the post but the process died (or the store failed)
// before the mark was written, or the connector's answer was lost in a
// timeout; a retry then posts the message again.
//
// # Staff channel
//
// With Config.StaffChannelID set, [Adapter.StaffSender] delivers channel
// "teams-staff" ([StaffChannel]): the handoff card opens a new reply chain
// in that channel (POST {StaffServiceURL}/v3/conversations with isGroup,
// channelData.channel.id and the tenant) as an Adaptive Card with the
// buttons Claim, Resolve, Hand back, Escalate and Priority (P1–P4); the
// chain's conversation id is stored both ways ("teams.staff" by
// conversation key, "teams.staff.chain" by chain id). Customer messages
// relayed while a person owns the ticket are posted into the chain as
// plain text.
//
// Agent input in a ticket chain (the bot sees messages that @mention it,
// or all of them with the ChannelMessage.Read.Group permission): a plain
// message is an internal note (AgentNote); "reply: …" is AgentReply; the
// card buttons are AgentClaim, AgentResolve, AgentHandBack, AgentEscalate
// and AgentPriority. A button's data names the conversation; the adapter
// acts only when the stored references confirm that the chain the click
// came from is the current chain of that conversation, so a forged submit
// cannot act on another conversation. The agent is "teams:<aadObjectId>"
// with the display name; DedupeKey is the activity id. A rejected action
// (Conflict, NotFound, Invalid) gets a short reply in the chain; a button
// action that worked, or a note that @mentioned the bot, gets a one-line
// confirmation. Messages that do not address the bot (no mention, no
// click) never get an answer from it, in ticket chains or elsewhere.
//
// # What replaces msbotbuilder-go
//
// The adapter uses the activity schema of
// github.com/infracloudio/msbotbuilder-go (schema.Activity to decode
// inbound activities, schema.ConversationReference for stored references,
// schema.ChannelAccount, ConversationAccount and Attachment on the wire)
// and nothing else of it:
//
//   - connector/auth is replaced by this package's validator: the library
//     hard-codes the OpenID metadata URL (tests cannot point it at a fake),
//     writes its key cache from concurrent requests without a lock (a data
//     race), fetches the metadata document on every request, asserts the
//     claims type without checking (a panic on some bad tokens), accepts
//     RS384/RS512 and checks neither expiry leeway nor endorsements.
//   - connector/client and core are replaced by this package's connector
//     client: the library's token cache is unsynchronised, a failed token
//     request dereferences a nil response (a panic when the network is
//     down), requests have no context or timeout, and there are no retries
//     or Retry-After handling.
//   - Outbound activities are this package's own struct (with the schema's
//     account and attachment types): schema.Activity has non-pointer
//     time.Time and struct fields tagged omitempty, which encoding/json
//     still writes, so every activity would carry "expiration":
//     "0001-01-01T00:00:00Z", empty "from", "relatesTo" and so on.
//     schema.ConversationParameters embeds such an Activity, so conversation
//     creation has its own struct too. Inbound decoding shadows the
//     schema's entities (its Entity keeps only the type, losing mentions),
//     value (its map rejects non-object values), channelData and the
//     timestamps (a malformed localTimestamp or expiration must not reject
//     a message).
//   - Adaptive Cards are built here: the library has no type for them, and
//     its schema.Fact (key/value) is the receipt card's, not the Adaptive
//     Card FactSet's (title/value).
//
// Because only the schema package is imported, the library's vulnerable
// dependencies (github.com/golang-jwt/jwt/v4, github.com/lestrrat-go/jwx
// v1) are not compiled into tier0; `go mod why -m` reports that the main
// module does not need them. go.mod still raises them to jwt/v4 v4.5.2
// and jwx v1.2.31 (the library builds with both), so the module graph
// holds no vulnerable versions.
//
// # Configuration
//
// [Config] holds the app id and password of the Azure Bot registration,
// the optional single tenant, the staff channel and tuning values; see
// doc.md next to this file for the setup steps.
package teams

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// StaffChannel is the channel name of the Teams staff channel: register
// [Adapter.StaffSender] under it and give it to the handoff desk.
const StaffChannel conversation.Channel = "teams-staff"

// Defaults of Config fields left zero.
const (
	DefaultOpenIDMetadataURL  = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	DefaultTokenURL           = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
	DefaultTokenScope         = "https://api.botframework.com/.default"
	DefaultIssuer             = "https://api.botframework.com"
	DefaultHTTPTimeout        = 10 * time.Second
	DefaultHandleTimeout      = 30 * time.Second
	DefaultCommitWait         = workpool.DefaultCommitWait
	DefaultWorkers            = workpool.DefaultWorkers
	DefaultQueueSize          = workpool.DefaultQueueSize
	DefaultMaxBodyBytes       = 256 << 10
	DefaultTypingDelay        = time.Second
	DefaultMaxAttempts        = 4
	DefaultMaxRetryWait       = 10 * time.Second
	DefaultKeyRefreshInterval = 24 * time.Hour
	DefaultRecentIDs          = 4096
)

// Ref namespaces in the Refs store.
const (
	nsRef         = "teams.ref"         // conversation key → customer conversation reference
	nsStaff       = "teams.staff"       // conversation key → staff reply chain
	nsStaffChain  = "teams.staff.chain" // staff chain conversation id → conversation key
	maxCommitWait = 14 * time.Second
	queueWait     = time.Second // how long a request waits for room in the worker queue
	maxRefKeyLen  = 512
	maxAppIDLen   = 128
	maxChannelLen = 512
)

// engine is what the adapter hands messages and agent actions to;
// *conversation.Engine satisfies it.
type engine interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
	Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

// Config configures the Teams adapter. AppID and AppPassword are required;
// zero values take the defaults.
type Config struct {
	// AppID and AppPassword are the Microsoft App ID and a client secret
	// of the Azure Bot registration.
	AppID       string
	AppPassword string
	// TenantID, when set, makes the bot single-tenant: its token comes from
	// that tenant's endpoint, and activities from other tenants are
	// refused with 403.
	TenantID string
	// OpenIDMetadataURL is the Bot Framework's OpenID metadata document
	// (default DefaultOpenIDMetadataURL).
	OpenIDMetadataURL string
	// TokenURL is the OAuth token endpoint (default DefaultTokenURL, or
	// the tenant's endpoint when TenantID is set); TokenScope the scope
	// asked for (default DefaultTokenScope).
	TokenURL   string
	TokenScope string
	// Issuers are the accepted iss values of inbound tokens (default
	// [DefaultIssuer]).
	Issuers []string
	// StaffChannelID is the Teams channel ("19:…@thread.tacv2") where
	// handoff tickets open reply chains; StaffServiceURL its connector
	// (e.g. https://smba.trafficmanager.net/emea/, the serviceUrl of
	// activities from that team) and StaffTenantID its tenant (default
	// TenantID). All empty: no staff channel.
	StaffServiceURL string
	StaffChannelID  string
	StaffTenantID   string
	// HTTPTimeout bounds each request to the token endpoint, the metadata
	// and key documents and the connector (default 10s).
	HTTPTimeout time.Duration
	// HandleTimeout bounds one Engine.Handle or Act call (default 30s);
	// the turn is not cut short when the Bot Framework hangs up.
	HandleTimeout time.Duration
	// CommitWait is how long a request waits for its turn to be committed
	// before it is answered (default 10s, at most 14s: the Bot Framework
	// gives up on an answer after 15s). A message is answered 202 only
	// once its turn is durable in the store; a turn that fails, or is not
	// committed in time, is answered 503 and the Bot Framework's retry
	// (recognised by the activity id if the turn did commit) brings it
	// back. The turn itself goes on up to HandleTimeout.
	CommitWait time.Duration
	// Workers is the number of turns run at once (default 64); QueueSize
	// how many more may wait for a worker (default 256). A request that
	// finds no room within a second is answered 503.
	Workers   int
	QueueSize int
	// MaxBodyBytes bounds inbound request bodies (default 256 KiB).
	MaxBodyBytes int64
	// TypingDelay is how long a turn may take before a typing activity is
	// sent (default 1s; negative: never).
	TypingDelay time.Duration
	// MaxAttempts is how often one Send tries the connector (default 4);
	// MaxRetryWait the longest wait between tries, a Retry-After included,
	// before Send gives the message back to the dispatcher (default 10s).
	MaxAttempts  int
	MaxRetryWait time.Duration
	// KeyRefreshInterval is how often the signing keys are fetched again
	// (default 24h).
	KeyRefreshInterval time.Duration
	// RefTTL is how long stored references live (default 0: the store's
	// default, 90 days); every inbound message renews its conversation's.
	RefTTL time.Duration
	// RecentIDs bounds the in-memory set of recently sent Outbound ids
	// that answers before refs are asked (default 4096).
	RecentIDs int
	// Logger receives the adapter's logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.OpenIDMetadataURL == "" {
		c.OpenIDMetadataURL = DefaultOpenIDMetadataURL
	}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
		if c.TenantID != "" {
			c.TokenURL = "https://login.microsoftonline.com/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
		}
	}
	if c.TokenScope == "" {
		c.TokenScope = DefaultTokenScope
	}
	if len(c.Issuers) == 0 {
		c.Issuers = []string{DefaultIssuer}
	}
	if c.StaffTenantID == "" {
		c.StaffTenantID = c.TenantID
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.HandleTimeout == 0 {
		c.HandleTimeout = DefaultHandleTimeout
	}
	p := workpool.Config{CommitWait: c.CommitWait, Workers: c.Workers, QueueSize: c.QueueSize}.WithDefaults()
	c.CommitWait, c.Workers, c.QueueSize = p.CommitWait, p.Workers, p.QueueSize
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.TypingDelay == 0 {
		c.TypingDelay = DefaultTypingDelay
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.KeyRefreshInterval == 0 {
		c.KeyRefreshInterval = DefaultKeyRefreshInterval
	}
	if c.RecentIDs == 0 {
		c.RecentIDs = DefaultRecentIDs
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration. It returns an Invalid error naming the
// first problem: a missing AppID or AppPassword, a malformed URL (https is
// required, plain http only on a loopback host), a staff channel without
// its service URL or tenant, or out-of-range numbers.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "teams config: "+format, args...)
	}
	switch {
	case !conversation.Printable(c.AppID, maxAppIDLen):
		return inv("AppID must be 1..%d printable characters (the Microsoft App ID of the bot)", maxAppIDLen)
	case c.AppPassword == "":
		return inv("AppPassword is required (a client secret of the bot's app registration)")
	case c.TenantID != "" && !conversation.Printable(c.TenantID, maxAppIDLen):
		return inv("TenantID must be at most %d printable characters", maxAppIDLen)
	case c.HTTPTimeout < 0 || c.HTTPTimeout > 5*time.Minute:
		return inv("HTTPTimeout must be between 0 and 5m")
	case c.HandleTimeout < 0 || c.HandleTimeout > 10*time.Minute:
		return inv("HandleTimeout must be between 0 and 10m")
	case c.CommitWait < 0 || c.CommitWait > maxCommitWait:
		return inv("CommitWait must be between 0 and %s (the Bot Framework waits 15s for an answer)", maxCommitWait)
	case c.Workers < 0 || c.Workers > 1024 || c.QueueSize < 0 || c.QueueSize > 100000:
		return inv("Workers must be between 0 and 1024, QueueSize between 0 and 100000")
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && (c.MaxBodyBytes < 4<<10 || c.MaxBodyBytes > 8<<20):
		return inv("MaxBodyBytes must be between 4 KiB and 8 MiB")
	case c.MaxAttempts < 0 || c.MaxAttempts > 20:
		return inv("MaxAttempts must be between 0 and 20")
	case c.MaxRetryWait < 0 || c.MaxRetryWait > 5*time.Minute:
		return inv("MaxRetryWait must be between 0 and 5m")
	case c.KeyRefreshInterval < 0 || c.KeyRefreshInterval > 0 && c.KeyRefreshInterval < time.Minute:
		return inv("KeyRefreshInterval must be at least 1m")
	case c.RefTTL < 0:
		return inv("RefTTL must not be negative")
	case c.RecentIDs < 0 || c.RecentIDs > 1<<20:
		return inv("RecentIDs must be between 0 and %d", 1<<20)
	}
	for name, u := range map[string]string{"OpenIDMetadataURL": c.OpenIDMetadataURL, "TokenURL": c.TokenURL, "StaffServiceURL": c.StaffServiceURL} {
		if u != "" && !safeEndpoint(u) {
			return inv("%s %q must be an https URL (http only on a loopback host)", name, u)
		}
	}
	for _, iss := range c.Issuers {
		if !conversation.Printable(iss, 512) {
			return inv("Issuers must be non-empty printable strings")
		}
	}
	staff := c.StaffChannelID != "" || c.StaffServiceURL != ""
	switch {
	case !staff:
	case !conversation.Printable(c.StaffChannelID, maxChannelLen) || strings.Contains(c.StaffChannelID, ";"):
		return inv("StaffChannelID must be a Teams channel id such as 19:…@thread.tacv2")
	case c.StaffServiceURL == "":
		return inv("StaffServiceURL is required with StaffChannelID (the serviceUrl of activities from that team)")
	case c.StaffTenantID == "" && c.TenantID == "":
		return inv("StaffTenantID (or TenantID) is required with StaffChannelID")
	case c.StaffTenantID != "" && !conversation.Printable(c.StaffTenantID, maxAppIDLen):
		return inv("StaffTenantID must be at most %d printable characters", maxAppIDLen)
	}
	return nil
}

// safeEndpoint accepts absolute https URLs, and http URLs on a loopback
// host (tests, the offline fake), without user info or fragment.
func safeEndpoint(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n\\") {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return isLoopback(u.Hostname())
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Adapter is the Teams channel: it serves the messaging endpoint, hands
// messages and agent actions to the engine, and delivers replies through
// the Bot Connector. Safe for concurrent use.
type Adapter struct {
	cfg    Config
	eng    engine
	refs   conversation.Refs
	log    *slog.Logger
	auth   *validator
	conn   *connector
	sent   *delivered.Log
	chains createdChains
	pool   *workpool.Pool

	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup // background posts (typing, chain replies)
}

// New returns an adapter that hands messages to eng and keeps references
// in refs (a store with conversation.Refs). Errors: Invalid for a bad
// Config or a nil eng or refs.
func New(cfg Config, eng engine, refs conversation.Refs) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng == nil || refs == nil {
		return nil, conversation.Errorf(conversation.Invalid, "teams: an engine and a refs store are required")
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("channel", string(conversation.ChannelTeams))
	hc := &http.Client{Timeout: cfg.HTTPTimeout}
	a := &Adapter{
		cfg:  cfg,
		eng:  eng,
		refs: refs,
		log:  log,
	}
	a.sent = delivered.New("teams", nsSent, refs, cfg.RecentIDs, log)
	a.pool = workpool.New("teams", cfg.Workers, cfg.QueueSize, log)
	a.auth = newValidator(validatorConfig{
		metadataURL: cfg.OpenIDMetadataURL,
		appID:       cfg.AppID,
		issuers:     cfg.Issuers,
		maxAge:      cfg.KeyRefreshInterval,
		http:        hc,
		now:         cfg.Now,
		log:         log,
	})
	a.conn = newConnector(connectorConfig{
		tokenURL:     cfg.TokenURL,
		clientID:     cfg.AppID,
		clientSecret: cfg.AppPassword,
		scope:        cfg.TokenScope,
		http:         hc,
		timeout:      cfg.HTTPTimeout,
		maxAttempts:  cfg.MaxAttempts,
		maxWait:      cfg.MaxRetryWait,
		now:          cfg.Now,
	})
	return a, nil
}

// Handler returns the HTTP handler of the bot's messaging endpoint; mount
// it at /api/messages (it does not look at the path).
func (a *Adapter) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }

// Close refuses new activities (503), waits for the turns in progress
// (each bounded by HandleTimeout) and the background posts (typing
// indicators, replies in staff chains) to finish, refuses new ones and
// closes idle connections. It always returns nil.
func (a *Adapter) Close() error {
	_ = a.pool.Close(context.Background()) // the jobs end within HandleTimeout
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.pending.Wait()
	a.conn.http.CloseIdleConnections()
	return nil
}

// background runs fn in its own goroutine with a fresh context bounded by
// the HTTP timeout (the request that caused it may be over by then),
// unless the adapter is closed. Close waits for it.
func (a *Adapter) background(what string, fn func(ctx context.Context) error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.pending.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*a.cfg.HTTPTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			a.log.Warn("teams background post failed", "what", what, "err", err)
		}
	}()
}

// refKey bounds a platform id used as a ref key: ids longer than
// maxRefKeyLen are replaced by their hash.
func refKey(id string) string {
	if len(id) <= maxRefKeyLen && conversation.Printable(id, maxRefKeyLen) {
		return id
	}
	return "h:" + sha256Hex(id)
}
