// Package whatsappcloud is the customer channel for the official Meta
// WhatsApp Business Platform Cloud API: shoppers write to the shop's
// WhatsApp Business number, Meta posts each message to our webhook, and
// replies go out through the Graph API.
//
// # Wiring
//
//	a, err := whatsappcloud.New(whatsappcloud.Config{
//		AccessToken:   os.Getenv("TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN"),
//		AppSecret:     os.Getenv("TIER0_WHATSAPP_CLOUD_APP_SECRET"),
//		VerifyToken:   os.Getenv("TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN"),
//		PhoneNumberID: "123456789012345",
//		Refs:          store, // optional: a conversation.Refs (bolt, Redis)
//	}, engine)
//	mux.Handle("/whatsapp/webhook", a.WebhookHandler())
//	dispatcher.Register(a.Channel(), a.Sender())
//
// # Inbound: the webhook
//
// [Adapter.WebhookHandler] serves one path (e.g. /whatsapp/webhook):
//
//	GET  ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…
//	     → 200 text/plain challenge when the token matches (constant time), else 403
//	POST X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>
//	     → 200 once every message of the payload is committed by the engine
//	       (or was before: a retry), within Config.CommitWait;
//	       401 missing or bad signature, 413 body over MaxBodyBytes,
//	       400 malformed JSON or an object other than whatsapp_business_account,
//	       503 with Retry-After when not: engine unavailable or overloaded,
//	       not committed in time, no worker free (Meta retries non-200 answers).
//
// Messages (text, interactive button and list replies, template quick
// replies, image, document, audio, video, location, contacts) become one
// conversation.Message each; other types (stickers, reactions, orders,
// "unsupported") are ignored with a log line. Delivery statuses are
// logged (failed ones at warn, with Meta's error codes). Changes for a
// phone number id other than Config.PhoneNumberID are ignored and logged.
//
// Keys: ConversationKey "wacloud:<wa_id>", DedupeKey "wac:<message id>",
// PlatformMsgID the message id (wamid.…), ThreadKey the id of the message
// the shopper quoted (swipe to reply), if any. Media arrive as
// attachments whose URL is "wacloud-media:<media id>"; [Adapter.ResolveMedia]
// looks the download URL up (GET /{media-id}) when someone needs it, and
// [Adapter.OpenMedia] downloads it. The access token never goes into a URL.
//
// # Channel name
//
// The adapter's channel is Config.Channel, "whatsapp"
// (conversation.ChannelWhatsApp) by default, with its own key prefix
// "wacloud:", so analytics count both WhatsApp routes as WhatsApp while
// its conversations never collide with those of the whatsmeow adapter.
// The Dispatcher keeps one Sender per channel, so to run both adapters
// side by side either set Channel to "whatsappcloud" here, or register a
// sender for "whatsapp" that hands keys for which [IsConversationKey]
// holds to this adapter and the rest to whatsmeow.
//
// # Outbound: the Sender
//
// [Adapter.Send] posts to {APIURL}/{APIVersion}/{PhoneNumberID}/messages
// with the access token as a Bearer header. Text goes out as type text
// (links previewed, citations as links on their own lines, split at 4096
// characters). Buttons: up to 3 become interactive reply buttons, 4 to 10
// an interactive list, more a numbered list in the text (a reply with the
// number counts as the click). Button ids carry the action id and value;
// ones too long for WhatsApp are kept in Refs under a hash.
//
// Errors: rate limits (HTTP 429, codes 4, 80007, 130429, 131056),
// Meta's temporary errors (1, 2, 131000, 131016, 133004), 5xx and timeouts
// are Unavailable (with a conversation.RetryAfterError when Meta says how
// long to wait), so the Dispatcher retries. Error 131047 (the 24-hour
// customer service window is closed) is permanent: a free-form reply to a
// shopper who last wrote more than 24 hours ago needs an approved
// template message, which this adapter does not send; see
// [ErrOutsideWindow]. Error 190 (access token invalid or expired) is
// permanent and logged at error level; see [ErrAccessToken].
//
// Outbound.ID is the idempotency key. A bounded in-memory set of recently
// sent ids and message parts (Config.RecentIDs) makes a retried Send in
// the same process skip what already went out. With Config.Refs set the
// key is shared by all replicas: before a part is sent, Refs are asked
// for its sent mark (namespace "wacloud-sent", key "<outbound id>#<part
// index>"), and once Graph accepted the part the mark is written (value:
// the wamid, kept 24 hours), so a retry on another replica or after a
// restart sends only the parts still missing. When Refs cannot be read
// the Send returns Unavailable and the Dispatcher retries later; when a
// mark cannot be written after Graph accepted the part, a warning is
// logged and the Send still succeeds. Without Config.Refs the marks live
// only in this process, and a retry elsewhere sends the message again.
// The Graph API has no idempotency key of its own, so one window remains
// even with Refs: Graph accepted a part but the process died (or the
// store failed) before its mark was written, or Graph's answer was lost
// in a timeout; a retry then sends that part again.
//
// Messages to one shopper are paced (a token bucket per recipient) to stay
// under WhatsApp's per-user pair rate limit.
package whatsappcloud

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/adapters/recent"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// Defaults for Config fields left zero.
const (
	DefaultAPIURL            = "https://graph.facebook.com"
	DefaultAPIVersion        = "v21.0"
	DefaultHTTPTimeout       = 15 * time.Second
	DefaultMaxBodyBytes      = 1 << 20
	DefaultHandleTimeout     = 20 * time.Second
	DefaultCommitWait        = workpool.DefaultCommitWait
	DefaultWorkers           = workpool.DefaultWorkers
	DefaultQueueSize         = workpool.DefaultQueueSize
	DefaultRecipientBurst    = 10
	DefaultRecipientInterval = 6 * time.Second
	DefaultMaxPaceWait       = 8 * time.Second
	DefaultRecentIDs         = 10000
	DefaultSourcesLabel      = "Sources:"
	DefaultListButton        = "Choose"
	DefaultChoicePrompt      = "Reply with the number of your choice."
)

