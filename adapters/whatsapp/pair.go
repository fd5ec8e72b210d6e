package whatsapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/tier0/tier0/conversation"
)

// afterPairWait bounds how long Pair waits, after the phone accepted the
// link, for the first login so the device keys are saved and uploaded.
const afterPairWait = 30 * time.Second

// Pair links the device store named by cfg to a WhatsApp account, talking
// to the operator through out. Without phone it prints QR codes (as text,
// for a terminal) to scan with WhatsApp → Settings → Linked devices →
// Link a device; with phone (international format, e.g. "+49 151 2345678")
// it prints a pairing code to enter on that phone instead ("Link with phone
// number instead"). It waits for the link to succeed or Config.PairTimeout
// (default 3m) to pass. Errors: Invalid (configuration or phone number),
// ErrAlreadyPaired, ErrPairTimeout, ErrClientOutdated, Unavailable (device
// store), or the pairing failure WhatsApp reported.
func Pair(ctx context.Context, cfg Config, out io.Writer, phone string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	log := slog.Default()
	ds, err := OpenDeviceStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer ds.Close()
	c, err := ds.client(ctx, cfg, log)
	if err != nil {
		return err
	}
	if c.Paired() {
		return fmt.Errorf("%w (%s); to link another number, unlink this device on the phone and delete the device store", ErrAlreadyPaired, c.cli.Store.ID.User)
	}
	return pair(ctx, c, out, phone, cfg.PairTimeout)
}

// pair runs the pairing dialogue on c.
func pair(ctx context.Context, c client, out io.Writer, phone string, timeout time.Duration) error {
	if c.Paired() {
		return ErrAlreadyPaired
	}
	if phone != "" {
		p, err := normalizePhone(phone)
		if err != nil {
			return err
		}
		phone = p
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	timedOut := func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrPairTimeout
	}

	linked := make(chan types.JID, 1)
	connected := make(chan struct{}, 1)
	id := c.AddEventHandler(func(evt any) {
		switch e := evt.(type) {
		case *events.PairSuccess:
			select {
			case linked <- e.ID:
			default:
			}
		case *events.Connected:
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	})
	defer c.RemoveEventHandler(id)
	qr, err := c.GetQRChannel(pctx)
	if err != nil {
		return fmt.Errorf("whatsapp: start pairing: %w", err)
	}
	if err := c.Connect(pctx); err != nil {
		return conversation.Errorf(conversation.Unavailable, "whatsapp: connect for pairing: %w", err)
	}
	defer c.Disconnect()

	codeShown := false
	for {
		var item whatsmeow.QRChannelItem
		var ok bool
		select {
		case <-pctx.Done():
			return timedOut()
		case item, ok = <-qr:
		}
		if !ok {
			return timedOut()
		}
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			if phone == "" {
				art, err := renderQR(item.Code)
				if err != nil {
					return fmt.Errorf("whatsapp: render the QR code: %w", err)
				}
				fmt.Fprintf(out, "\nScan this QR code with WhatsApp on the shop's phone:\n"+
					"Settings → Linked devices → Link a device. A new code follows in %s.\n\n%s\n", item.Timeout.Round(time.Second), art)
				continue
			}
			if codeShown {
				continue
			}
			code, err := c.PairPhone(pctx, phone)
			if err != nil {
				return fmt.Errorf("whatsapp: request a pairing code for +%s: %w", phone, err)
			}
			codeShown = true
			fmt.Fprintf(out, "\nOn the phone with number +%s, open WhatsApp → Settings → Linked devices →\n"+
				"Link a device → Link with phone number instead, and enter this code:\n\n    %s\n\n", phone, code)
		case whatsmeow.QRChannelSuccess.Event:
			fmt.Fprintln(out, "The phone accepted the link; finishing setup…")
			select {
			case <-connected:
			case <-time.After(afterPairWait):
			case <-ctx.Done():
				return ctx.Err()
			}
			var jid types.JID
			select {
			case jid = <-linked:
			default:
			}
			if jid.User != "" {
				fmt.Fprintf(out, "WhatsApp is linked to +%s. Start tier0 to answer shoppers there.\n", jid.User)
			} else {
				fmt.Fprintln(out, "WhatsApp is linked. Start tier0 to answer shoppers there.")
			}
			return nil
		case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
			fmt.Fprintln(out, "That phone's WhatsApp needs multi-device (update WhatsApp), then scan again.")
		case whatsmeow.QRChannelTimeout.Event:
			return ErrPairTimeout
		case whatsmeow.QRChannelClientOutdated.Event:
			return ErrClientOutdated
		case whatsmeow.QRChannelEventError:
			return fmt.Errorf("whatsapp: pairing failed: %w", item.Error)
		default:
			return fmt.Errorf("whatsapp: pairing failed: %s", item.Event)
		}
	}
}

// normalizePhone returns the digits of an international phone number.
// Errors: Invalid.
func normalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return "", conversation.Errorf(conversation.Invalid, "whatsapp: %q is not a phone number", s)
		}
	}
	d := b.String()
	if len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", conversation.Errorf(conversation.Invalid, "whatsapp: phone number must be in international format with country code (7 to 15 digits, e.g. +49 151 2345678)")
	}
	return d, nil
}

// renderQR draws a QR code for a terminal with Unicode half blocks, two
// module rows per text line, including the quiet zone. Light modules are
// drawn as blocks, so the code reads correctly on the usual dark terminal
// background (light text on dark).
func renderQR(content string) (string, error) {
	q, err := qrcode.New(content, qrcode.Low)
	if err != nil {
		return "", err
	}
	return halfBlocks(q.Bitmap()), nil
}

// halfBlocks renders a bitmap (true = dark module) with half blocks.
func halfBlocks(bm [][]bool) string {
	if len(bm) == 0 {
		return ""
	}
	light := func(y, x int) bool { return y >= len(bm) || !bm[y][x] }
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			top, bottom := light(y, x), light(y+1, x)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteRune('\n')
	}
	return b.String()
}
