package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
)

// runIngest brings the knowledge index up to date with a folder: the
// configured one, or the folder given as argument.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", DefaultConfigPath, "configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := LoadConfig(*path, os.Getenv)
	if err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("ingest: at most one folder, got %d arguments", fs.NArg())
	}
	if fs.NArg() == 1 {
		c.Knowledge.Path = fs.Arg(0)
	}
	if c.Knowledge.Path == "" {
		return fmt.Errorf("ingest: no knowledge folder (set knowledge.path in %s or pass one)", *path)
	}
	ix, _, err := openKnowledge(ctx, c, false, stderr, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	if _, err := ingestFolder(ctx, ix, c.Knowledge.Path, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "index: %d chunks in %s\n", ix.Count(), c.DataDir)
	return nil
}