// Key prefixes of this channel.
const (
	// KeyPrefix starts every conversation key: "wacloud:<wa_id>".
	KeyPrefix = "wacloud:"
	// DedupePrefix starts every dedupe key: "wac:<message id>".
	DedupePrefix = "wac:"
	// MediaURLPrefix starts an attachment URL: "wacloud-media:<media id>".
	MediaURLPrefix = "wacloud-media:"
)

// ActionQuickReply is the action id of a template quick-reply button whose
// payload was not made by this adapter; the payload is the action value
// and the button text the message text.
const ActionQuickReply = "quick_reply"

// Config configures the adapter. AccessToken, AppSecret, VerifyToken and
// PhoneNumberID are required; zero values of the rest take the defaults.
type Config struct {
	// AccessToken is the Graph API token (a permanent system-user token
	// with whatsapp_business_messaging), sent as "Authorization: Bearer".
	AccessToken string
	// AppSecret is the Meta app's secret; it signs every webhook POST
	// (X-Hub-Signature-256).
	AppSecret string
	// VerifyToken is the string entered in the app's webhook settings;
	// Meta echoes it in the GET subscription handshake.
	VerifyToken string
	// PhoneNumberID is the Graph id of the business phone number (not the
	// phone number itself). Webhook changes for other numbers are ignored.
	PhoneNumberID string
	// APIURL is the Graph API base (default https://graph.facebook.com);
	// point it at the whatsappgraph fake to try the adapter offline.
	APIURL string
	// APIVersion is the Graph API version path segment (default "v21.0").
	APIVersion string
	// HTTPTimeout bounds each Graph API call (default 15s).
	HTTPTimeout time.Duration
	// HTTPClient, when set, makes the Graph API calls (its Timeout is
	// replaced by HTTPTimeout when zero).
	HTTPClient *http.Client
	// Channel is the conversation channel of this adapter (default
	// conversation.ChannelWhatsApp); see the package documentation.
	Channel conversation.Channel
	// MaxBodyBytes bounds a webhook body (default 1 MiB); larger → 413.
	MaxBodyBytes int64
	// HandleTimeout bounds the engine's turns for one notification, all
	// its messages (default 20s). The turns are not cut short when Meta
	// hangs up.
	HandleTimeout time.Duration
	// CommitWait is how long a notification waits for its messages' turns
	// to be committed before it is answered (default 10s). Meta gets its
	// 200 only once every message is durable in the store (or dropped as
	// invalid); otherwise the answer is 503 and Meta delivers the
	// notification again (committed messages are recognised by their
	// wamid). The turns go on up to HandleTimeout.
	CommitWait time.Duration
	// Workers is the number of notifications handled at once (default
	// 64); QueueSize how many more may wait for a worker (default 256). A
	// notification that finds no room within a second is answered 503.
	Workers   int
	QueueSize int
	// TypingAfter, when positive, marks an inbound message read and shows
	// the shopper a typing indicator if its turn takes longer than this
	// (2s is a good value). Zero: off.
	TypingAfter time.Duration
	// MarkRead marks every accepted inbound message read (blue ticks).
	MarkRead bool
	// RecipientBurst and RecipientInterval pace messages to one shopper:
	// a burst of RecipientBurst messages, then one per RecipientInterval
	// (defaults 10 and 6s, WhatsApp's pair rate limit). MaxPaceWait is how
	// long Send waits for its turn before it returns a retryable error
	// (default 8s).
	RecipientBurst    int
	RecipientInterval time.Duration
	MaxPaceWait       time.Duration
	// RecentIDs is how many recently sent outbound ids (and message
	// parts) this process remembers in memory before it asks Refs
	// (default 10000).
	RecentIDs int
	// Refs keeps button ids that are too long for WhatsApp, the choices
	// of numbered lists and the sent marks of outbound messages. Pass the
	// store (bolt, Redis) so every replica sees them; default an
	// in-memory map for one replica (sent marks then stay in the recent
	// set of this process).
	Refs conversation.Refs
	// SourcesLabel heads the citation links (default "Sources:").
	SourcesLabel string
	// ListButton is the label of the button that opens an interactive
	// list, at most 20 characters (default "Choose").
	ListButton string
	// ChoicePrompt ends a numbered list of more than 10 choices (default
	// "Reply with the number of your choice.").
	ChoicePrompt string
	// Logger receives the adapter's logs (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.Channel == "" {
		c.Channel = conversation.ChannelWhatsApp
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HandleTimeout == 0 {
		c.HandleTimeout = DefaultHandleTimeout
	}
	p := workpool.Config{CommitWait: c.CommitWait, Workers: c.Workers, QueueSize: c.QueueSize}.WithDefaults()
	c.CommitWait, c.Workers, c.QueueSize = p.CommitWait, p.Workers, p.QueueSize
	if c.RecipientBurst == 0 {
		c.RecipientBurst = DefaultRecipientBurst
	}
	if c.RecipientInterval == 0 {
		c.RecipientInterval = DefaultRecipientInterval
	}
	if c.MaxPaceWait == 0 {
		c.MaxPaceWait = DefaultMaxPaceWait
	}
	if c.RecentIDs == 0 {
		c.RecentIDs = DefaultRecentIDs
	}
	if c.SourcesLabel == "" {
		c.SourcesLabel = DefaultSourcesLabel
	}
	if c.ListButton == "" {
		c.ListButton = DefaultListButton
	}
	if c.ChoicePrompt == "" {
		c.ChoicePrompt = DefaultChoicePrompt
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

var (
	digitsRE  = regexp.MustCompile(`^[0-9]{1,32}$`)
	versionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)
)

// Validate checks the configuration after applying the defaults. It
// returns an Invalid error naming the first problem: a missing secret,
// a phone number id that is not digits, a malformed API URL or version,
// out-of-range numbers.
func (c Config) Validate() error {
	c = c.withDefaults()
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "whatsappcloud config: "+format, args...)
	}
	for _, s := range []struct{ name, v string }{
		{"AccessToken", c.AccessToken}, {"AppSecret", c.AppSecret}, {"VerifyToken", c.VerifyToken},
	} {
		if !headerSafe(s.v) {
			return inv("%s is required and must be printable ASCII without spaces", s.name)
		}
	}
	if !digitsRE.MatchString(c.PhoneNumberID) {
		return inv("PhoneNumberID must be the Graph id of the phone number (digits), not %q", c.PhoneNumberID)
	}
	u, err := url.Parse(c.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return inv("APIURL %q must be an http(s) URL without query", c.APIURL)
	}
	if !versionRE.MatchString(c.APIVersion) {
		return inv("APIVersion %q must look like v21.0", c.APIVersion)
	}
	switch {
	case c.HTTPTimeout < 0 || c.HandleTimeout < 0 || c.TypingAfter < 0 || c.RecipientInterval < 0 || c.MaxPaceWait < 0:
		return inv("durations must not be negative")
	case c.CommitWait < 0 || c.CommitWait > time.Minute:
		return inv("CommitWait must be between 0 and 1m")
	case c.Workers < 0 || c.Workers > 1024 || c.QueueSize < 0 || c.QueueSize > 100000:
		return inv("Workers must be between 0 and 1024, QueueSize between 0 and 100000")
	case c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 16<<20:
		return inv("MaxBodyBytes must be between 1 KiB and 16 MiB")
	case c.RecipientBurst < 1 || c.RecipientBurst > 1000:
		return inv("RecipientBurst must be between 1 and 1000")
	case c.RecentIDs < 1 || c.RecentIDs > 10_000_000:
		return inv("RecentIDs must be between 1 and 10000000")
	case !conversation.Printable(string(c.Channel), 64):
		return inv("Channel must be 1..64 printable characters")
	case utf8.RuneCountInString(c.ListButton) > maxListButton || strings.TrimSpace(c.ListButton) == "":
		return inv("ListButton must be 1..%d characters", maxListButton)
	case !utf8.ValidString(c.SourcesLabel) || len(c.SourcesLabel) > 200 || !utf8.ValidString(c.ChoicePrompt) || len(c.ChoicePrompt) > 500:
		return inv("SourcesLabel and ChoicePrompt must be short valid text")
	}
	return nil
}

