package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/tier0/tier0/knowledge/eval"
)

// runEval measures answer quality on a public data set (see package
// knowledge/eval): a progress bar per stage on stderr, the RESULT line last
// on stdout.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c eval.Config
	fs.StringVar(&c.Dataset, "dataset", "", "data set: clinc150, banking77, clariq, xsid, or all (then -path holds one folder per data set)")
	fs.StringVar(&c.Path, "path", "", "folder holding the data set's files in their original format")
	fs.StringVar(&c.Split, "split", eval.SplitVal, "val (also called dev) or test (the sealed files, when present)")
	fs.StringVar(&c.WorkDir, "workdir", "", "folder for the temporary index (default: the system's temporary folder)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("eval: unexpected arguments %q", fs.Args())
	}
	if c.Dataset == "all" {
		return evalAll(ctx, c, stdout, stderr)
	}
	return evalOne(ctx, c, stdout, stderr)
}

// evalOne runs one data set and prints its RESULT line.
func evalOne(ctx context.Context, c eval.Config, stdout, stderr io.Writer) error {
	r, err := evalRun(ctx, c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r.Line())
	return nil
}

// published are the reference figures of each data set's paper or
// repository (see ../shared/bench/README.md) and this project's targets.
var published = map[string][]string{
	eval.CLINC150:  {"in-scope acc / OOS recall: Rasa 91.5 / 45.3, BERT thresholded 96.2 / 52.3", "target ≥ 92 with OOS ≥ 50"},
	eval.Banking77: {"accuracy: MiniLM frozen + LR 80.0, BERT fine-tuned 93.7", "target ≥ 88"},
	eval.ClariQ:    {"Recall@5/10/20/30: BM25 0.325 / 0.564 / 0.667 / 0.691", "target R@5 ≥ 0.35"},
	eval.XSID:      {"German accuracy: majority 0.253, char TF-IDF 1-NN 0.293 (dev)", "target ≥ 0.75"},
}

// evalAll runs every data set under c.Path/<name> and prints a table
// beside the published numbers, then one RESULT line per data set.
func evalAll(ctx context.Context, c eval.Config, stdout, stderr io.Writer) error {
	var lines []string
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tsplit\ttier0 (offline, CPU)\tpublished\ttarget")
	for _, ds := range []string{eval.CLINC150, eval.Banking77, eval.ClariQ, eval.XSID} {
		one := c
		one.Dataset, one.Path = ds, filepath.Join(c.Path, ds)
		r, err := evalRun(ctx, one, stderr)
		if err != nil {
			return fmt.Errorf("eval %s: %w", ds, err)
		}
		var ms []string
		for _, m := range r.Metrics {
			ms = append(ms, fmt.Sprintf("%s %.4f", m.Name, m.Value))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ds, r.Split, strings.Join(ms, ", "), published[ds][0], published[ds][1])
		lines = append(lines, r.Line())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// evalRun runs one data set with progress bars on stderr.
func evalRun(ctx context.Context, c eval.Config, stderr io.Writer) (eval.Result, error) {
	if err := c.Validate(); err != nil {
		return eval.Result{}, err
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
	return r, err
}
