// Package telegram is the Telegram channel: shoppers message a shop's bot
// in a private chat (or address it in a group), and a Telegram supergroup
// with forum topics can serve as the staff channel, one topic per ticket.
//
// # Inbound
//
// Updates arrive either by long polling ([Adapter.RunPolling], for one
// replica at a time: run it under a leader lease) or by webhook
// ([Adapter.WebhookHandler], stateless, any number of replicas). Both hand
// each update to the engine and confirm it to Telegram only after the
// engine durably accepted it (Handle or Act returned nil, duplicates
// included): polling persists its offset in refs (namespace "telegram",
// key "offset:<bot id>") after the updates below it were accepted, and
// the webhook answers 200 only then (503 when the store is unavailable, so
// Telegram retries). Every message carries DedupeKey "tg:<bot id>:<update
// id>", so an update delivered twice takes effect once.
//
// Normalisation:
//   - private chats: every message; ConversationKey "telegram:<chat id>";
//   - groups and supergroups: only messages addressed to the bot — a
//     /command (for this bot), an @mention of the bot, or a reply to one
//     of the bot's messages; the mention is removed from the text. With
//     BotFather's privacy mode on (the default) Telegram sends the bot
//     nothing else anyway. The whole group is one conversation;
//   - forum topics: ConversationKey "telegram:<chat id>:<thread id>",
//     ThreadKey the message_thread_id, so replies go into the topic;
//   - photos (the largest size) and documents, audio, voice and video
//     become attachments with URL "tg-file:<file_id>": the download URL
//     Telegram gives contains the bot token, so it is never stored.
//     [Adapter.OpenFile] resolves such a reference with getFile and
//     streams the file;
//   - callback queries (inline keyboard clicks) become Message.Action and
//     are answered with answerCallbackQuery;
//   - /start opens the chat: it is answered with Config.Welcome (or
//     ignored) and never reaches the engine; other commands are passed
//     on as their argument text ("/human" as "human");
//   - edited messages, channel posts, service messages, stickers and
//     messages from bots or anonymous senders are ignored. No update
//     shape makes the adapter panic.
//
// # Outbound
//
// [Adapter.Sender] delivers channel "telegram": HTML parse mode with
// every text escaped, citations as links, Outbound.Buttons as an inline
// keyboard (callback_data is a compact code of action id and value; when
// that exceeds Telegram's 64 bytes the action is stored in refs under a
// short token), replies in the conversation's topic, texts over 4096
// characters split, and a per-chat pace (Config.ChatInterval,
// GroupPerMinute). A 429 becomes a *conversation.RetryAfterError carrying
// Telegram's retry_after; 5xx and network failures are Unavailable;
// 400/403 are permanent. While the engine works on a customer message for
// longer than Config.TypingDelay the chat shows "typing…".
//
// Outbound.ID is the idempotency key, shared by all replicas: before a
// part of an outbound (customer or staff) is sent, refs are asked for its
// sent mark (namespace "telegram-sent", key "<outbound id>#<part index>"),
// and once Telegram accepted the part the mark is written (value: the
// Telegram message id, kept 24 hours). A bounded in-memory set of
// recently sent ids and parts (Config.RecentIDs) answers first, so a
// retry in the same process does not even ask the store. A retry after a
// partial failure, on any replica or after a restart, therefore sends
// only the missing parts. When refs cannot be read the Send returns
// Unavailable and the dispatcher retries later; when a mark cannot be
// written after Telegram accepted the part, a warning is logged and the
// Send still succeeds. The Bot API has no idempotency key of its own, so
// one window remains: Telegram accepted a part but the process died (or
// the store failed) before its mark was written, or the answer to
// sendMessage was lost in a timeout; a retry then posts that part again.
//
// [Adapter.StaffSender] delivers channel "telegram-staff" into the
// supergroup Config.StaffChatID (forum topics on; the bot an admin with
// "Manage topics"). The handoff card opens a topic named after the ticket
// (createForumTopic) and is posted there with buttons Claim, Resolve,
// Hand back, Escalate and P1..P4; the topic and the conversation are
// linked in refs both ways ("topic:<chat>:<thread>" and "conv:<key>").
// Customer messages relayed while an agent owns the ticket go into the
// same topic. Agent input in a ticket topic becomes an AgentAction with
// the agent "telegram:<user id>": "/reply text" or "reply: text" replies
// to the customer; /claim, /resolve, /handback, /escalate, "/priority P2"
// and /note act on the ticket; any other message is an internal note that
// never reaches the customer; buttons act only when refs confirm the topic
// still belongs to the conversation the button was made for. A failed
// action is explained by a short message in the topic.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/adapters/workpool"
	"github.com/tier0/tier0/conversation"
)