// headerSafe reports whether s is non-empty printable ASCII without
// spaces: safe in an HTTP header, and what Meta's tokens look like.
func headerSafe(s string) bool {
	if s == "" || len(s) > 4096 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// engine handles one inbound message; *conversation.Engine satisfies it.
type engine interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
}

// Adapter is the WhatsApp Cloud API channel: the webhook handler that
// feeds the engine and the Sender that delivers replies. It is safe for
// concurrent use.
type Adapter struct {
	cfg   Config
	eng   engine
	log   *slog.Logger
	graph *graphClient
	refs  conversation.Refs
	sent  *delivered.Log
	pace  *pacer
	// listed remembers conversations this replica sent a numbered list
	// to, so the next other message can retire the list's choices.
	listed *recent.Set
	pool   *workpool.Pool // runs the turns of inbound notifications
}

var _ conversation.Sender = (*Adapter)(nil)

// New returns an adapter that hands inbound messages to eng (a
// *conversation.Engine). Errors: Invalid for a bad Config or a nil eng.
func New(cfg Config, eng engine) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, conversation.Errorf(conversation.Invalid, "whatsappcloud: an engine is required")
	}
	cfg = cfg.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.HTTPTimeout}
	} else if hc.Timeout == 0 {
		c := *hc
		c.Timeout = cfg.HTTPTimeout
		hc = &c
	}
	refs := cfg.Refs
	if refs == nil {
		refs = newMemRefs(100000, cfg.Now)
	}
	log := cfg.Logger.With("channel", string(cfg.Channel), "adapter", "whatsappcloud")
	return &Adapter{
		cfg: cfg,
		eng: eng,
		log: log,
		graph: &graphClient{
			base:    cfg.APIURL + "/" + cfg.APIVersion,
			phoneID: cfg.PhoneNumberID,
			token:   cfg.AccessToken,
			http:    hc,
		},
		refs:   refs,
		sent:   delivered.New("whatsapp", refsSent, cfg.Refs, cfg.RecentIDs, log),
		pace:   newPacer(cfg.RecipientBurst, cfg.RecipientInterval, 100000),
		listed: recent.New(10000),
		pool:   workpool.New("whatsapp", cfg.Workers, cfg.QueueSize, log),
	}, nil
}

// Close refuses further notifications (503, Meta delivers them again)
// and waits for the turns in progress, each notification's bounded by
// HandleTimeout. It always returns nil.
func (a *Adapter) Close() error {
	_ = a.pool.Close(context.Background())
	return nil
}

// Channel returns the conversation channel this adapter sends and
// receives on (Config.Channel).
func (a *Adapter) Channel() conversation.Channel { return a.cfg.Channel }

// Sender returns the adapter as the conversation.Sender to register with
// the Dispatcher under Channel().
func (a *Adapter) Sender() conversation.Sender { return a }

// ConversationKey returns the conversation key of the shopper with
// WhatsApp id waID: "wacloud:<wa_id>".
func ConversationKey(waID string) string { return KeyPrefix + waID }

// IsConversationKey reports whether key belongs to this adapter.
func IsConversationKey(key string) bool {
	_, ok := WaIDFromKey(key)
	return ok
}

// WaIDFromKey returns the shopper's WhatsApp id from a conversation key
// made by ConversationKey, and whether key is one.
func WaIDFromKey(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok || !validWaID(id) {
		return "", false
	}
	return id, true
}

// validWaID reports whether s looks like a WhatsApp id: a phone number in
// international form, digits only.
func validWaID(s string) bool {
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
