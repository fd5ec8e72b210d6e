// Package slack connects tier0 to Slack: employees ask IT in Slack and IT
// agents work the tickets in a Slack staff channel, one thread per ticket.
// It uses slack-go for the Web API, request signatures, Events API parsing
// and Socket Mode.
//
// # Inbound
//
// Events come over HTTP ([Adapter.EventsHandler] for the Events API
// request URL, e.g. /slack/events, and [Adapter.InteractiveHandler] for
// the interactivity URL, e.g. /slack/interactive) or over Socket Mode
// ([Adapter.RunSocketMode]). Both paths normalise the same way. HTTP
// requests are verified with the signing secret (a missing, forged or
// more than 5 minutes old signature → 401), bounded (413 over
// Config.MaxBodyBytes), parsed (malformed → 400 with a JSON error), and
// handed to a bounded worker pool (adapters/workpool) with a context
// detached from the request and a per-event timeout (Config.EventTimeout).
// A customer's message is acknowledged (200) only once its turn is
// committed to the store, within Config.CommitWait; otherwise it is
// answered 503 with Retry-After and Slack sends it again (a retry of a
// committed one is a duplicate). Other work (staff messages, clicks) is
// acknowledged once queued. A full pool answers 503 so Slack retries
// later. url_verification is answered with its challenge; event types
// other than message and app_mention are acknowledged and ignored.
// Socket Mode envelopes are acknowledged on the same terms: an envelope
// whose turn is not committed, or that the pool has no room for, is left
// unacknowledged so Slack delivers it again.
//
// What the bot listens to: direct messages (message.im), @-mentions in
// channels (app_mention), and replies in channel threads the bot is part
// of (message.channels / message.groups with thread_ts; a thread becomes
// "the bot's" when someone mentions the bot in it or starts it with a
// mention). Ignored: the bot's own messages, other bots' messages, and
// subtypes other than file_share and thread_broadcast (message_changed,
// message_deleted, channel_join, …). Shared files become attachments
// (name, MIME type, url_private, size); the bot's @-mention is removed
// from the text.
//
// Keys:
//
//	direct message    ConversationKey "slack:<team>:<dm channel>"           ThreadKey: thread_ts or "" (flat)
//	channel thread    ConversationKey "slack:<team>:<channel>:<thread ts>"  ThreadKey: the thread ts
//
// where the thread ts of a top-level mention is the mention's own ts, so
// the bot answers in a thread under it. DedupeKey is "<channel>:<ts>" of
// the message, not the event_id: Slack retries (X-Slack-Retry-Num), the
// app_mention and message events of one message, and the same message
// arriving over both HTTP and Socket Mode all carry the same message ts,
// so the engine's store-backed dedupe takes each message once, on any
// replica. Button clicks use "act:<channel>:<action_ts>". The sender's
// Identity is the Slack user id with the display name, e-mail and locale
// from users.info (cached, bounded, Config.UserCacheTTL) and the team id
// as TenantID.
//
// # Outbound
//
// [Adapter.Sender] (register it for conversation.ChannelSlack) posts
// customer messages with chat.postMessage into the conversation's thread
// as Block Kit: the text as mrkdwn sections (&, < and > escaped),
// citations as links in a context block, and buttons (helpful / not
// helpful / talk to a person, consulting options, satisfaction) in an
// actions block; a button's value carries the action id and value as JSON
// (at most 2000 bytes) and comes back as a block_actions click.
//
// Slow answers: when a turn has not finished after Config.PlaceholderAfter
// (default 1s), a placeholder (Config.PlaceholderText, "Looking that up…")
// is posted in the thread and remembered in the refs store under the
// inbound message's dedupe key; the first reply to that message
// (Outbound.InReplyTo) replaces it with chat.update. A turn that ends
// without a reply to the customer deletes its placeholder; a turn that
// failed turns it into an apology asking to send the message again (the
// event was acknowledged, so Slack will not). A reply delivered by
// another replica in the instant between the placeholder being posted
// and being recorded is posted as a new message, and the placeholder
// stays.
//
// Delivery: posting is paced per channel with a token bucket
// (Config.PostsPerSecond, Config.PostBurst; Slack allows about one message
// per second per channel); a wait longer than Config.MaxPaceWait, and any
// HTTP 429 from Slack, return a *conversation.RetryAfterError (code
// Unavailable) carrying the delay. 5xx answers, timeouts and transport
// errors are Unavailable too; other Slack errors (channel_not_found,
// invalid_blocks, …) are permanent, invalid_auth is Unauthorized.
// Outbound.ID is the idempotency key: ids sent recently are kept in memory
// (bounded) and in the refs store (24h), so a retry after a success does
// not post twice, on any replica. chat.postMessage itself has no
// idempotency key, so one window remains: when Slack accepted a message
// but its answer was lost (timeout, connection reset) or the process died
// before recording the id, the dispatcher's retry posts it a second time.
//
// # Staff channel
//
// [Adapter.StaffSender] (register it for [StaffChannel], "slack-staff",
// and set the handoff desk's StaffChannel to "slack-staff" and its
// StaffThread to Config.StaffChannelID) opens one thread per ticket in
// Config.StaffChannelID: the handoff card is the thread's first message,
// with Claim, Resolve, Hand back and Escalate buttons and a Priority select
// (P1–P4). The thread is remembered in the refs store in both directions
// (conversation key → thread, thread → conversation key); the customer's
// later messages are posted into it.
//
// Agents work in the thread:
//
//   - a plain message is an internal note (AgentNote): recorded on the
//     ticket, never sent to the customer;
//   - a message starting with "reply:" (any case) sends the rest to the
//     customer (AgentReply); nothing reaches a customer by accident;
//   - the message shortcut "Send to customer" (callback id
//     [SendToCustomerCallbackID]) sends an existing thread message;
//   - the buttons and the select claim, resolve, hand back, escalate and
//     set the priority.
//
// Top-level messages in the staff channel are ignored. Dedupe keys:
// "note:<channel>:<ts>" for notes, "reply:<channel>:<ts>" for replies
// (the same for "reply:" and the shortcut, so a message is sent at most
// once), "click:<trigger_id>" for buttons.
//
// A click acts only when the card's thread is the conversation's current
// staff thread in the refs store and the button's value names that same
// conversation, so a forged or stale value cannot act on another
// conversation. The agent is "slack:<user id>" with the display name from
// users.info. What the engine refuses (ticket already resolved, not
// claimed, …) is told to the agent as an ephemeral message in the thread.
// The customer may be on any channel (web chat, Teams, Slack): the staff
// side only sees conversation keys.
package slack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// StaffChannel is the channel name the staff sender is registered under
// with the dispatcher, and the handoff desk's StaffChannel.
const StaffChannel conversation.Channel = "slack-staff"

