package knowledge_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// maxFuzzFile bounds a fuzzed knowledge file: large enough for several
// long sections, far below MaxFileBytes so the fuzzer stays fast.
const maxFuzzFile = 64 << 10

// hangLimit is how long parsing one fuzzed file may take (two parses of at
// most maxFuzzFile bytes take milliseconds; this is generous for a loaded
// machine).
const hangLimit = 10 * time.Second

// addFiles seeds f with the files matching each glob pattern.
func addFiles(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		names, err := filepath.Glob(p)
		if err != nil || len(names) == 0 {
			f.Fatalf("no seed files match %s (%v)", p, err)
		}
		for _, n := range names {
			f.Add(readFile(f, n))
		}
	}
}

// checkDocument fails t unless parse's answer to data is an Invalid error
// or a document whose chunks are well formed (non-empty valid UTF-8 from
// source, positions in order, unique ids), and unless parsing again gives
// the same answer.
func checkDocument(t *testing.T, parse knowledge.ParseFunc, source string, data []byte) (knowledge.Document, bool) {
	t.Helper()
	// No hang: a parse that takes this long crashes the fuzz worker, and
	// the fuzzer keeps the input as a crasher (it has no timeout of its own).
	watchdog := time.AfterFunc(hangLimit, func() { panic(fmt.Sprintf("parsing %d bytes took more than %v", len(data), hangLimit)) })
	defer watchdog.Stop()
	doc, err := parse(source, data)
	again, err2 := parse(source, data)
	if (err == nil) != (err2 == nil) || !reflect.DeepEqual(doc, again) {
		t.Fatalf("parsing %q twice gave different answers: %v / %v", data, err, err2)
	}
	if err != nil {
		if conversation.ErrorCode(err) != conversation.Invalid {
			t.Fatalf("got error %v (code %q), want nil or Invalid", err, conversation.ErrorCode(err))
		}
		return doc, false
	}
	if !utf8.ValidString(doc.Title) {
		t.Errorf("title %q is not valid UTF-8", doc.Title)
	}
	ids := make(map[string]bool, len(doc.Chunks))
	for i, c := range doc.Chunks {
		if strings.TrimSpace(c.Content) == "" || !utf8.ValidString(c.Content) {
			t.Errorf("chunk %d: content %q, want non-empty valid UTF-8", i, c.Content)
		}
		if c.Source != source || c.Index != i {
			t.Errorf("chunk %d: source %q index %d, want %q and %d", i, c.Source, c.Index, source, i)
		}
		if c.ID == "" || ids[c.ID] {
			t.Errorf("chunk %d: id %q is empty or not unique", i, c.ID)
		}
		ids[c.ID] = true
	}
	return doc, true
}

// FuzzParseMarkdown parses arbitrary markdown with front matter.
func FuzzParseMarkdown(f *testing.F) {
	addFiles(f, "testdata/chunking/*.md", "testdata/it/*.md", "../configs/shop/knowledge/*.md")
	for _, s := range []string{"", "---\n", "---\ntitle: [\n---\n# x", "---\ntags: a\n---\n## A\n### B\ntext", "# T\n\n```\n## not a heading\n",
		"---\ntitle: &a [*a]\n---\n", "## \n\n- a\n- b\n\n| a | b |\n|---|---|\n", "\ufeff# Titel\n\nÄrger mit dem Drucker"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		checkDocument(t, knowledge.ParseMarkdown, "docs/fuzz.md", data)
	})
}

// FuzzParseText parses arbitrary plain text.
func FuzzParseText(f *testing.F) {
	addFiles(f, "testdata/sources/*.txt", "../configs/*/questions.txt")
	for _, s := range []string{"", "\n\n\n", "Title\n\nbody", "Title\nno blank line", strings.Repeat("word ", 2000), "\r\n\r\nx\r\n", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		checkDocument(t, knowledge.ParseText, "notes/fuzz.txt", data)
	})
}

