package eval

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// Data set names for Config.Dataset.
const (
	CLINC150  = "clinc150"
	Banking77 = "banking77"
	ClariQ    = "clariq"
	XSID      = "xsid"
)

// Splits for Config.Split.
const (
	SplitVal  = "val"
	SplitDev  = "dev" // the same as SplitVal; xSID and ClariQ call it dev
	SplitTest = "test"
)

// Config is one evaluation run.
type Config struct {
	// Dataset is CLINC150, Banking77, ClariQ or XSID.
	Dataset string
	// Path is the folder holding the data set's files.
	Path string
	// Split is SplitVal (or its other name SplitDev) or SplitTest (the
	// sealed files, read only when they exist under Path).
	Split string
	// WorkDir is where the temporary index is built ("" = the system's
	// temporary folder). It is removed afterwards.
	WorkDir string
	// Progress, if not nil, is told each stage's progress.
	Progress func(stage string, done, total int)
}

// Validate reports an unknown data set or split or an empty path. Errors:
// Invalid.
func (c Config) Validate() error {
	switch {
	case c.Dataset != CLINC150 && c.Dataset != Banking77 && c.Dataset != ClariQ && c.Dataset != XSID:
		return conversation.Errorf(conversation.Invalid, "eval: data set %q, want %s, %s, %s or %s", c.Dataset, CLINC150, Banking77, ClariQ, XSID)
	case c.Split != SplitVal && c.Split != SplitDev && c.Split != SplitTest:
		return conversation.Errorf(conversation.Invalid, "eval: split %q, want %s (%s) or %s", c.Split, SplitVal, SplitDev, SplitTest)
	case c.Path == "":
		return conversation.Errorf(conversation.Invalid, "eval: no data set path")
	}
	return nil
}

// Metric is one named figure of a Result.
type Metric struct {
	Name  string
	Value float64
}

// Result is what Run measured.
type Result struct {
	Dataset, Split string
	Metrics        []Metric
	Queries        int     // evaluated queries (topics for ClariQ)
	Cards          int     // FAQ cards in the index
	Phrasings      int     // chunks in the index
	Threshold      float64 // the calibrated threshold (CLINC150)
	Duration       time.Duration
}

// Line is the result as the last line of `tier0 eval`:
// "RESULT dataset=… split=… name=value …".
func (r Result) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT dataset=%s split=%s", r.Dataset, r.Split)
	for _, m := range r.Metrics {
		fmt.Fprintf(&b, " %s=%.4f", m.Name, m.Value)
	}
	fmt.Fprintf(&b, " queries=%d cards=%d phrasings=%d", r.Queries, r.Cards, r.Phrasings)
	if r.Dataset == CLINC150 {
		fmt.Fprintf(&b, " threshold=%.4f", r.Threshold)
	}
	fmt.Fprintf(&b, " seconds=%.1f", r.Duration.Seconds())
	return b.String()
}

// Run reads the data set, builds an index of its FAQ cards with the
// built-in offline embedder and measures it (see the package doc).
// Errors: Invalid for a bad Config or malformed data, NotFound for
// missing files, those of package knowledge.
func Run(ctx context.Context, c Config) (Result, error) {
	start := time.Now()
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp(c.WorkDir, "tier0-eval-*")
	if err != nil {
		return Result{}, fmt.Errorf("eval: %w", err)
	}
	defer os.RemoveAll(dir)
	ix, err := knowledge.Open(dir, knowledge.NewHashEmbedder())
	if err != nil {
		return Result{}, err
	}
	var r Result
	switch c.Dataset {
	case CLINC150:
		r, err = runCLINC150(ctx, ix, c)
	case Banking77:
		r, err = runBanking77(ctx, ix, c)
	case XSID:
		r, err = runXSID(ctx, ix, c)
	default:
		r, err = runClariQ(ctx, ix, c)
	}
	if err != nil {
		return Result{}, fmt.Errorf("eval %s: %w", c.Dataset, err)
	}
	r.Dataset, r.Split, r.Phrasings = c.Dataset, c.Split, ix.Count()
	r.Duration = time.Since(start)
	return r, nil
}

func (c Config) progress(stage string) func(done, total int) {
	if c.Progress == nil {
		return nil
	}
	return func(done, total int) { c.Progress(stage, done, total) }
}

