// Package whatsapp is the WhatsApp customer channel over the unofficial
// multi-device web protocol, through go.mau.fi/whatsmeow: the shop's own
// WhatsApp number is linked like a WhatsApp Web session (see [Pair]) and
// the adapter answers shoppers who message it.
//
// One process holds the connection ([Adapter.Run]); cmd runs it under a
// leader lease so exactly one replica is connected. Inbound messages are
// normalised to conversation.Message (text, quoted replies, image and
// document attachments, numbered-choice replies and poll votes) and handed
// to the engine; replies come back through [Adapter.Send] on channel
// "whatsapp". WhatsApp does not deliver buttons to linked-device clients,
// so the adapter renders buttons as numbered choices and maps an inbound
// "1", "2", … back to the button's action.
//
// The device keys live in whatsmeow's SQL store: a SQLite file (pure Go
// driver) by default, PostgreSQL optionally ([OpenDeviceStore]).
//
// This route is unofficial: WhatsApp may ban numbers that use it. Shops
// that need the official route use the WhatsApp Business Cloud API
// adapter (package adapters/whatsappcloud).
package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Handler handles one inbound message: the conversation.Engine.
type Handler interface {
	Handle(ctx context.Context, m conversation.Message) (conversation.Result, error)
}

// Typed errors of [Adapter.Run] and [Pair]. Test with errors.Is.
var (
	// ErrNotPaired: the device store holds no linked device; run
	// `tier0 whatsapp pair` first.
	ErrNotPaired = errors.New("whatsapp: no linked device in the device store; run `tier0 whatsapp pair`")
	// ErrAlreadyPaired: Pair found a linked device in the store.
	ErrAlreadyPaired = errors.New("whatsapp: the device store already holds a linked device")
	// ErrLoggedOut: WhatsApp unlinked this device (removed on the phone,
	// or by WhatsApp); whatsmeow deleted the session. Re-pair.
	ErrLoggedOut = errors.New("whatsapp: this device was logged out; re-pair with `tier0 whatsapp pair`")
	// ErrStreamReplaced: another client connected with the same device
	// keys (another replica or process). This one stops and does not fight.
	ErrStreamReplaced = errors.New("whatsapp: another client took over this device's connection")
	// ErrClientOutdated: WhatsApp rejected the client version; update
	// whatsmeow.
	ErrClientOutdated = errors.New("whatsapp: WhatsApp rejected the client version as outdated; update tier0")
	// ErrBanned matches every *BanError.
	ErrBanned = errors.New("whatsapp: the account is temporarily banned")
	// ErrPairTimeout: pairing did not finish in time.
	ErrPairTimeout = errors.New("whatsapp: pairing timed out")
	// ErrAlreadyRunning: Run was called while another Run of the same
	// adapter is active.
	ErrAlreadyRunning = errors.New("whatsapp: the adapter is already running")
)

// BanError is returned by Run when WhatsApp temporarily banned the
// account. errors.Is(err, ErrBanned) holds.
type BanError struct {
	Code   int           // WhatsApp's reason code (101…106)
	Reason string        // the reason in words
	Expire time.Duration // how long the ban lasts; 0 when WhatsApp did not say
	Until  time.Time     // when it ends; zero when unknown
}

// Error says that the account is banned, until when and why.
func (e *BanError) Error() string {
	if e.Until.IsZero() {
		return fmt.Sprintf("whatsapp: the account is temporarily banned (code %d: %s)", e.Code, e.Reason)
	}
	return fmt.Sprintf("whatsapp: the account is temporarily banned until %s (code %d: %s)", e.Until.UTC().Format(time.RFC3339), e.Code, e.Reason)
}

// Is makes errors.Is(err, ErrBanned) true.
func (e *BanError) Is(target error) bool { return target == ErrBanned }

// QuoteMode says when a reply quotes the customer's message.
type QuoteMode string

// Quote modes.
const (
	// QuoteAuto quotes in group chats, when the customer's message quoted
	// something, and when the customer wrote again before the reply.
	QuoteAuto   QuoteMode = "auto"
	QuoteAlways QuoteMode = "always"
	QuoteNever  QuoteMode = "never"
)

