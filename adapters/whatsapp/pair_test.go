package whatsapp_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

// pairingClient is a fake whose QR channel yields items, and which on
// Connect reports the link as WhatsApp does after a successful pairing.
func pairingClient(items ...whatsmeow.QRChannelItem) *fakeClient {
	cli := newFakeClient()
	cli.paired = false
	cli.qr = make(chan whatsmeow.QRChannelItem, len(items))
	for _, it := range items {
		cli.qr <- it
	}
	close(cli.qr)
	cli.connectFn = func(int) error {
		cli.emit(&events.PairSuccess{ID: types.NewJID(shopPN.User, types.DefaultUserServer)})
		cli.emit(&events.Connected{})
		return nil
	}
	return cli
}

var qrCode = whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@abcdefghijklmnopqrstuvwxyz,0123456789,ABCDEFG=", Timeout: 60 * time.Second}

func TestPairWithQRCode(t *testing.T) {
	cli := pairingClient(qrCode, whatsmeow.QRChannelSuccess)
	var out bytes.Buffer
	if err := whatsapp.PairWith(context.Background(), cli, &out, "", time.Minute); err != nil {
		t.Fatalf("PairWith: %v", err)
	}
	got := out.String()
	for _, want := range []string{"Linked devices", "█", "▀", "linked to +" + shopPN.User} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if len(cli.disconnect) == 0 {
		t.Error("the pairing connection was not closed")
	}
}

func TestPairWithPhoneCode(t *testing.T) {
	cli := pairingClient(qrCode, qrCode, whatsmeow.QRChannelSuccess)
	cli.pairCode = "ABCD-EFGH"
	var out bytes.Buffer
	if err := whatsapp.PairWith(context.Background(), cli, &out, "+49 (151) 123-45678", time.Minute); err != nil {
		t.Fatalf("PairWith: %v", err)
	}
	got := out.String()
	if !strings.Contains(got, "ABCD-EFGH") || !strings.Contains(got, "Link with phone number") {
		t.Errorf("output lacks the pairing code and where to enter it:\n%s", got)
	}
	if strings.Contains(got, "█") || strings.Count(got, "ABCD-EFGH") != 1 {
		t.Errorf("phone pairing should show the code once and no QR code:\n%s", got)
	}
	if cli.pairPhone != "4915112345678" {
		t.Errorf("pairing code asked for %q, want 4915112345678", cli.pairPhone)
	}
}

func TestPairFailures(t *testing.T) {
	tests := []struct {
		name   string
		cli    func() *fakeClient
		phone  string
		want   error
		wantCd conversation.Code
	}{
		{name: "qr codes run out", cli: func() *fakeClient { return pairingClient(qrCode, whatsmeow.QRChannelTimeout) }, want: whatsapp.ErrPairTimeout},
		{name: "nothing happens", cli: func() *fakeClient {
			c := pairingClient()
			c.qr = make(chan whatsmeow.QRChannelItem) // never yields
			return c
		}, want: whatsapp.ErrPairTimeout},
		{name: "already paired", cli: func() *fakeClient { return newFakeClient() }, want: whatsapp.ErrAlreadyPaired},
		{name: "client outdated", cli: func() *fakeClient { return pairingClient(whatsmeow.QRChannelClientOutdated) }, want: whatsapp.ErrClientOutdated},
		{name: "phone not international", cli: func() *fakeClient { return pairingClient(qrCode) }, phone: "0151 2345678", wantCd: conversation.Invalid},
		{name: "phone not a number", cli: func() *fakeClient { return pairingClient(qrCode) }, phone: "call me", wantCd: conversation.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := whatsapp.PairWith(context.Background(), tt.cli(), &out, tt.phone, 50*time.Millisecond)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("PairWith = %v, want %v", err, tt.want)
			}
			if tt.wantCd != "" && conversation.ErrorCode(err) != tt.wantCd {
				t.Errorf("PairWith = %v, want code %s", err, tt.wantCd)
			}
		})
	}
	t.Run("pairing error", func(t *testing.T) {
		cli := pairingClient(whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventError, Error: whatsmeow.ErrPairInvalidDeviceSignature})
		err := whatsapp.PairWith(context.Background(), cli, &bytes.Buffer{}, "", time.Minute)
		if !errors.Is(err, whatsmeow.ErrPairInvalidDeviceSignature) {
			t.Errorf("PairWith = %v, want the pairing error", err)
		}
	})
}

func TestHalfBlocks(t *testing.T) {
	// true = dark module. Light modules are drawn, two rows per line.
	bm := [][]bool{
		{false, true, false, true},
		{false, false, true, true},
		{true, false, true, false},
	}
	want := "█▄▀ \n▄█▄█\n"
	if got := whatsapp.HalfBlocks(bm); got != want {
		t.Errorf("HalfBlocks =\n%q\nwant\n%q", got, want)
	}
}

func TestRenderQR(t *testing.T) {
	art, err := whatsapp.RenderQR(qrCode.Code)
	if err != nil {
		t.Fatalf("RenderQR: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(art, "\n"), "\n")
	width := len([]rune(lines[0]))
	// A QR code is square: 21 + 4k modules plus a quiet zone of 4 each side.
	if (width-8-21)%4 != 0 || len(lines) != (width+1)/2 {
		t.Fatalf("QR art is %d wide and %d lines high, want a square symbol with quiet zone", width, len(lines))
	}
	for i, l := range lines {
		if len([]rune(l)) != width || strings.Trim(l, "█▀▄ ") != "" {
			t.Errorf("line %d = %q: ragged or not made of half blocks", i, l)
		}
	}
	if lines[0] != strings.Repeat("█", width) {
		t.Errorf("first line %q is not quiet zone", lines[0])
	}
}