// SendToCustomerCallbackID is the callback id of the "Send to customer"
// message shortcut to create in the Slack app configuration.
const SendToCustomerCallbackID = "tier0_send_to_customer"

// DefaultAPIURL is Slack's Web API base URL.
const DefaultAPIURL = "https://slack.com/api/"

// engine is what the adapter hands messages and agent actions to:
// *conversation.Engine.
type engine interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
	Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

// webAPI is the part of the Slack Web API the adapter uses; *slack.Client
// satisfies it.
type webAPI interface {
	AuthTestContext(ctx context.Context) (*slack.AuthTestResponse, error)
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	DeleteMessageContext(ctx context.Context, channel, messageTimestamp string) (string, string, error)
	GetUserInfoContext(ctx context.Context, user string, options ...slack.GetUserInfoOption) (*slack.User, error)
}

var _ webAPI = (*slack.Client)(nil)

// Config configures the Slack adapter. Zero values take the defaults.
// BotToken is required, and SigningSecret (HTTP events) or AppToken
// (Socket Mode) or both.
type Config struct {
	// BotToken is the bot user OAuth token, "xoxb-…".
	BotToken string
	// SigningSecret verifies HTTP requests from Slack (Events API and
	// interactivity). Without it the HTTP handlers answer 404.
	SigningSecret string
	// AppToken is the app-level token, "xapp-…", with the
	// connections:write scope; needed for Socket Mode only.
	AppToken string
	// APIURL is the Web API base URL (default https://slack.com/api/);
	// tests point it at a fake.
	APIURL string
	// StaffChannelID is the channel (C…/G…) where agents get one thread
	// per ticket; empty disables the staff side.
	StaffChannelID string
	// AckTimeout bounds how long an inbound event waits for room in the
	// worker queue before the request is refused with 503 (HTTP) or left
	// unacknowledged (Socket Mode), well inside Slack's 3 s (default 1s).
	AckTimeout time.Duration
	// EventTimeout bounds the work on one event after the ack (default 30s).
	EventTimeout time.Duration
	// CommitWait is how long an Events API request over HTTP waits for
	// its customer turn to be committed before it is answered (default
	// 1.5s; with AckTimeout within Slack's 3s). Slack sends an event only
	// again when it got no 200, so a 200 is sent only once the turn is
	// durable in the store: a turn that fails, or is not committed in
	// time, is answered 503 and Slack's retry (recognised by its dedupe
	// key if the turn did commit) brings it back. Negative: answer 200 as
	// soon as the event is queued in memory, which loses the queued events
	// when the process dies. Socket Mode acknowledges an envelope on the
	// same terms (left unacknowledged, Slack delivers it again).
	CommitWait time.Duration
	// PlaceholderAfter is how long a turn may take before a placeholder
	// is posted (default 1s; negative: never).
	PlaceholderAfter time.Duration
	// PlaceholderText is the placeholder (default "Looking that up…").
	PlaceholderText string
	// PostsPerSecond and PostBurst pace chat.postMessage and chat.update
	// per channel (defaults 1 and 3).
	PostsPerSecond float64
	PostBurst      int
	// MaxPaceWait is the longest a send waits for the pacer; longer waits
	// return a RetryAfterError to the dispatcher instead (default 5s).
	MaxPaceWait time.Duration
	// Workers is the number of events processed at once (default 64: a turn mostly waits for the store, and with CommitWait each one holds its request until it is committed);
	// QueueSize how many acknowledged events may wait (default 256).
	Workers   int
	QueueSize int
	// MaxBodyBytes bounds HTTP request bodies (default 1 MiB); larger → 413.
	MaxBodyBytes int64
	// UserCacheTTL and UserCacheSize bound the users.info cache (defaults
	// 1h and 10000 users).
	UserCacheTTL  time.Duration
	UserCacheSize int
	// HTTPTimeout bounds one Web API call (default 15s).
	HTTPTimeout time.Duration
	// SocketPingTimeout is how long Socket Mode may go without a ping
	// from Slack before it reconnects (default 30s).
	SocketPingTimeout time.Duration
	// Logger receives the adapter's logs (default slog.Default()). Message
	// text is never logged.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = time.Second
	}
	if c.EventTimeout == 0 {
		c.EventTimeout = 30 * time.Second
	}
	if c.CommitWait == 0 {
		c.CommitWait = 1500 * time.Millisecond
	}
	if c.PlaceholderAfter == 0 {
		c.PlaceholderAfter = time.Second
	}
	if c.PlaceholderText == "" {
		c.PlaceholderText = "Looking that up…"
	}
	if c.PostsPerSecond == 0 {
		c.PostsPerSecond = 1
	}
	if c.PostBurst == 0 {
		c.PostBurst = 3
	}
	if c.MaxPaceWait == 0 {
		c.MaxPaceWait = 5 * time.Second
	}
	if c.Workers == 0 {
		c.Workers = 64
	}
	if c.QueueSize == 0 {
		c.QueueSize = 256
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.UserCacheTTL == 0 {
		c.UserCacheTTL = time.Hour
	}
	if c.UserCacheSize == 0 {
		c.UserCacheSize = 10000
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = 15 * time.Second
	}
	if c.SocketPingTimeout == 0 {
		c.SocketPingTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

var (
	slackIDRE = regexp.MustCompile(`^[A-Z0-9]{2,32}$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9-]{6,512}$`)
)

// Validate reports the first invalid field as an Invalid error.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "slack config: "+format, args...)
	}
	switch {
	case !strings.HasPrefix(c.BotToken, "xoxb-") || !tokenRE.MatchString(c.BotToken):
		return inv("BotToken must be a bot token (xoxb-…)")
	case c.SigningSecret == "" && c.AppToken == "":
		return inv("set SigningSecret (Events API over HTTP) or AppToken (Socket Mode), or both")
	case c.SigningSecret != "" && (len(c.SigningSecret) < 8 || len(c.SigningSecret) > 256):
		return inv("SigningSecret must be 8..256 characters")
	case c.AppToken != "" && (!strings.HasPrefix(c.AppToken, "xapp-") || !tokenRE.MatchString(c.AppToken)):
		return inv("AppToken must be an app-level token (xapp-…)")
	case c.StaffChannelID != "" && !slackIDRE.MatchString(c.StaffChannelID):
		return inv("StaffChannelID %q is not a Slack channel id such as C0123ABCD", c.StaffChannelID)
	case c.AckTimeout < 0 || c.AckTimeout > 2500*time.Millisecond:
		return inv("AckTimeout must be within 0..2.5s (Slack wants an answer within 3s)")
	case c.CommitWait > 0 && c.AckTimeout+c.CommitWait > 2800*time.Millisecond:
		return inv("AckTimeout plus CommitWait must be at most 2.8s (Slack wants an answer within 3s)")
	case c.EventTimeout < 0 || c.HTTPTimeout < 0 || c.MaxPaceWait < 0 || c.UserCacheTTL < 0 || c.SocketPingTimeout < 0:
		return inv("durations must not be negative")
	case c.PostsPerSecond < 0 || c.PostBurst < 0 || c.Workers < 0 || c.QueueSize < 0 || c.UserCacheSize < 0:
		return inv("PostsPerSecond, PostBurst, Workers, QueueSize and UserCacheSize must not be negative")
	case c.Workers > 1024 || c.QueueSize > 100000:
		return inv("at most 1024 Workers and a QueueSize of 100000")
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && (c.MaxBodyBytes < 4<<10 || c.MaxBodyBytes > 16<<20):
		return inv("MaxBodyBytes must be between 4 KiB and 16 MiB")
	case len(c.PlaceholderText) > 1000:
		return inv("PlaceholderText must be at most 1000 bytes")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return inv("APIURL %q must be an http(s) URL", c.APIURL)
		}
	}
	return nil
}

