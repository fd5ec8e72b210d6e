package eval

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tier0/tier0/conversation"
)

// Limits of the readers: the data sets are far smaller.
const (
	// MaxDatasetBytes bounds one data file.
	MaxDatasetBytes = 64 << 20
	// MaxRows bounds the rows or items of one file.
	MaxRows = 500000
	// maxTextChars bounds one utterance or question.
	maxTextChars = 4000
)

// Example is one labelled utterance; Intent is "" for an out-of-scope one.
type Example struct {
	Text   string
	Intent string
}

// readAll reads r up to MaxDatasetBytes. Errors: Invalid when r is larger.
func readAll(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDatasetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(b) > MaxDatasetBytes {
		return nil, conversation.Errorf(conversation.Invalid, "%s is larger than %d bytes", what, MaxDatasetBytes)
	}
	return b, nil
}

func checkText(what string, n int, text string) error {
	if strings.TrimSpace(text) == "" {
		return conversation.Errorf(conversation.Invalid, "%s: row %d has no text", what, n)
	}
	if len(text) > maxTextChars {
		return conversation.Errorf(conversation.Invalid, "%s: row %d is longer than %d bytes", what, n, maxTextChars)
	}
	return nil
}

// CLINCData is the content of data_full.json that the eval uses.
type CLINCData struct {
	Train []Example // in-scope train utterances (the FAQ phrasings)
	Val   []Example // val and oos_val (Intent "")
	Test  []Example // test and oos_test; empty when the file holds none
}

// ReadCLINC150 reads data_full.json: an object whose keys train, val,
// oos_val (and, when present, test, oos_test) hold lists of [text, intent]
// pairs; the oos_* lists are out of scope. Other keys are ignored.
// Errors: Invalid for malformed JSON, pairs that are not two strings,
// a missing train or val list, or too much data.
func ReadCLINC150(r io.Reader) (CLINCData, error) {
	b, err := readAll(r, "clinc150 data")
	if err != nil {
		return CLINCData{}, err
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return CLINCData{}, conversation.Errorf(conversation.Invalid, "clinc150 data: %v", err)
	}
	var d CLINCData
	lists := []struct {
		key string
		oos bool
		dst *[]Example
	}{
		{"train", false, &d.Train},
		{"val", false, &d.Val}, {"oos_val", true, &d.Val},
		{"test", false, &d.Test}, {"oos_test", true, &d.Test},
	}
	for _, l := range lists {
		for i, pair := range raw[l.key] {
			if len(pair) != 2 {
				return CLINCData{}, conversation.Errorf(conversation.Invalid, "clinc150 %s[%d]: %d fields, want [text, intent]", l.key, i, len(pair))
			}
			if err := checkText("clinc150 "+l.key, i, pair[0]); err != nil {
				return CLINCData{}, err
			}
			if len(*l.dst) >= MaxRows {
				return CLINCData{}, conversation.Errorf(conversation.Invalid, "clinc150: more than %d items", MaxRows)
			}
			ex := Example{Text: pair[0], Intent: pair[1]}
			if l.oos {
				ex.Intent = ""
			} else if strings.TrimSpace(ex.Intent) == "" {
				return CLINCData{}, conversation.Errorf(conversation.Invalid, "clinc150 %s[%d]: empty intent", l.key, i)
			}
			*l.dst = append(*l.dst, ex)
		}
	}
	if len(d.Train) == 0 || len(d.Val) == 0 {
		return CLINCData{}, conversation.Errorf(conversation.Invalid, "clinc150 data: want non-empty train and val lists")
	}
	return d, nil
}

// ReadBanking77 reads a BANKING77 CSV file (train.csv or test.csv) with the
// header text,category. Errors: Invalid for another header, malformed CSV,
// empty fields or too many rows.
func ReadBanking77(r io.Reader) ([]Example, error) {
	b, err := readAll(r, "banking77 csv")
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(strings.NewReader(string(b)))
	cr.FieldsPerRecord = 2
	head, err := cr.Read()
	if err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: %v", err)
	}
	if head[0] != "text" || head[1] != "category" {
		return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: header %q, want text,category", strings.Join(head, ","))
	}
	var out []Example
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: %v", err)
		}
		if err := checkText("banking77 csv", n, rec[0]); err != nil {
			return nil, err
		}
		if strings.TrimSpace(rec[1]) == "" {
			return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: row %d has no category", n)
		}
		if len(out) >= MaxRows {
			return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: more than %d rows", MaxRows)
		}
		out = append(out, Example{Text: rec[0], Intent: rec[1]})
	}
	if len(out) == 0 {
		return nil, conversation.Errorf(conversation.Invalid, "banking77 csv: no rows")
	}
	return out, nil
}

// SplitBanking77 carves the validation split from train rows: within each
// category, in order, every 10th row is validation.
func SplitBanking77(rows []Example) (train, val []Example) {
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.Intent]++
		if seen[r.Intent]%10 == 0 {
			val = append(val, r)
		} else {
			train = append(train, r)
		}
	}
	return train, val
}

// ClariQRow is one row of a ClariQ train/dev/test file: a topic's initial
// request and one clarifying question asked for it.
type ClariQRow struct {
	TopicID        string
	InitialRequest string
	QuestionID     string
	Question       string
}