// Channels this package delivers.
const (
	// Channel is the customer channel.
	Channel = conversation.ChannelTelegram
	// StaffChannel is the staff channel: the handoff desk's StaffChannel
	// must be set to it.
	StaffChannel conversation.Channel = "telegram-staff"
)

// refsNamespace is the refs namespace of everything this package stores.
const refsNamespace = "telegram"

// engine is what the adapter needs of conversation.Engine.
type engine interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
	Act(ctx context.Context, a conversation.AgentAction) (conversation.Result, error)
}

var _ engine = (*conversation.Engine)(nil)

// Defaults and limits of Config.
const (
	DefaultAPIURL       = "https://api.telegram.org"
	DefaultPollTimeout  = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20
	maxPollTimeout      = 5 * time.Minute
)

// Config configures the Telegram adapter. Zero values take the defaults;
// Token is required.
type Config struct {
	// Token is the bot token from BotFather ("123456:ABC…"). It is a
	// secret: read it from the environment, never log it.
	Token string
	// WebhookSecret is the secret_token given to setWebhook; Telegram
	// sends it in X-Telegram-Bot-Api-Secret-Token and the webhook handler
	// rejects requests without it (401). 1-256 characters of A-Z, a-z,
	// 0-9, _ and -. Required for the webhook; polling does not use it.
	WebhookSecret string
	// APIURL is the Bot API server (default https://api.telegram.org;
	// a local fake or a self-hosted Bot API server in tests and demos).
	APIURL string
	// StaffChatID is the supergroup (forum topics on) that receives
	// handoff cards, one topic per ticket; 0 disables the staff channel.
	StaffChatID int64
	// PollTimeout is the long-poll timeout of one getUpdates call
	// (default 30s, at most 5m).
	PollTimeout time.Duration
	// DeleteWebhookOnConflict makes RunPolling call deleteWebhook when
	// Telegram refuses getUpdates because a webhook is set. Off by
	// default: a webhook set by another deployment is then only logged.
	DeleteWebhookOnConflict bool
	// PollBackoff is the first wait after a failed getUpdates (default
	// 1s), doubled per failure with jitter up to MaxPollBackoff (default
	// 30s). Telegram's retry_after takes precedence.
	PollBackoff    time.Duration
	MaxPollBackoff time.Duration
	// MaxBodyBytes bounds a webhook request body (default 1 MiB); larger
	// requests get 413.
	MaxBodyBytes int64
	// HandleTimeout bounds the engine's work on one update (default 25s).
	HandleTimeout time.Duration
	// CommitWait is how long a webhook request waits for its update to be
	// committed before it is answered (default 10s). An update is
	// answered 200 only once it is durable in the store (or done with);
	// one that fails, or is not done in time, is answered 503 and
	// Telegram delivers it again (recognised by its update_id if it did
	// commit). The turn itself goes on up to HandleTimeout.
	CommitWait time.Duration
	// Workers is the number of webhook updates handled at once (default
	// 64); QueueSize how many more may wait for a worker (default 256). A
	// request that finds no room within a second is answered 503.
	Workers   int
	QueueSize int
	// RequestTimeout bounds one Bot API call other than getUpdates
	// (default 15s).
	RequestTimeout time.Duration
	// TypingDelay is how long a customer turn may take before the chat
	// shows "typing…" (default 1s; negative: never).
	TypingDelay time.Duration
	// ChatInterval is the pace of messages into one chat (default 1s,
	// Telegram's advice); ChatBurst messages may go at once (default 3).
	// Negative ChatInterval turns pacing off.
	ChatInterval time.Duration
	ChatBurst    int
	// GroupPerMinute caps messages into one group or supergroup (default
	// 20, Telegram's limit).
	GroupPerMinute int
	// MaxPaceWait is the longest Send waits for its chat's pace before it
	// returns a RetryAfterError instead (default 10s).
	MaxPaceWait time.Duration
	// ReplyInPrivate quotes the customer's message (reply_parameters) in
	// private chats too; in groups replies always quote the message they
	// answer.
	ReplyInPrivate bool
	// Welcome answers /start in a private chat (empty: /start is ignored).
	Welcome string
	// Welcomes are Welcome in other languages, by language code, chosen
	// by the user's Telegram language.
	Welcomes map[string]string
	// RecentIDs is how many delivered Outbound.IDs (and parts) this
	// process remembers in memory before it asks refs (default 10000).
	RecentIDs int
	// Logger receives the adapter's logs (default slog.Default()).
	// Message text is never logged above debug level.
	Logger *slog.Logger
	// HTTPClient makes the Bot API calls (default a client without a
	// global timeout: calls are bounded by their contexts).
	HTTPClient *http.Client
}

