package knowledge_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

var updateSources = flag.Bool("update-sources", false, "rewrite the golden files under testdata/sources")

// renderSource is the golden form of a parsed source: its metadata, then
// each chunk's section and content.
func renderSource(tb testing.TB, doc knowledge.Document, meta knowledge.SourceMeta) string {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "title: %s\nurl: %s\ntags: %s\n", doc.Title, doc.URL, strings.Join(doc.Tags, ", "))
	updated := ""
	if !meta.Updated.IsZero() {
		updated = meta.Updated.Format("2006-01-02T15:04:05Z07:00")
	}
	fmt.Fprintf(&b, "language: %s\naudience: %s\nupdated: %s\n", meta.Language, meta.Audience, updated)
	for i, c := range doc.Chunks {
		fmt.Fprintf(&b, "\n=== chunk %d [%s]\n%s\n", i, c.Section, c.Content)
	}
	return b.String()
}

func TestSourceGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/sources/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		ext := filepath.Ext(f)
		if ext != ".html" && ext != ".txt" {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			data := readFile(t, f)
			var (
				doc  knowledge.Document
				meta knowledge.SourceMeta
			)
			if ext == ".html" {
				page, err := knowledge.ParseHTMLPage(filepath.Base(f), data)
				if err != nil {
					t.Fatalf("ParseHTMLPage: %v", err)
				}
				doc, meta = page.Document, page.Meta
				plain, err := knowledge.ParseHTML(filepath.Base(f), data)
				if err != nil || len(plain.Chunks) != len(doc.Chunks) {
					t.Errorf("ParseHTML: got %d chunks, err %v; want the %d of ParseHTMLPage", len(plain.Chunks), err, len(doc.Chunks))
				}
			} else {
				if doc, err = knowledge.ParseText(filepath.Base(f), data); err != nil {
					t.Fatalf("ParseText: %v", err)
				}
			}
			checkChunkIdentity(t, doc.Chunks)
			got := renderSource(t, doc, meta)
			golden := f + ".golden"
			if *updateSources {
				writeFile(t, golden, got)
			}
			want := string(readFile(t, golden))
			if got != want {
				t.Errorf("got\n%s\nwant (%s)\n%s", got, golden, want)
			}
		})
	}
	if n < 3 {
		t.Fatalf("got %d source fixtures, want at least 3 (help centre, Confluence, text)", n)
	}
}

func TestParseHTMLChrome(t *testing.T) {
	tests := []struct {
		name      string
		html      string
		wantTitle string
		notIn     []string
		wantIn    []string
	}{
		{
			name:      "title from title tag without h1",
			html:      `<html><head><title>Only a title</title></head><body><p>Text.</p></body></html>`,
			wantTitle: "Only a title",
			wantIn:    []string{"Text."},
		},
		{
			name:      "created by line and hidden content dropped",
			html:      `<body><h1>Page</h1><p>Created by Someone</p><div hidden>secret</div><p aria-hidden="true">icon</p><p>Body text.</p><form><label>Search</label></form></body>`,
			wantTitle: "Page",
			notIn:     []string{"Created by", "secret", "icon", "Search"},
			wantIn:    []string{"Body text."},
		},
		{
			name:      "unclosed tags and stray end tags",
			html:      `<h1>Broken</h1><p>First <b>bold <i>both</b> after</i></p></div></span><li>loose item<td>cell`,
			wantTitle: "Broken",
			wantIn:    []string{"First bold both after", "loose item", "cell"},
		},
		{
			name:      "no title at all takes the file name",
			html:      `<p>just text</p>`,
			wantTitle: "page",
			wantIn:    []string{"just text"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := knowledge.ParseHTML("page.html", []byte(tt.html))
			if err != nil {
				t.Fatalf("ParseHTML: %v", err)
			}
			if doc.Title != tt.wantTitle {
				t.Errorf("got title %q, want %q", doc.Title, tt.wantTitle)
			}
			var all strings.Builder
			for _, c := range doc.Chunks {
				all.WriteString(c.Content + "\n")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(all.String(), s) {
					t.Errorf("got content %q, want it to contain %q", all.String(), s)
				}
			}
			for _, s := range tt.notIn {
				if strings.Contains(all.String(), s) {
					t.Errorf("got content %q, want no %q", all.String(), s)
				}
			}
		})
	}
}

func TestParseHTMLRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"too large", []byte("<p>" + strings.Repeat("a", knowledge.MaxFileBytes) + "</p>")},
		{"invalid UTF-8", []byte("<p>caf\xe9</p>")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := knowledge.ParseHTML("bad.html", tt.data)
			if !(conversation.ErrorCode(err) == conversation.Invalid) {
				t.Errorf("got error %v, want an Invalid error", err)
			}
			_, err = knowledge.ParseText("bad.txt", tt.data)
			if !(conversation.ErrorCode(err) == conversation.Invalid) {
				t.Errorf("ParseText: got error %v, want an Invalid error", err)
			}
		})
	}
}

func TestParseHTMLDeepNesting(t *testing.T) {
	// The parser refuses pages nesting more than 512 open elements: an
	// Invalid error, not a crash or a hang.
	html := strings.Repeat("<div>", 50000) + "deep" + strings.Repeat("</div>", 50000) + "<p>shallow</p>"
	_, err := knowledge.ParseHTML("deep.html", []byte(html))
	if conversation.ErrorCode(err) != conversation.Invalid || !strings.Contains(err.Error(), "deep.html") {
		t.Errorf("got error %v, want an Invalid error naming the file", err)
	}
	// Nesting the parser accepts is read to its end.
	html = strings.Repeat("<div>", 400) + "deep" + strings.Repeat("</div>", 400) + "<p>shallow</p>"
	doc, err := knowledge.ParseHTML("deep.html", []byte(html))
	if err != nil {
		t.Fatalf("ParseHTML: %v", err)
	}
	if len(doc.Chunks) == 0 || !strings.Contains(doc.Chunks[len(doc.Chunks)-1].Content, "shallow") {
		t.Errorf("got chunks %+v, want the shallow paragraph kept", doc.Chunks)
	}
}

func TestParseTextTitle(t *testing.T) {
	tests := []struct {
		name, text, wantTitle string
		wantChunks            int
	}{
		{"first line alone", "My title\n\nBody one.\n\nBody two.", "My title", 1},
		{"first line is a paragraph", "Line one\nline two of the same paragraph.", "notes", 1},
		{"single line", "Only one line", "notes", 1},
		{"empty", "  \n\n ", "notes", 0},
		{"long text is split", "Title\n\n" + strings.Repeat(strings.Repeat("word ", 100)+"\n\n", 10), "Title", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := knowledge.ParseText("dir/notes.txt", []byte(tt.text))
			if err != nil {
				t.Fatalf("ParseText: %v", err)
			}
			if doc.Title != tt.wantTitle || len(doc.Chunks) != tt.wantChunks {
				t.Errorf("got title %q and %d chunks, want %q and %d", doc.Title, len(doc.Chunks), tt.wantTitle, tt.wantChunks)
			}
			for _, c := range doc.Chunks {
				if n := utf8.RuneCountInString(c.Content); n > knowledge.MaxChunkChars {
					t.Errorf("got a chunk of %d characters, want at most %d", n, knowledge.MaxChunkChars)
				}
			}
			checkChunkIdentity(t, doc.Chunks)
		})
	}
}

func FuzzParseHTML(f *testing.F) {
	for _, name := range []string{"help-centre.html", "confluence.html"} {
		f.Add(readFile(f, filepath.Join("testdata/sources", name)))
	}
	for _, s := range []string{"", "<", "<table><tr><th>a<td>b<tr><td>c", "<ul><li><ol><li><pre>x</ul>", "<h2></h2><h3>\x00</h3>",
		"<html lang=\"xx-\"><meta name=updated content=\"Mar 3, 2024\"><p>Last updated 2024-03-03</p>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		page, err := knowledge.ParseHTMLPage("fuzz.html", data)
		if err != nil {
			if !(conversation.ErrorCode(err) == conversation.Invalid) {
				t.Fatalf("got error %v, want nil or Invalid", err)
			}
			return
		}
		if page.Document.Title == "" {
			t.Errorf("got an empty title")
		}
		for _, c := range page.Document.Chunks {
			if strings.TrimSpace(c.Content) == "" || !utf8.ValidString(c.Content) {
				t.Errorf("got chunk content %q, want non-empty valid UTF-8", c.Content)
			}
		}
	})
}
