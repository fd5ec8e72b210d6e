package whatsapp

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/tier0/tier0/conversation"
)

// Client is the private client interface, for the test fake.
type Client = client

// NewWithClient returns an adapter around a fake client.
func NewWithClient(cfg Config, c Client, h Handler, log *slog.Logger) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newAdapter(cfg, c, h, log), nil
}

// Normalize exposes the inbound mapping: the message, or why it is skipped.
func Normalize(ctx context.Context, a *Adapter, e *events.Message) (conversation.Message, string) {
	in, why := a.normalize(ctx, e)
	return in.msg, string(why)
}

// PairWith runs the pairing dialogue on a fake client.
func PairWith(ctx context.Context, c Client, out io.Writer, phone string, timeout time.Duration) error {
	return pair(ctx, c, out, phone, timeout)
}

// Backoff is the reconnect delay of attempt n.
func Backoff(min, max time.Duration, n int) time.Duration { return backoff(min, max, n) }

// HalfBlocks renders a QR bitmap; RenderQR a QR code.
var (
	HalfBlocks = halfBlocks
	RenderQR   = renderQR
)

// MessageID is the WhatsApp message id of an outbound part ("<id>#text",
// "<id>#poll").
func MessageID(partID string) string { return string(messageID(partID)) }

// DB returns the device store's database.
func DB(s *DeviceStore) *sql.DB { return s.db }