// Config configures the adapter. Zero values take the defaults.
type Config struct {
	// DataDir is where the SQLite device store lives
	// (<DataDir>/whatsapp.db) unless SQLitePath or PostgresDSN is set.
	DataDir string
	// SQLitePath is the SQLite device store file (default
	// <DataDir>/whatsapp.db).
	SQLitePath string
	// PostgresDSN, when set, keeps the device store in PostgreSQL instead,
	// e.g. "postgres://tier0@db:5432/tier0?sslmode=require". A secret:
	// pass it from the environment.
	PostgresDSN string
	// DeviceName is how the linked device is listed on the phone (default
	// "tier0").
	DeviceName string

	// Groups answers messages in group chats (default: groups are ignored).
	Groups bool
	// MaxBacklogAge skips messages older than this, typically the offline
	// backlog delivered after a reconnect (default 24h).
	MaxBacklogAge time.Duration
	// HandleTimeout bounds one call of Handler.Handle (default 60s).
	HandleTimeout time.Duration
	// MaxPending bounds inbound messages queued or being handled (default
	// 1024); when full, reading from WhatsApp waits.
	MaxPending int
	// DisableReadReceipts stops marking handled messages as read.
	DisableReadReceipts bool
	// TypingDelay is how long a turn may take before the shopper sees
	// "typing…" (default 2s; negative disables typing presence).
	TypingDelay time.Duration

	// ChoicePolls additionally sends buttons as a single-choice WhatsApp
	// poll (one tap instead of typing the number). Numbered replies work
	// either way.
	ChoicePolls bool
	// PollTitle is the poll's question (default "Choose an option").
	PollTitle string
	// ChoiceHint ends the numbered list (default "Reply with the number of
	// your choice.").
	ChoiceHint string
	// ChoiceTTL is how long numbered choices stay valid (default 24h).
	ChoiceTTL time.Duration
	// MaxChats bounds the in-memory per-chat maps: choices, chat
	// addresses, recent messages (default 10000 chats).
	MaxChats int
	// MaxRecentIDs bounds the set of delivered outbound ids kept for
	// idempotency (default 10000).
	MaxRecentIDs int
	// Quote says when replies quote the customer's message (default auto).
	Quote QuoteMode

	// RatePerMinute and RateBurst limit messages to one chat (default 12
	// per minute, bursts of 6); GlobalRatePerMinute and GlobalRateBurst
	// all messages (default 60, 20). Sending fast to many people is what
	// gets numbers banned.
	RatePerMinute       int
	RateBurst           int
	GlobalRatePerMinute int
	GlobalRateBurst     int

	// ReconnectMin and ReconnectMax bound the reconnect backoff (default
	// 1s doubling up to 5m, with jitter).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// PairTimeout bounds Pair (default 3m).
	PairTimeout time.Duration
	// MaxMediaBytes bounds DownloadAttachment (default 16 MiB).
	MaxMediaBytes int64

	// Refs, when set (a conversation.Refs store), keeps numbered choices
	// and chat addresses durable across restarts and leader failover;
	// without it they live in memory only.
	Refs conversation.Refs
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.SQLitePath == "" && c.PostgresDSN == "" && c.DataDir != "" {
		c.SQLitePath = filepath.Join(c.DataDir, "whatsapp.db")
	}
	if c.DeviceName == "" {
		c.DeviceName = "tier0"
	}
	if c.MaxBacklogAge == 0 {
		c.MaxBacklogAge = 24 * time.Hour
	}
	if c.HandleTimeout == 0 {
		c.HandleTimeout = 60 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1024
	}
	if c.TypingDelay == 0 {
		c.TypingDelay = 2 * time.Second
	}
	if c.PollTitle == "" {
		c.PollTitle = "Choose an option"
	}
	if c.ChoiceHint == "" {
		c.ChoiceHint = "Reply with the number of your choice."
	}
	if c.ChoiceTTL == 0 {
		c.ChoiceTTL = 24 * time.Hour
	}
	if c.MaxChats == 0 {
		c.MaxChats = 10000
	}
	if c.MaxRecentIDs == 0 {
		c.MaxRecentIDs = 10000
	}
	if c.Quote == "" {
		c.Quote = QuoteAuto
	}
	if c.RatePerMinute == 0 {
		c.RatePerMinute = 12
	}
	if c.RateBurst == 0 {
		c.RateBurst = 6
	}
	if c.GlobalRatePerMinute == 0 {
		c.GlobalRatePerMinute = 60
	}
	if c.GlobalRateBurst == 0 {
		c.GlobalRateBurst = 20
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = 5 * time.Minute
	}
	if c.PairTimeout == 0 {
		c.PairTimeout = 3 * time.Minute
	}
	if c.MaxMediaBytes == 0 {
		c.MaxMediaBytes = 16 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first invalid field as an Invalid error. It checks
// the values after defaults are applied; the device store location is
// checked by OpenDeviceStore.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "whatsapp: "+format, args...)
	}
	switch {
	case c.SQLitePath != "" && c.PostgresDSN != "":
		return bad("set either sqlite_path or postgres_dsn, not both")
	case strings.ContainsAny(c.SQLitePath, "?#\x00"):
		return bad("sqlite path %q must not contain '?', '#' or NUL", c.SQLitePath)
	case len(c.DeviceName) > 50 || strings.ContainsAny(c.DeviceName, "\r\n\x00"):
		return bad("device name must be one line of at most 50 bytes")
	case c.MaxBacklogAge < 0 || c.HandleTimeout < 0 || c.ChoiceTTL < 0 || c.PairTimeout < 0:
		return bad("durations must not be negative (typing_delay may be, to disable typing)")
	case c.MaxPending < 1 || c.MaxChats < 1 || c.MaxRecentIDs < 1 || c.MaxMediaBytes < 1:
		return bad("max_pending, max_chats, max_recent_ids and max_media_bytes must be positive")
	case c.RatePerMinute < 1 || c.RateBurst < 1 || c.GlobalRatePerMinute < 1 || c.GlobalRateBurst < 1:
		return bad("rate limits must be positive")
	case c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin:
		return bad("reconnect backoff needs 0 < reconnect_min <= reconnect_max")
	case len(c.PollTitle) > 255:
		return bad("poll title is longer than 255 bytes")
	}
	switch c.Quote {
	case QuoteAuto, QuoteAlways, QuoteNever:
	default:
		return bad("quote must be auto, always or never, not %q", c.Quote)
	}
	return nil
}

