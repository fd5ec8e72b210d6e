package knowledge_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

func TestParseMarkdown(t *testing.T) {
	tests := []struct {
		file      string
		wantTitle string
		wantURL   string
		wantTags  []string
		// wantSections lists each chunk's section heading, in order.
		wantSections []string
		// wantIn lists, per chunk, a text the chunk must contain.
		wantIn []string
	}{
		{
			file:         "headings.md",
			wantTitle:    "Headings",
			wantSections: []string{"", "First section", "Nested section", "Last section"},
			wantIn:       []string{"Text before the first section.", "First section text.", "## neither", "Last text."},
		},
		{
			file:         "front-matter.md",
			wantTitle:    "Title from front matter",
			wantURL:      "https://docs.example.com/front",
			wantTags:     []string{"one", "two"},
			wantSections: []string{"Only section"},
			wantIn:       []string{"Body."},
		},
		{
			file:         "tag-string.md",
			wantTitle:    "tag string",
			wantTags:     []string{"single"},
			wantSections: []string{""},
			wantIn:       []string{"No heading at all, just text."},
		},
		{file: "empty.md", wantTitle: "empty"},
		{file: "front-matter-only.md", wantTitle: "Nothing else"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := parseFixture(t, tt.file)
			if doc.Source != tt.file || doc.Title != tt.wantTitle || doc.URL != tt.wantURL || !reflect.DeepEqual(doc.Tags, tt.wantTags) {
				t.Errorf("got source %q title %q url %q tags %q, want %q %q %q %q",
					doc.Source, doc.Title, doc.URL, doc.Tags, tt.file, tt.wantTitle, tt.wantURL, tt.wantTags)
			}
			var sections []string
			for i, c := range doc.Chunks {
				sections = append(sections, c.Section)
				if c.Index != i || c.Source != tt.file || c.Title != tt.wantTitle || c.URL != tt.wantURL {
					t.Errorf("chunk %d: got index %d source %q title %q url %q", i, c.Index, c.Source, c.Title, c.URL)
				}
				if i < len(tt.wantIn) && !strings.Contains(c.Content, tt.wantIn[i]) {
					t.Errorf("chunk %d (%q): got content %q, want it to contain %q", i, c.Section, c.Content, tt.wantIn[i])
				}
				if strings.HasPrefix(c.Content, "#") && !strings.HasPrefix(c.Content, "####") {
					t.Errorf("chunk %d: content starts with its heading: %q", i, c.Content)
				}
			}
			if !reflect.DeepEqual(sections, tt.wantSections) {
				t.Errorf("got sections %q, want %q", sections, tt.wantSections)
			}
			checkChunkIdentity(t, doc.Chunks)
		})
	}
}

func TestParseMarkdownLongSection(t *testing.T) {
	doc := parseFixture(t, "long-section.md")
	data := readFixture(t, "long-section.md")
	var long []knowledge.Chunk
	for _, c := range doc.Chunks {
		if c.Section == "Long section" {
			long = append(long, c)
		}
	}
	if len(long) < 2 {
		t.Fatalf("got %d chunks for the long section, want it split", len(long))
	}
	var joined []string
	for i, c := range long {
		if n := utf8.RuneCountInString(c.Content); n > knowledge.MaxChunkChars {
			t.Errorf("part %d: got %d characters, want at most %d", i, n, knowledge.MaxChunkChars)
		}
		if !strings.HasPrefix(c.Content, "Paragraph ") || !strings.HasSuffix(c.Content, ".") {
			t.Errorf("part %d: got %q…%q, want it to start and end at a paragraph boundary", i, head(c.Content, 20), tail(c.Content, 20))
		}
		joined = append(joined, c.Content)
	}
	if got := strings.Join(joined, "\n\n"); !strings.Contains(string(data), got) {
		t.Errorf("the parts joined again are not the section text:\n%s", got)
	}
	if last := doc.Chunks[len(doc.Chunks)-1]; last.Section != "After" || last.Content != "Short." {
		t.Errorf("got last chunk %q %q, want After, Short.", last.Section, last.Content)
	}
	checkChunkIdentity(t, doc.Chunks)
}

func TestParseMarkdownSplitsOversizedParagraphs(t *testing.T) {
	sentence := "This sentence belongs to one very long paragraph without any blank line. "
	tests := []struct {
		name string
		body string
	}{
		{"sentences", strings.Repeat(sentence, 60)},
		{"lines", strings.Repeat("- a list item that goes on for a while and then some more\n", 60)},
		{"one huge word", strings.Repeat("x", 3*knowledge.MaxChunkChars+7)},
		{"multibyte", strings.Repeat("ä", 2*knowledge.MaxChunkChars+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := knowledge.ParseMarkdown("long.md", []byte("## Section\n\n"+tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Chunks) < 2 {
				t.Fatalf("got %d chunks, want the paragraph split", len(doc.Chunks))
			}
			total := 0
			for i, c := range doc.Chunks {
				n := utf8.RuneCountInString(c.Content)
				if n > knowledge.MaxChunkChars || !utf8.ValidString(c.Content) {
					t.Errorf("chunk %d: got %d characters (valid UTF-8: %v), want at most %d", i, n, utf8.ValidString(c.Content), knowledge.MaxChunkChars)
				}
				total += len(strings.Fields(c.Content))
			}
			if want := len(strings.Fields(tt.body)); total != want && tt.name != "one huge word" && tt.name != "multibyte" {
				t.Errorf("got %d words over all chunks, want %d", total, want)
			}
			checkChunkIdentity(t, doc.Chunks)
		})
	}
}

func TestParseMarkdownErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"bad front matter", readFixture(t, "bad-front-matter.md")},
		{"unterminated front matter", readFixture(t, "unterminated.md")},
		{"invalid UTF-8", []byte("# Title\n\n\xff\xfe broken")},
		{"too large", []byte(strings.Repeat("a", knowledge.MaxFileBytes+1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := knowledge.ParseMarkdown("x.md", tt.data)
			if got := conversation.ErrorCode(err); got != conversation.Invalid {
				t.Errorf("got error %v (code %q), want code %q", err, got, conversation.Invalid)
			}
		})
	}
}

