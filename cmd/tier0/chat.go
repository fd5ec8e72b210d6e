package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tier0/tier0/adapters/console"
	"github.com/tier0/tier0/conversation"
)

// runChat talks to the engine from the terminal, in-process, over the
// configured store and knowledge index.
func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfigPath, "configuration file")
	user := fs.String("user", os.Getenv("USER"), "who you are in the conversation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := LoadConfig(*path, os.Getenv)
	if err != nil {
		return err
	}
	// Chat logs only warnings: the terminal is for the conversation.
	log := newLogger(stderr, "warn")
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	_, ans, err := openKnowledge(ctx, c, *c.Knowledge.IngestOnStart, io.Discard, log)
	if err != nil {
		return err
	}
	engine, err := newEngine(c, store, ans, nil, log)
	if err != nil {
		return err
	}
	interactive := isTerminal(stdin)
	if *user == "" {
		*user = "local"
	}
	con := console.New(console.Config{Interactive: interactive, User: conversation.Identity{ID: *user, DisplayName: *user}}, stdout)
	d := conversation.NewDispatcher(store, conversation.DispatcherConfig{Logger: log, Workers: 2})
	d.Register(conversation.ChannelConsole, con)
	engine.DeliverWith(d)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	defer func() { stop(); <-done }()

	if interactive {
		fmt.Fprintf(stdout, "%s — type your question, a number to click a choice, /quit to leave.\n", c.Name)
	}
	return con.Run(ctx, engine, stdin)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
