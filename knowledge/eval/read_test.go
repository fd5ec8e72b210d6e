package eval_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge/eval"
)

func open(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func TestReadCLINC150(t *testing.T) {
	d, err := eval.ReadCLINC150(open(t, "testdata/clinc150/data_full.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Train) != 12 || len(d.Val) != 4 || len(d.Test) != 0 {
		t.Fatalf("got %d train, %d val, %d test, want 12, 4 (val + oos_val), 0", len(d.Train), len(d.Val), len(d.Test))
	}
	if got := d.Val[3]; got.Intent != "" || got.Text != "who invented the telephone" {
		t.Errorf("got %+v, want the oos_val item with no intent", got)
	}
	for _, bad := range []string{`[1,2]`, `{"train":[["a"]],"val":[["b","x"]]}`, `{"train":[["a","x"]]}`, `{"train":[["","x"]],"val":[["b","x"]]}`} {
		if _, err := eval.ReadCLINC150(strings.NewReader(bad)); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("%s: got %v, want Invalid", bad, err)
		}
	}
}

func TestReadBanking77(t *testing.T) {
	rows, err := eval.ReadBanking77(open(t, "testdata/banking77/train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 40 || rows[1].Text != "how do I top up, please 0" || rows[1].Intent != "top_up" {
		t.Fatalf("got %d rows, second %+v, want 40 and the quoted text", len(rows), rows[1])
	}
	train, val := eval.SplitBanking77(rows)
	if len(train) != 36 || len(val) != 4 || val[0].Text != "my card has not arrived yet 9" || val[1].Text != "how do I top up, please 9" {
		t.Errorf("got %d train, %d val (%v), want 36 and 4: the 10th and 20th row of each category", len(train), len(val), val)
	}
	for _, bad := range []string{"", "a,b\nx,y\n", "text,category\n", "text,category\nonly\n", "text,category\n,x\n"} {
		if _, err := eval.ReadBanking77(strings.NewReader(bad)); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("%q: got %v, want Invalid", bad, err)
		}
	}
}

func TestReadClariQ(t *testing.T) {
	rows, err := eval.ReadClariQ(open(t, "testdata/clariq/dev.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0].TopicID != "2" || rows[0].InitialRequest != "museum opening hours" || rows[0].QuestionID != "Q00002" {
		t.Fatalf("got %d rows, first %+v", len(rows), rows[0])
	}
	bank, err := eval.ReadQuestionBank(open(t, "testdata/clariq/question_bank.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bank) != 5 || bank[0].ID != "Q00001" || bank[0].Text != "" {
		t.Errorf("got %d questions, first %+v, want 5 with the empty Q00001", len(bank), bank[0])
	}
	for _, bad := range []string{"", "wrong\theader\n", "question_id\tquestion\nQ1\n", "question_id\tquestion\nQ1\ta\nQ1\tb\n"} {
		if _, err := eval.ReadQuestionBank(strings.NewReader(bad)); conversation.ErrorCode(err) != conversation.Invalid {
			t.Errorf("%q: got %v, want Invalid", bad, err)
		}
	}
}