// open opens a data file under c.Path. Errors: NotFound when it is
// missing.
func (c Config) open(name string) (*os.File, error) {
	f, err := os.Open(filepath.Join(c.Path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, conversation.Errorf(conversation.NotFound, "%s not found in %s", name, c.Path)
	}
	return f, err
}

func readWith[T any](c Config, name string, read func(f *os.File) (T, error)) (T, error) {
	var zero T
	f, err := c.open(name)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// intentCards makes one FAQ card per intent, its phrasings the intent's
// utterances.
func intentCards(train []Example) []knowledge.Card {
	by := map[string][]string{}
	var names []string
	for _, e := range train {
		if _, ok := by[e.Intent]; !ok {
			names = append(names, e.Intent)
		}
		by[e.Intent] = append(by[e.Intent], e.Text)
	}
	sort.Strings(names)
	cards := make([]knowledge.Card, len(names))
	for i, n := range names {
		cards[i] = knowledge.Card{ID: n, Questions: by[n], Answer: "Intent " + n + "."}
	}
	return cards
}

// ingestCards builds the index of cards and returns how many there are.
func ingestCards(ctx context.Context, ix *knowledge.Index, c Config, cards []knowledge.Card) (int, error) {
	doc, err := knowledge.NewFAQDocument(c.Dataset+".faq", c.Dataset, cards)
	if err != nil {
		return 0, err
	}
	if _, err := ix.IngestDocuments(ctx, []knowledge.Document{doc}, c.progress("ingest")); err != nil {
		return 0, err
	}
	return len(cards), nil
}

func examplesOf(es []Example) []knowledge.CalibrationExample {
	out := make([]knowledge.CalibrationExample, len(es))
	for i, e := range es {
		out[i] = knowledge.CalibrationExample{Query: e.Text, Want: e.Intent}
	}
	return out
}

// predictions turns outcomes into predictions at threshold th (th < 0:
// never decline).
func predictions(es []Example, outs []knowledge.Outcome, th float64) []Prediction {
	ps := make([]Prediction, len(es))
	for i, o := range outs {
		ps[i] = Prediction{Want: es[i].Intent}
		if o.Score >= th {
			ps[i].Got = o.Got
		}
	}
	return ps
}

func runCLINC150(ctx context.Context, ix *knowledge.Index, c Config) (Result, error) {
	d, err := readWith(c, "data_full.json", func(f *os.File) (CLINCData, error) { return ReadCLINC150(f) })
	if err != nil {
		return Result{}, err
	}
	if c.Split == SplitTest && len(d.Test) == 0 {
		return Result{}, conversation.Errorf(conversation.NotFound, "data_full.json in %s holds no test split", c.Path)
	}
	var r Result
	if r.Cards, err = ingestCards(ctx, ix, c, intentCards(d.Train)); err != nil {
		return Result{}, err
	}
	// Calibrate on val + oos_val, as production calibrates on its own
	// labelled questions.
	outs, err := ix.Evaluate(ctx, examplesOf(d.Val), knowledge.CalibrateOptions{Progress: c.progress("calibrate")})
	if err != nil {
		return Result{}, err
	}
	if err := ix.SaveCalibration(knowledge.ChooseThreshold(outs, 0)); err != nil {
		return Result{}, err
	}
	r.Threshold = ix.Threshold()
	eval := d.Val
	if c.Split == SplitTest {
		eval = d.Test
		if outs, err = ix.Evaluate(ctx, examplesOf(eval), knowledge.CalibrateOptions{Progress: c.progress("evaluate")}); err != nil {
			return Result{}, err
		}
	}
	ps := predictions(eval, outs, r.Threshold)
	r.Queries = len(ps)
	r.Metrics = []Metric{{"in_scope_acc", InScopeAccuracy(ps)}, {"oos_recall", OOSRecall(ps)}}
	return r, nil
}

func runBanking77(ctx context.Context, ix *knowledge.Index, c Config) (Result, error) {
	rows, err := readWith(c, "train.csv", func(f *os.File) ([]Example, error) { return ReadBanking77(f) })
	if err != nil {
		return Result{}, err
	}
	train, eval := SplitBanking77(rows)
	if c.Split == SplitTest {
		train = rows
		if eval, err = readWith(c, "test.csv", func(f *os.File) ([]Example, error) { return ReadBanking77(f) }); err != nil {
			return Result{}, err
		}
	}
	return intentAccuracy(ctx, ix, c, train, eval)
}

// intentAccuracy indexes one card per intent of train and measures the
// top card's accuracy on eval, nothing declined.
func intentAccuracy(ctx context.Context, ix *knowledge.Index, c Config, train, eval []Example) (Result, error) {
	var r Result
	var err error
	if r.Cards, err = ingestCards(ctx, ix, c, intentCards(train)); err != nil {
		return Result{}, err
	}
	outs, err := ix.Evaluate(ctx, examplesOf(eval), knowledge.CalibrateOptions{Progress: c.progress("evaluate")})
	if err != nil {
		return Result{}, err
	}
	ps := predictions(eval, outs, -1)
	r.Queries = len(ps)
	r.Metrics = []Metric{{"accuracy", Accuracy(ps)}}
	return r, nil
}

// noQuestion is the ClariQ bank's empty "no question needed" entry.
const noQuestion = "Q00001"

// clariqKs are the cut-offs ClariQ reports.
var clariqKs = []int{5, 10, 20, 30}

func runClariQ(ctx context.Context, ix *knowledge.Index, c Config) (Result, error) {
	bank, err := readWith(c, "question_bank.tsv", func(f *os.File) ([]Question, error) { return ReadQuestionBank(f) })
	if err != nil {
		return Result{}, err
	}
	name := "dev.tsv"
	if c.Split == SplitTest {
		name = "test_with_labels.tsv"
	}
	eval, err := readWith(c, name, func(f *os.File) ([]ClariQRow, error) { return ReadClariQ(f) })
	if err != nil {
		return Result{}, err
	}
	var r Result
	if r.Cards, err = ingestCards(ctx, ix, c, clariqCards(bank)); err != nil {
		return Result{}, err
	}
	queries, relevant := clariqTopics(eval)
	rankings := make([][]string, len(queries))
	maxK := clariqKs[len(clariqKs)-1]
	for i, q := range queries {
		res, err := ix.Retrieve(ctx, q, knowledge.RetrieveOptions{K: maxK})
		if err != nil {
			return Result{}, err
		}
		for _, h := range res.Hits {
			rankings[i] = append(rankings[i], h.Chunk.Card)
		}
		if c.Progress != nil {
			c.Progress("evaluate", i+1, len(queries))
		}
	}
	r.Queries = len(queries)
	for _, k := range clariqKs {
		r.Metrics = append(r.Metrics, Metric{fmt.Sprintf("recall_at_%d", k), MeanRecallAtK(rankings, relevant, k)})
	}
	return r, nil
}

// clariqCards makes one card per non-empty bank question, the question its
// one phrasing.
func clariqCards(bank []Question) []knowledge.Card {
	var cards []knowledge.Card
	for _, q := range bank {
		if q.ID == noQuestion || strings.TrimSpace(q.Text) == "" {
			continue
		}
		cards = append(cards, knowledge.Card{ID: q.ID, Questions: []string{q.Text}, Answer: q.Text})
	}
	return cards
}

// clariqTopics returns each topic's initial request and relevant question
// ids, in order of first appearance.
func clariqTopics(rows []ClariQRow) ([]string, []map[string]bool) {
	var queries []string
	var relevant []map[string]bool
	index := map[string]int{}
	for _, row := range rows {
		i, ok := index[row.TopicID]
		if !ok {
			i = len(queries)
			index[row.TopicID] = i
			queries = append(queries, row.InitialRequest)
			relevant = append(relevant, map[string]bool{})
		}
		if row.QuestionID != "" && row.QuestionID != noQuestion {
			relevant[i][row.QuestionID] = true
		}
	}
	return queries, relevant
}

// runXSID measures cross-lingual intent routing: one FAQ card per intent
// with the English utterances (train_en) as its phrasings, the German
// utterances (dev_de, or the sealed test_de) as the questions; accuracy
// of the top card, nothing declined.
func runXSID(ctx context.Context, ix *knowledge.Index, c Config) (Result, error) {
	d, err := readWith(c, "xsid.json", func(f *os.File) (XSIDData, error) { return ReadXSID(f) })
	if err != nil {
		return Result{}, err
	}
	eval := d.Dev
	if c.Split == SplitTest {
		if len(d.Test) == 0 {
			return Result{}, conversation.Errorf(conversation.NotFound, "xsid.json in %s holds no test_de split", c.Path)
		}
		eval = d.Test
	}
	return intentAccuracy(ctx, ix, c, d.Train, eval)
}