// Adapter is the WhatsApp channel: Run holds the connection and feeds
// inbound messages to the Handler; Send delivers replies.
type Adapter struct {
	cfg Config
	cli client
	h   Handler
	log *slog.Logger

	chats   *lru[chatInfo]      // conversation key → where to send
	choices *lru[choiceSet]     // conversation key → numbered choices of the last reply
	recent  *lru[inboundRecord] // chat user + message id → sender and snippet, for quoting
	media   *lru[mediaRecord]   // attachment reference → downloadable message
	sent    *lru[struct{}]      // delivered outbound part ids
	limits  *limiter

	sendMu  sync.Mutex // one send at a time per adapter keeps parts in order
	running atomic.Bool
	closer  func() error
}

var _ conversation.Sender = (*Adapter)(nil)

// Open opens the device store named by cfg and returns an adapter for its
// linked device. Run connects it; Close releases the store. A store with
// no linked device opens fine (Run then returns ErrNotPaired). Errors:
// Invalid (configuration), Unavailable (the store cannot be opened).
func Open(ctx context.Context, cfg Config, h Handler, log *slog.Logger) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, conversation.Errorf(conversation.Invalid, "whatsapp: no handler")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	ds, err := OpenDeviceStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	cli, err := ds.client(ctx, cfg, log)
	if err != nil {
		ds.Close()
		return nil, err
	}
	a := newAdapter(cfg, cli, h, log)
	a.closer = ds.Close
	return a, nil
}

// newAdapter wires an adapter around a client; cfg must be valid.
func newAdapter(cfg Config, cli client, h Handler, log *slog.Logger) *Adapter {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	return &Adapter{
		cfg:     cfg,
		cli:     cli,
		h:       h,
		log:     log,
		chats:   newLRU[chatInfo](cfg.MaxChats, 0),
		choices: newLRU[choiceSet](cfg.MaxChats, cfg.ChoiceTTL),
		recent:  newLRU[inboundRecord](cfg.MaxChats, 7*24*time.Hour),
		media:   newLRU[mediaRecord](min(cfg.MaxChats, 1000), 24*time.Hour),
		sent:    newLRU[struct{}](cfg.MaxRecentIDs, 0),
		limits:  newLimiter(cfg.RatePerMinute, cfg.RateBurst, cfg.GlobalRatePerMinute, cfg.GlobalRateBurst, cfg.MaxChats),
	}
}

// Close releases the device store. Call it after Run returned.
func (a *Adapter) Close() error {
	if a.closer == nil {
		return nil
	}
	return a.closer()
}

// Connected reports whether the adapter is connected and logged in to
// WhatsApp (for readiness checks).
func (a *Adapter) Connected() bool { return a.cli.IsLoggedIn() }