// botIdentity is what auth.test says about the bot.
type botIdentity struct {
	UserID string // U…: mentions and messages of the bot
	BotID  string // B…
	TeamID string
}

// Adapter is the Slack channel: HTTP and Socket Mode inbound, and the
// customer and staff senders. Create it with [New], call [Adapter.Start],
// serve its handlers or run Socket Mode, and [Adapter.Close] it on
// shutdown. Safe for concurrent use.
type Adapter struct {
	cfg    Config
	log    *slog.Logger
	api    webAPI
	client *slack.Client // the same client, for Socket Mode
	eng    engine
	refs   conversation.Refs

	bot    atomic.Pointer[botIdentity]
	pool   *workpool.Pool
	users  *ttlCache[conversation.Identity]
	sent   *delivered.Log
	pacer  *pacer
	ph     *placeholders
	closed atomic.Bool

	// socketWaits bounds the Socket Mode envelopes waiting for their
	// commit; socketWG tracks them.
	socketWaits chan struct{}
	socketWG    sync.WaitGroup

	startMu sync.Mutex
}

// New returns an adapter that hands customer messages and agent actions
// to e (a *conversation.Engine: Handle and Act) and keeps its references
// in r (the store's conversation.Refs capability: PutRef and GetRef, e.g.
// *boltstore.Store or the Redis store). Its worker pool runs until Close.
// Errors: Invalid for a bad Config or a nil e or r.
func New(cfg Config, e engine, r conversation.Refs) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if e == nil || r == nil {
		return nil, conversation.Errorf(conversation.Invalid, "slack: an engine and a refs store are required")
	}
	cfg = cfg.withDefaults()
	opts := []slack.Option{
		slack.OptionAPIURL(cfg.APIURL),
		// Many workers post at once: keep their connections open
		// (net/http keeps only 2 idle ones per host by default).
		// The answers to posts lose Slack's echo of the message (see skipEcho).
		slack.OptionHTTPClient(&http.Client{Timeout: cfg.HTTPTimeout, Transport: skipEcho{next: keepAliveTransport(cfg.Workers)}}),
	}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	client := slack.New(cfg.BotToken, opts...)
	a := &Adapter{
		cfg:    cfg,
		log:    cfg.Logger.With("channel", string(conversation.ChannelSlack)),
		api:    client,
		client: client,
		eng:    e,
		refs:   r,
		users:  newTTLCache[conversation.Identity](cfg.UserCacheSize, cfg.UserCacheTTL),
		pacer:  newPacer(cfg.PostsPerSecond, cfg.PostBurst, maxPaceBuckets),
		ph:     newPlaceholders(maxPlaceholders),
	}
	a.sent = delivered.New("slack", nsSent, r, sentCacheSize, a.log)
	a.pool = workpool.New("slack", cfg.Workers, cfg.QueueSize, a.log)
	a.socketWaits = make(chan struct{}, cfg.Workers+cfg.QueueSize)
	return a, nil
}