func TestParseMarkdownHash(t *testing.T) {
	base := "---\nurl: https://a.example\n---\n# T\n\n## One\n\nFirst.\n\n## Two\n\nSecond.\n"
	tests := []struct {
		name        string
		text        string
		wantChanged []bool // per chunk: hash differs from base
	}{
		{"same text", base, []bool{false, false}},
		{"windows line ends", strings.ReplaceAll(base, "\n", "\r\n"), []bool{false, false}},
		{"content of one section", strings.Replace(base, "Second.", "Second, edited.", 1), []bool{false, true}},
		{"url of the document", strings.Replace(base, "a.example", "b.example", 1), []bool{true, true}},
		{"title", strings.Replace(base, "# T", "# New", 1), []bool{true, true}},
	}
	want, err := knowledge.ParseMarkdown("h.md", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := knowledge.ParseMarkdown("h.md", []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Chunks) != len(want.Chunks) {
				t.Fatalf("got %d chunks, want %d", len(got.Chunks), len(want.Chunks))
			}
			for i := range got.Chunks {
				if got.Chunks[i].ID != want.Chunks[i].ID {
					t.Errorf("chunk %d: got id %q, want %q", i, got.Chunks[i].ID, want.Chunks[i].ID)
				}
				if changed := got.Chunks[i].Hash != want.Chunks[i].Hash; changed != tt.wantChanged[i] {
					t.Errorf("chunk %d: got hash changed %v, want %v", i, changed, tt.wantChanged[i])
				}
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.md"), "# B\n\nText b.\n")
	writeFile(t, filepath.Join(dir, "sub", "a.MD"), "# A\n\nText a.\n")
	writeFile(t, filepath.Join(dir, "notes.txt"), "notes\n\nPlain text is read too.")
	writeFile(t, filepath.Join(dir, "data.json"), `{"not": "a catalogue or FAQ"}`)
	writeFile(t, filepath.Join(dir, ".git", "x.md"), "# hidden\n")
	writeFile(t, filepath.Join(dir, ".draft.md"), "# hidden\n")
	if err := os.Symlink(filepath.Join(dir, "b.md"), filepath.Join(dir, "link.md")); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(dir, linked); err != nil {
		t.Fatal(err)
	}
	for _, folder := range []string{dir, linked} {
		t.Run(filepath.Base(folder), func(t *testing.T) {
			docs, err := knowledge.LoadDir(context.Background(), folder)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.Source+"="+d.Title)
			}
			if want := []string{"b.md=B", "notes.txt=notes", "sub/a.MD=A"}; !reflect.DeepEqual(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestLoadDirErrors(t *testing.T) {
	tooBig := t.TempDir()
	writeFile(t, filepath.Join(tooBig, "ok.md"), "# fine\n")
	writeFile(t, filepath.Join(tooBig, "huge.md"), strings.Repeat("a", knowledge.MaxFileBytes+1))
	file := filepath.Join(t.TempDir(), "file.md")
	writeFile(t, file, "# not a folder\n")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		folder   string
		wantCode conversation.Code
		wantText string
	}{
		{"missing folder", context.Background(), filepath.Join(t.TempDir(), "nope"), conversation.NotFound, "does not exist"},
		{"file instead of folder", context.Background(), file, conversation.Invalid, "not a directory"},
		{"file too large", context.Background(), tooBig, conversation.Invalid, "huge.md"},
		{"canceled", canceled, tooBig, conversation.Internal, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := knowledge.LoadDir(tt.ctx, tt.folder)
			if got := conversation.ErrorCode(err); got != tt.wantCode || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got error %v (code %q), want code %q mentioning %q", err, got, tt.wantCode, tt.wantText)
			}
		})
	}
}

// checkChunkIdentity checks that chunk IDs are unique and hashes are sha256 hex.
func checkChunkIdentity(tb testing.TB, chunks []knowledge.Chunk) {
	tb.Helper()
	seen := map[string]bool{}
	for i, c := range chunks {
		if c.ID == "" || seen[c.ID] {
			tb.Errorf("chunk %d: got id %q, want a unique non-empty id", i, c.ID)
		}
		seen[c.ID] = true
		if len(c.Hash) != 64 || strings.Trim(c.Hash, "0123456789abcdef") != "" {
			tb.Errorf("chunk %d: got hash %q, want 64 hex digits", i, c.Hash)
		}
	}
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	return readFile(tb, filepath.Join("testdata", "chunking", name))
}

func parseFixture(tb testing.TB, name string) knowledge.Document {
	tb.Helper()
	doc, err := knowledge.ParseMarkdown(name, readFixture(tb, name))
	if err != nil {
		tb.Fatalf("parse %s: %v", name, err)
	}
	return doc
}

func head(s string, n int) string { return string([]rune(s)[:min(n, utf8.RuneCountInString(s))]) }

func tail(s string, n int) string {
	r := []rune(s)
	return string(r[max(0, len(r)-n):])
}