// FuzzParseFAQ parses arbitrary FAQ card files (YAML, JSON): every card
// phrasing that is kept is a chunk with the card's answer.
func FuzzParseFAQ(f *testing.F) {
	addFiles(f, "testdata/faq/*.faq.yaml")
	for _, s := range []string{"", "cards: []", `{"cards":[{"id":"a","questions":["Wo ist mein Paket?"],"answer":"Unterwegs."}]}`,
		`[{"id":"a","questions":["q"],"answer":"a"}]`, "cards:\n  - id: x\n    questions: q\n    answer: a\n", "- &a [*a, *a]\n", "cards: !!binary AAAA"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		checkDocument(t, knowledge.ParseFAQ, "faq/fuzz.faq.yaml", data)
	})
}

// fuzzCatalog parses data as a catalogue named source: an Invalid error,
// or products that survive a JSON round trip unchanged (what the JSON
// loader reads back is what the parser produced, whichever format it came
// from), and a document with one chunk per product.
func fuzzCatalog(t *testing.T, source string, data []byte) {
	t.Helper()
	c, err := knowledge.ParseCatalog(source, data)
	if err != nil {
		if conversation.ErrorCode(err) != conversation.Invalid {
			t.Fatalf("got error %v, want nil or Invalid", err)
		}
		return
	}
	doc, ok := checkDocument(t, knowledge.ParseCatalogDocument, source, data)
	if !ok || len(doc.Chunks) != len(c.Products) {
		t.Fatalf("the catalogue has %d products but its document %d chunks", len(c.Products), len(doc.Chunks))
	}
	if len(c.Products) == 0 {
		return
	}
	b, err := json.Marshal(c.Products)
	if err != nil {
		t.Fatalf("encode products: %v", err)
	}
	back, err := knowledge.ParseCatalog("back.catalog.json", b)
	if err != nil {
		t.Fatalf("the products of %q do not parse back from JSON: %v\n%s", data, err, b)
	}
	if !reflect.DeepEqual(back.Products, c.Products) {
		t.Fatalf("JSON round trip changed the products:\n got %+v\nwant %+v", back.Products, c.Products)
	}
}

// FuzzParseCatalogCSV parses arbitrary CSV product catalogues.
func FuzzParseCatalogCSV(f *testing.F) {
	addFiles(f, "../configs/shop/knowledge/*.catalog.csv")
	head := "id,name,category,brand,price,currency,compatible_with,related,attr:size\n"
	for _, s := range []string{head + "A,Boot,Boots,Acme,1.5,EUR,B,,42;43\nB,Binding,,,,,A,A,\n", head + "A,Boot,,,abc,EUR,,,\n",
		head + "A,\"Bo\"\"ot\",,,,,,,\n", "id,name\nA\n", "name\nX\n", head + "A,Boot,,,-1e309,EUR,,,\n", "\ufeffid,name\nä,ö\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		fuzzCatalog(t, "products.catalog.csv", data)
	})
}

// FuzzParseCatalogJSON parses arbitrary JSON product catalogues.
func FuzzParseCatalogJSON(f *testing.F) {
	c, err := knowledge.ParseCatalog("products.catalog.csv", readFile(f, shopCatalog))
	if err != nil {
		f.Fatal(err)
	}
	b, err := json.Marshal(c.Products[:8])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range []string{`[]`, `[{"id":"J1","name":"Rain Jacket","category":"Jackets","brand":"Acme","price":99.5,"currency":"EUR","attributes":{"sizes":["S","M"],"waterproof":true,"weight":480}}]`,
		`[{"id":"A","name":"Boot","compatible_with":["A"]}]`, `[{"id":"A","name":"Boot","attributes":{"size":{"eu":42}}}]`, `{"id":"A"}`, `[null]`, `[{"id":"A","name":"B","price":1e400}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzFile {
			return
		}
		fuzzCatalog(t, "products.catalog.json", data)
	})
}