// Start asks Slack who the bot is (auth.test): its user id, bot id and
// team. Inbound events are refused (503) until Start succeeded. Calling it
// again refreshes the identity. Errors: Unauthorized (bad token),
// Unavailable (Slack not reachable).
func (a *Adapter) Start(ctx context.Context) error {
	a.startMu.Lock()
	defer a.startMu.Unlock()
	res, err := a.api.AuthTestContext(ctx)
	if err != nil {
		return fmt.Errorf("slack auth.test: %w", apiError("auth.test", err))
	}
	if res.UserID == "" || res.TeamID == "" {
		return conversation.Errorf(conversation.Unavailable, "slack auth.test: no user or team id in the answer")
	}
	a.bot.Store(&botIdentity{UserID: res.UserID, BotID: res.BotID, TeamID: res.TeamID})
	a.log.Info("slack connected", "team", res.TeamID, "bot_user", res.UserID)
	return nil
}

// identity returns the bot's identity, or nil before Start.
func (a *Adapter) identity() *botIdentity { return a.bot.Load() }

// Close stops accepting events (HTTP answers 503, Socket Mode leaves
// envelopes unacknowledged) and waits until the queued and running events
// are done, or until ctx ends, when the running ones are cancelled.
// Errors: ctx's error when it ended first.
func (a *Adapter) Close(ctx context.Context) error {
	a.closed.Store(true)
	return a.pool.Close(ctx)
}

// Sender returns the conversation.Sender for customer messages; register
// it for conversation.ChannelSlack.
func (a *Adapter) Sender() conversation.Sender { return customerSender{a} }

// StaffSender returns the conversation.Sender for the staff channel;
// register it for [StaffChannel].
func (a *Adapter) StaffSender() conversation.Sender { return staffSender{a} }

// keepAliveTransport is the default transport keeping up to conns idle
// connections per host.
func keepAliveTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	return t
}
