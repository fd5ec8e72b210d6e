package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// client is the part of *whatsmeow.Client the adapter uses. Tests drive
// the adapter through a fake that emits event fixtures; whatsmeowClient
// wraps the real one.
type client interface {
	// Connect opens the websocket; the connection lives until Disconnect
	// or until ctx ends. Events arrive through the handlers.
	Connect(ctx context.Context) error
	Disconnect()
	// IsLoggedIn reports whether the connection is up and authenticated.
	IsLoggedIn() bool
	// Paired reports whether the device store holds a linked device.
	Paired() bool
	AddEventHandler(h func(evt any)) uint32
	RemoveEventHandler(id uint32) bool

	// SendMessage sends msg to the chat with the given message id.
	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) error
	SendPresence(ctx context.Context, state types.Presence) error
	SendChatPresence(ctx context.Context, chat types.JID, state types.ChatPresence) error
	MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error

	// DecryptPollVote returns the hashes of the options a poll vote selects.
	DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error)
	// PNForLID and LIDForPN look the LID ↔ phone mapping up in the store;
	// an empty JID when unknown.
	PNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	LIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
	// Download fetches and decrypts a media message's file.
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)

	// GetQRChannel must be called before Connect on an unpaired device;
	// it yields QR codes and the pairing outcome.
	GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error)
	// PairPhone asks for a pairing code for phone (international format).
	PairPhone(ctx context.Context, phone string) (string, error)
}

// whatsmeowClient is the real client.
type whatsmeowClient struct {
	cli *whatsmeow.Client
}

var _ client = whatsmeowClient{}

// newWhatsmeowClient configures a whatsmeow client: whatsmeow's own
// reconnect loop is off because Run reconnects with capped, jittered
// backoff and must see every disconnect.
func newWhatsmeowClient(cli *whatsmeow.Client) whatsmeowClient {
	cli.EnableAutoReconnect = false
	cli.InitialAutoReconnect = false
	return whatsmeowClient{cli: cli}
}

func (w whatsmeowClient) Connect(ctx context.Context) error { return w.cli.ConnectContext(ctx) }
func (w whatsmeowClient) Disconnect()                       { w.cli.Disconnect() }
func (w whatsmeowClient) IsLoggedIn() bool                  { return w.cli.IsLoggedIn() }
func (w whatsmeowClient) Paired() bool                      { return w.cli.Store.ID != nil }

func (w whatsmeowClient) AddEventHandler(h func(evt any)) uint32 {
	return w.cli.AddEventHandler(h)
}

func (w whatsmeowClient) RemoveEventHandler(id uint32) bool { return w.cli.RemoveEventHandler(id) }

func (w whatsmeowClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) error {
	_, err := w.cli.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: id})
	return err
}

func (w whatsmeowClient) SendPresence(ctx context.Context, state types.Presence) error {
	return w.cli.SendPresence(ctx, state)
}

func (w whatsmeowClient) SendChatPresence(ctx context.Context, chat types.JID, state types.ChatPresence) error {
	return w.cli.SendChatPresence(ctx, chat, state, types.ChatPresenceMediaText)
}

func (w whatsmeowClient) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	return w.cli.MarkRead(ctx, ids, ts, chat, sender)
}

func (w whatsmeowClient) DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	return w.cli.DecryptPollVote(ctx, vote)
}

func (w whatsmeowClient) PNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	if w.cli.Store == nil || w.cli.Store.LIDs == nil {
		return types.EmptyJID, nil
	}
	return w.cli.Store.LIDs.GetPNForLID(ctx, lid)
}

func (w whatsmeowClient) LIDForPN(ctx context.Context, pn types.JID) (types.JID, error) {
	if w.cli.Store == nil || w.cli.Store.LIDs == nil {
		return types.EmptyJID, nil
	}
	return w.cli.Store.LIDs.GetLIDForPN(ctx, pn)
}

func (w whatsmeowClient) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return w.cli.Download(ctx, msg)
}

func (w whatsmeowClient) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return w.cli.GetQRChannel(ctx)
}

func (w whatsmeowClient) PairPhone(ctx context.Context, phone string) (string, error) {
	// The display name must look like "Browser (OS)"; WhatsApp validates it.
	return w.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
}

// slogLogger passes whatsmeow's logs to slog. whatsmeow's info lines are
// chatty connection details, so they go to debug; its warnings and errors
// keep their level. The raw frame loggers ("Recv", "Send") are dropped:
// their XML carries phone numbers and push names.
type slogLogger struct {
	log    *slog.Logger
	module string
	mute   bool
}

func newSlogLogger(log *slog.Logger, module string) waLog.Logger {
	return &slogLogger{log: log, module: module}
}

func (l *slogLogger) emit(level slog.Level, msg string, args []any) {
	if l.mute || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(msg, args...), "component", "whatsmeow", "module", l.module)
}

func (l *slogLogger) Errorf(msg string, args ...any) { l.emit(slog.LevelError, msg, args) }
func (l *slogLogger) Warnf(msg string, args ...any)  { l.emit(slog.LevelWarn, msg, args) }
func (l *slogLogger) Infof(msg string, args ...any)  { l.emit(slog.LevelDebug, msg, args) }
func (l *slogLogger) Debugf(msg string, args ...any) { l.emit(slog.LevelDebug-4, msg, args) }

func (l *slogLogger) Sub(module string) waLog.Logger {
	m := module
	if l.module != "" {
		m = l.module + "/" + module
	}
	return &slogLogger{log: l.log, module: m, mute: l.mute || module == "Recv" || module == "Send"}
}
