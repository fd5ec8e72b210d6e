package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tier0/tier0/adapters/whatsapp"
)

// runWhatsApp handles "tier0 whatsapp pair": it links this server to a
// WhatsApp account as a companion device, by QR code or phone pairing
// code, and stores the device keys in the configured device store.
func runWhatsApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pair" {
		fmt.Fprintln(stderr, "usage: tier0 whatsapp pair [-config FILE] [-phone +4915112345678]")
		return errors.New("whatsapp: want the subcommand pair")
	}
	fs := flag.NewFlagSet("whatsapp pair", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", DefaultConfigPath, "configuration file")
	phone := fs.String("phone", "", "pair with a code for this phone number (international format) instead of a QR code")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := LoadConfig(*configPath, os.Getenv)
	if err != nil {
		return err
	}
	return whatsapp.Pair(ctx, whatsappConfig(c, nil), stdout, *phone)
}