// readTSV reads tab-separated rows (no quoting) and checks the header
// starts with want. Errors: Invalid.
func readTSV(r io.Reader, what string, want []string) ([][]string, error) {
	b, err := readAll(r, what)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if len(lines) == 0 {
		return nil, conversation.Errorf(conversation.Invalid, "%s: empty", what)
	}
	head := strings.Split(lines[0], "\t")
	if len(head) < len(want) {
		return nil, conversation.Errorf(conversation.Invalid, "%s: header %q, want %s", what, lines[0], strings.Join(want, " "))
	}
	for i, w := range want {
		if head[i] != w {
			return nil, conversation.Errorf(conversation.Invalid, "%s: header %q, want %s", what, lines[0], strings.Join(want, " "))
		}
	}
	var rows [][]string
	for n, l := range lines[1:] {
		if l == "" {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != len(head) {
			return nil, conversation.Errorf(conversation.Invalid, "%s: line %d has %d fields, want %d", what, n+2, len(f), len(head))
		}
		if len(rows) >= MaxRows {
			return nil, conversation.Errorf(conversation.Invalid, "%s: more than %d rows", what, MaxRows)
		}
		rows = append(rows, f)
	}
	return rows, nil
}

// clariqColumns is the header of the ClariQ topic files.
var clariqColumns = []string{"topic_id", "initial_request", "topic_desc", "clarification_need", "facet_id", "facet_desc", "question_id", "question", "answer"}

// ReadClariQ reads train.tsv, dev.tsv or test_with_labels.tsv. Errors:
// Invalid for another header, a row with another number of fields, an
// empty topic id or request, or too many rows.
func ReadClariQ(r io.Reader) ([]ClariQRow, error) {
	rows, err := readTSV(r, "clariq tsv", clariqColumns)
	if err != nil {
		return nil, err
	}
	out := make([]ClariQRow, len(rows))
	for i, f := range rows {
		if f[0] == "" {
			return nil, conversation.Errorf(conversation.Invalid, "clariq tsv: row %d has no topic id", i+2)
		}
		if err := checkText("clariq tsv", i+2, f[1]); err != nil {
			return nil, err
		}
		out[i] = ClariQRow{TopicID: f[0], InitialRequest: f[1], QuestionID: f[6], Question: f[7]}
	}
	return out, nil
}

// Question is one entry of the ClariQ question bank.
type Question struct {
	ID   string
	Text string // "" for Q00001, "no question"
}

// ReadQuestionBank reads question_bank.tsv (question_id, question). Errors:
// Invalid for another header, malformed rows, empty or duplicate ids.
func ReadQuestionBank(r io.Reader) ([]Question, error) {
	rows, err := readTSV(r, "clariq question bank", []string{"question_id", "question"})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]Question, len(rows))
	for i, f := range rows {
		if f[0] == "" || seen[f[0]] {
			return nil, conversation.Errorf(conversation.Invalid, "clariq question bank: row %d: empty or duplicate id %q", i+2, f[0])
		}
		if len(f[1]) > maxTextChars {
			return nil, conversation.Errorf(conversation.Invalid, "clariq question bank: row %d is longer than %d bytes", i+2, maxTextChars)
		}
		seen[f[0]] = true
		out[i] = Question{ID: f[0], Text: f[1]}
	}
	return out, nil
}

// XSIDData is the content of xsid.json that the eval uses.
type XSIDData struct {
	Train []Example // train_en: English utterances (the FAQ phrasings)
	Dev   []Example // dev_de: German questions
	Test  []Example // test_de: German questions; empty when the file holds none
}

// ReadXSID reads xsid.json: an object whose keys train_en, dev_de (and,
// in the sealed copy, test_de) hold lists of [text, intent] pairs. Other
// keys are ignored. Errors: Invalid for malformed JSON, pairs that are
// not two non-empty strings, a missing train_en or dev_de list, or too
// much data.
func ReadXSID(r io.Reader) (XSIDData, error) {
	b, err := readAll(r, "xsid data")
	if err != nil {
		return XSIDData{}, err
	}
	var raw map[string][][]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return XSIDData{}, conversation.Errorf(conversation.Invalid, "xsid data: %v", err)
	}
	var d XSIDData
	for _, l := range []struct {
		key string
		dst *[]Example
	}{{"train_en", &d.Train}, {"dev_de", &d.Dev}, {"test_de", &d.Test}} {
		if len(raw[l.key]) > MaxRows {
			return XSIDData{}, conversation.Errorf(conversation.Invalid, "xsid %s: more than %d items", l.key, MaxRows)
		}
		for i, pair := range raw[l.key] {
			if len(pair) != 2 {
				return XSIDData{}, conversation.Errorf(conversation.Invalid, "xsid %s[%d]: %d fields, want [text, intent]", l.key, i, len(pair))
			}
			if err := checkText("xsid "+l.key, i, pair[0]); err != nil {
				return XSIDData{}, err
			}
			if strings.TrimSpace(pair[1]) == "" {
				return XSIDData{}, conversation.Errorf(conversation.Invalid, "xsid %s[%d]: empty intent", l.key, i)
			}
			*l.dst = append(*l.dst, Example{Text: pair[0], Intent: pair[1]})
		}
	}
	if len(d.Train) == 0 || len(d.Dev) == 0 {
		return XSIDData{}, conversation.Errorf(conversation.Invalid, "xsid data: want non-empty train_en and dev_de lists")
	}
	return d, nil
}