var (
	tokenRE  = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{1,200}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// Validate checks the configuration. It returns an Invalid error naming
// the first problem.
func (c Config) Validate() error {
	inv := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "telegram config: "+format, args...)
	}
	switch {
	case c.Token == "":
		return inv("Token is required (set TIER0_TELEGRAM_TOKEN)")
	case !tokenRE.MatchString(c.Token):
		return inv("Token does not look like a bot token from BotFather (<digits>:<letters>)")
	case c.WebhookSecret != "" && !secretRE.MatchString(c.WebhookSecret):
		return inv("WebhookSecret must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
	case c.StaffChatID > 0:
		return inv("StaffChatID must be a group id (negative, e.g. -1001234567890)")
	case c.PollTimeout < 0 || c.PollTimeout > maxPollTimeout:
		return inv("PollTimeout must be between 0 and %s", maxPollTimeout)
	case c.PollBackoff < 0 || c.MaxPollBackoff < 0 || c.HandleTimeout < 0 || c.RequestTimeout < 0 || c.MaxPaceWait < 0:
		return inv("durations must not be negative")
	case c.CommitWait < 0 || c.CommitWait > time.Minute:
		return inv("CommitWait must be between 0 and 1m")
	case c.Workers < 0 || c.Workers > 1024 || c.QueueSize < 0 || c.QueueSize > 100000:
		return inv("Workers must be between 0 and 1024, QueueSize between 0 and 100000")
	case c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && c.MaxBodyBytes < 4<<10:
		return inv("MaxBodyBytes must be at least 4 KiB")
	case c.ChatBurst < 0 || c.GroupPerMinute < 0 || c.RecentIDs < 0:
		return inv("ChatBurst, GroupPerMinute and RecentIDs must not be negative")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return inv("APIURL %q must be an http(s) URL such as %s", c.APIURL, DefaultAPIURL)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.PollBackoff == 0 {
		c.PollBackoff = time.Second
	}
	if c.MaxPollBackoff == 0 {
		c.MaxPollBackoff = 30 * time.Second
	}
	if c.MaxPollBackoff < c.PollBackoff {
		c.MaxPollBackoff = c.PollBackoff
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HandleTimeout == 0 {
		c.HandleTimeout = 25 * time.Second
	}
	p := workpool.Config{CommitWait: c.CommitWait, Workers: c.Workers, QueueSize: c.QueueSize}.WithDefaults()
	c.CommitWait, c.Workers, c.QueueSize = p.CommitWait, p.Workers, p.QueueSize
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 15 * time.Second
	}
	if c.TypingDelay == 0 {
		c.TypingDelay = time.Second
	}
	if c.ChatInterval == 0 {
		c.ChatInterval = time.Second
	}
	if c.ChatBurst == 0 {
		c.ChatBurst = 3
	}
	if c.GroupPerMinute == 0 {
		c.GroupPerMinute = 20
	}
	if c.MaxPaceWait == 0 {
		c.MaxPaceWait = 10 * time.Second
	}
	if c.RecentIDs == 0 {
		c.RecentIDs = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c
}

// Adapter is the Telegram channel: inbound updates (polling or webhook)
// and the customer and staff senders.
type Adapter struct {
	cfg     Config
	log     *slog.Logger
	api     botAPI
	eng     engine
	refs    conversation.Refs
	botID   int64
	botName string // username without @

	pace     *pacer
	sent     *delivered.Log // customer outbound ids (and parts) delivered
	staffOut *delivered.Log // staff outbound ids delivered
	topicMu  sync.Mutex     // serialises topic creation in this process
	// pendingTopics are topics created whose refs could not be written
	// yet (conversation key + NUL + ticket → thread), so a retry links
	// them instead of creating another. Guarded by topicMu.
	pendingTopics map[string]int

	closeOnce sync.Once
	closing   chan struct{}
	webhook   *workpool.Pool // runs webhook updates
}

// New connects to the Bot API (getMe, to learn the bot's id and username)
// and returns the adapter. eng is the conversation.Engine; rf is the
// store's refs capability (conversation.Refs). Errors: Invalid for a bad
// Config or nil dependencies, Unauthorized for a token Telegram rejects,
// Unavailable when the Bot API cannot be reached.
func New(ctx context.Context, cfg Config, eng engine, rf conversation.Refs) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if eng == nil || rf == nil {
		return nil, conversation.Errorf(conversation.Invalid, "telegram: an engine and a refs store are required")
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("channel", string(Channel))
	api, err := newBotAPI(cfg, log)
	if err != nil {
		return nil, err
	}
	a := &Adapter{
		cfg:      cfg,
		log:      log,
		api:      api,
		eng:      eng,
		refs:     rf,
		pace:     newPacer(cfg),
		sent:     delivered.New("telegram", nsSent, rf, cfg.RecentIDs, log),
		staffOut: delivered.New("telegram", nsSent, rf, cfg.RecentIDs, log),
		closing:  make(chan struct{}),
		webhook:  workpool.New("telegram", cfg.Workers, cfg.QueueSize, log),

		pendingTopics: make(map[string]int),
	}
	me, err := a.api.GetMe(ctx)
	if err != nil {
		return nil, fmt.Errorf("telegram getMe: %w", classify(err))
	}
	if me.ID == 0 || !me.IsBot {
		return nil, conversation.Errorf(conversation.Invalid, "telegram getMe: the token does not belong to a bot")
	}
	a.botID, a.botName = me.ID, me.Username
	log.Info("telegram bot connected", "bot_id", a.botID, "username", a.botName, "staff_chat", cfg.StaffChatID != 0)
	return a, nil
}

// BotID returns the bot's Telegram user id.
func (a *Adapter) BotID() int64 { return a.botID }

// BotUsername returns the bot's username (without the @).
func (a *Adapter) BotUsername() string { return a.botName }

// Close stops RunPolling, refuses further webhook requests (503) and
// waits for the webhook updates in progress (each bounded by
// HandleTimeout). It always returns nil.
func (a *Adapter) Close() error {
	a.closeOnce.Do(func() { close(a.closing) })
	_ = a.webhook.Close(context.Background())
	return nil
}

func (a *Adapter) closed() bool {
	select {
	case <-a.closing:
		return true
	default:
		return false
	}
}

// retryable reports whether an error of the engine or the store means
// "not accepted, try the update again": unavailable stores, leases held
// by another replica, timeouts. Invalid input and other conflicts are
// permanent: retrying cannot help.
func retryable(err error) bool {
	switch {
	case err == nil, errors.Is(err, conversation.ErrDuplicate):
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, conversation.ErrLeaseHeld), errors.Is(err, conversation.ErrLeaseLost),
		errors.Is(err, conversation.ErrStaleVersion):
		return true
	}
	switch conversation.ErrorCode(err) {
	case conversation.Unavailable, conversation.Internal:
		return true
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
