package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tier0/tier0/knowledge/eval"
)

// runEval measures answer quality on a public data set (see package
// knowledge/eval): a progress bar per stage on stderr, the RESULT line last
// on stdout.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c eval.Config
	fs.StringVar(&c.Dataset, "dataset", "", "data set: clinc150, banking77 or clariq")
	fs.StringVar(&c.Path, "path", "", "folder holding the data set's files in their original format")
	fs.StringVar(&c.Split, "split", eval.SplitVal, "val (clariq: dev) or test (the sealed files, when present)")
	fs.StringVar(&c.WorkDir, "workdir", "", "folder for the temporary index (default: the system's temporary folder)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected arguments %q", fs.Args())
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var (
		bar   *progress
		stage string
	)
	c.Progress = func(s string, done, total int) {
		if s != stage {
			if bar != nil {
				bar.finish()
			}
			stage, bar = s, newProgress(stderr, s)
		}
		bar.update(done, total)
	}
	r, err := eval.Run(ctx, c)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.Line())
	return nil
}
