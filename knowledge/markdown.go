package knowledge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
)

// Limits of loading.
const (
	// MaxFileBytes is the largest file LoadDir and the parsers accept.
	MaxFileBytes = 1 << 20
	// MaxFiles is the most knowledge files one folder may hold.
	MaxFiles = 10000
	// MaxChunkChars is the length (in characters) above which a section is
	// split at paragraph boundaries.
	MaxChunkChars = 1200
)

// Document is one parsed knowledge file (markdown, FAQ cards, …) or one
// document built in code for Index.IngestDocuments.
type Document struct {
	Source string // path relative to the loaded folder, slash-separated
	Title  string
	URL    string // front matter url, or ""
	Tags   []string
	Chunks []Chunk
}

// Chunk is the unit of retrieval: one section of a document, or one part of
// a long section.
type Chunk struct {
	// ID is stable across runs: source, section heading and the chunk's
	// position among the chunks of that heading.
	ID      string
	Source  string
	Title   string // the document's title
	Section string // the heading the chunk sits under ("" before the first)
	URL     string
	Tags    []string
	// Index is the chunk's position in its document, from 0.
	Index int
	// Part is the chunk's position among the chunks under the same heading
	// in its document: above 0 for the later parts of a split section.
	Part    int
	Content string // markdown, without the section heading
	// Hash is the hex sha256 of everything stored for the chunk (title,
	// section, url, tags, content and the fields below): equal hashes need
	// no re-embedding. Index.IngestDocuments fills it in when empty.
	Hash string

	// Card is the id of the FAQ card the chunk belongs to, "" for a
	// document chunk. A card has one chunk per phrasing; all carry the
	// card's answer as Content.
	Card string
	// Question is the phrasing of a card chunk: what is embedded and
	// matched lexically instead of the answer.
	Question string
	// Audience ("internal", "external" or "" for everyone), Language (a
	// BCP 47 tag such as "en" or "de", "" for any) and Product (a product
	// line, "" for all) are the metadata that Filter selects on.
	Audience string
	Language string
	Product  string
}

// group is what one retrieval result stands for: the FAQ card of a card
// chunk, the source section (all its parts) of a document chunk.
func (c Chunk) group() string {
	if c.Card != "" {
		return c.Source + "#" + c.Card
	}
	return c.Source + "#" + c.Section
}

// embedText is what gets embedded for c: title, tags and heading give the
// text its context; the heading counts twice, as it says best what the
// section is about.
func (c Chunk) embedText() string {
	if c.Card != "" {
		return c.Question
	}
	return c.Title + "\n" + strings.Join(c.Tags, ", ") + "\n" + c.Section + "\n" + c.Section + "\n" + c.Content
}

// lexicalText is the text the answerer's lexical check searches.
func (c Chunk) lexicalText() string {
	if c.Card != "" {
		return c.Question
	}
	return c.Title + "\n" + strings.Join(c.Tags, ", ") + "\n" + c.Section + "\n" + c.Content
}

// frontMatter is the optional YAML header of a markdown file.
type frontMatter struct {
	Title    string     `yaml:"title"`
	URL      string     `yaml:"url"`
	Tags     stringList `yaml:"tags"`
	Audience string     `yaml:"audience"`
	Language string     `yaml:"language"`
	Product  string     `yaml:"product"`
}

// stringList accepts a YAML list of strings or a single string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// LoadDir parses every file under folder that a parser is registered for
// (see parserFor: markdown and FAQ cards) (recursively; hidden files
// and folders and symbolic links inside folder are skipped) and returns the
// documents sorted by Source. Errors: NotFound when folder does not exist, Invalid for a
// file that is too large or malformed (the error names the file) or more
// than MaxFiles files, the context's error.
func LoadDir(ctx context.Context, folder string) ([]Document, error) {
	st, err := os.Stat(folder)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, conversation.Errorf(conversation.NotFound, "knowledge folder %s does not exist", folder)
	}
	if err != nil {
		return nil, fmt.Errorf("knowledge folder %s: %w", folder, err)
	}
	if !st.IsDir() {
		return nil, conversation.Errorf(conversation.Invalid, "knowledge folder %s is not a directory", folder)
	}
	// Walk the real folder when folder is a symbolic link to it.
	root, err := filepath.EvalSymlinks(folder)
	if err != nil {
		return nil, fmt.Errorf("knowledge folder %s: %w", folder, err)
	}
	var docs []Document
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		parse := parserFor(d.Name())
		if !d.Type().IsRegular() || parse == nil {
			return nil
		}
		if len(docs) == MaxFiles {
			return conversation.Errorf(conversation.Invalid, "knowledge folder %s has more than %d knowledge files", folder, MaxFiles)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		doc, err := loadFile(p, filepath.ToSlash(rel), parse)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", folder, err)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Source < docs[j].Source })
	return docs, nil
}

// loadFile reads one file and parses it with parse, refusing files over
// MaxFileBytes before reading them.
func loadFile(p, source string, parse ParseFunc) (Document, error) {
	f, err := os.Open(p)
	if err != nil {
		return Document{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Document{}, err
	}
	if st.Size() > MaxFileBytes {
		return Document{}, tooLarge(source, st.Size())
	}
	// Read one byte past the limit in case the file grew since Stat;
	// the parser refuses it then.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("read %s: %w", source, err)
	}
	if len(data) > MaxFileBytes {
		return Document{}, tooLarge(source, int64(len(data)))
	}
	return parse(source, data)
}

func tooLarge(source string, size int64) error {
	return conversation.Errorf(conversation.Invalid, "%s is %d bytes, more than the limit of %d", source, size, MaxFileBytes)
}

// ParseMarkdown parses one markdown file: optional YAML front matter
// (title, url, tags), the title (front matter title, else the first "# "
// heading, else the file name), and its chunks: one per "##" or "###"
// section, long sections split at paragraph boundaries so no chunk is much
// longer than MaxChunkChars (lists and code blocks stay together unless
// they alone are too long). A file without text has no chunks. Errors:
// Invalid for data over MaxFileBytes, invalid UTF-8 or malformed front
// matter.
func ParseMarkdown(source string, data []byte) (Document, error) {
	if len(data) > MaxFileBytes {
		return Document{}, tooLarge(source, int64(len(data)))
	}
	if !utf8.Valid(data) {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s is not valid UTF-8", source)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\uFEFF")
	fm, body, err := splitFrontMatter(text)
	if err != nil {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: %w", source, err)
	}
	doc := Document{Source: source, Title: strings.TrimSpace(fm.Title), URL: strings.TrimSpace(fm.URL), Tags: cleanTags(fm.Tags)}
	audience, language, product := strings.TrimSpace(fm.Audience), strings.TrimSpace(fm.Language), strings.TrimSpace(fm.Product)
	secs := splitSections(body)
	if doc.Title == "" {
		doc.Title = secs.h1
	}
	if doc.Title == "" {
		base := strings.TrimSuffix(path.Base(source), path.Ext(source))
		doc.Title = strings.NewReplacer("-", " ", "_", " ").Replace(base)
	}
	var kept []textSection
	for _, s := range secs.sections {
		if !linksOnly(s.body) { // a "see also" list answers nothing itself
			kept = append(kept, textSection{heading: s.heading, body: s.body})
		}
	}
	fillChunks(&doc, kept, SourceMeta{Audience: audience, Language: language, ProductLine: product})
	return doc, nil
}

// linkItemRE matches a list item that is nothing but one markdown link,
// optionally followed by a short remark after a dash or colon.
var linkItemRE = regexp.MustCompile(`^\s*(?:[-*+]|\d+[.)])\s+\[[^\]]+\]\([^)]+\)\s*(?:[-–—:].{0,80})?$`)

// linksOnly reports whether a section body is a non-empty list of links
// and nothing else, like a "Related articles" section. Such sections are
// not indexed: their words match many questions and they answer none.
func linksOnly(body string) bool {
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !linkItemRE.MatchString(line) {
			return false
		}
		n++
	}
	return n > 0
}

func chunkID(source, section string, part int) string {
	return fmt.Sprintf("%s#%s#%d", source, section, part)
}

func chunkHash(c Chunk) string {
	h := sha256.New()
	for _, s := range []string{c.Title, c.Section, c.URL, strings.Join(c.Tags, "\n"), c.Content} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	// Fields added later count only when set, so the hashes of chunks
	// without them stay as they were and an upgrade re-embeds nothing.
	for i, s := range []string{c.Card, c.Question, c.Audience, c.Language, c.Product} {
		if s != "" {
			fmt.Fprintf(h, "%d=%d:%s", i, len(s), s)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func cleanTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// splitFrontMatter separates a leading "---" YAML block from the body.
func splitFrontMatter(text string) (frontMatter, string, error) {
	var fm frontMatter
	if !strings.HasPrefix(text, "---\n") {
		return fm, text, nil
	}
	rest := text[len("---\n"):]
	end, after := -1, 0
	for off := 0; off <= len(rest); {
		line, next := lineAt(rest, off)
		if t := strings.TrimRight(line, " \t"); t == "---" || t == "..." {
			end, after = off, next
			break
		}
		if next == off {
			break
		}
		off = next
	}
	if end < 0 {
		return fm, "", errors.New("front matter starts with --- but never ends")
	}
	if err := yaml.Unmarshal([]byte(rest[:end]), &fm); err != nil {
		return fm, "", fmt.Errorf("front matter: %w", err)
	}
	return fm, rest[after:], nil
}

// lineAt returns the line starting at off (without its newline) and the
// offset of the next line; next == off at the end of s.
func lineAt(s string, off int) (line string, next int) {
	if off >= len(s) {
		return "", off
	}
	i := strings.IndexByte(s[off:], '\n')
	if i < 0 {
		return s[off:], len(s)
	}
	return s[off : off+i], off + i + 1
}

type section struct {
	heading string
	body    string
}

type sectionSplit struct {
	h1       string
	sections []section
}

// splitSections cuts a markdown body at its headings (outside fenced code
// blocks). The first "# " heading is the document heading and is dropped;
// every other heading of level 1 to 3 starts a section, deeper headings stay
// in their section's text. Sections without text are left out.
func splitSections(body string) sectionSplit {
	var (
		out    sectionSplit
		cur    section
		buf    strings.Builder
		fence  fenceState
		seenH1 bool
	)
	flush := func() {
		if b := strings.TrimSpace(buf.String()); b != "" {
			cur.body = b
			out.sections = append(out.sections, cur)
		}
		buf.Reset()
	}
	for _, line := range strings.Split(body, "\n") {
		if !fence.inside(line) {
			if level, title := atxHeading(line); level > 0 && level <= 3 {
				if level == 1 && !seenH1 {
					seenH1 = true
					out.h1 = title
					continue
				}
				flush()
				cur = section{heading: title}
				continue
			}
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	flush()
	return out
}

// fenceState tracks fenced code blocks (``` or ~~~) line by line.
type fenceState string

// inside feeds line and reports whether it belongs to a fenced code block,
// its opening and closing lines included.
func (f *fenceState) inside(line string) bool {
	t := strings.TrimLeft(line, " ")
	marker := ""
	if len(line)-len(t) <= 3 {
		for _, c := range []string{"`", "~"} {
			if n := len(t) - len(strings.TrimLeft(t, c)); n >= 3 {
				marker = t[:n]
			}
		}
	}
	switch {
	case *f == "" && marker != "":
		*f = fenceState(marker)
		return true
	case *f != "" && marker != "" && strings.HasPrefix(marker, string(*f)):
		*f = ""
		return true
	}
	return *f != ""
}

// atxHeading parses "## Title ##" into (2, "Title"); (0, "") when line is
// not a heading.
func atxHeading(line string) (int, string) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return 0, ""
	}
	level := len(t) - len(strings.TrimLeft(t, "#"))
	if level == 0 || level > 6 {
		return 0, ""
	}
	rest := t[level:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return 0, ""
	}
	title := strings.TrimSpace(rest)
	if trimmed := strings.TrimRight(title, "#"); trimmed != title && (trimmed == "" || strings.HasSuffix(trimmed, " ")) {
		title = strings.TrimSpace(trimmed)
	}
	return level, title
}

// splitLong cuts text into pieces of at most max characters, preferring the
// coarsest boundary that works: paragraphs (blank lines outside code
// fences), then lines, sentences, spaces and finally characters. Adjacent
// pieces are packed together while they fit.
func splitLong(text string, max, level int) []string {
	if utf8.RuneCountInString(text) <= max {
		return []string{text}
	}
	if level >= len(splitters) {
		return splitRunes(text, max)
	}
	pieces, joiner := splitters[level](text)
	var (
		out  []string
		cur  string
		size int
	)
	for _, p := range pieces {
		n := utf8.RuneCountInString(p)
		if n > max {
			if cur != "" {
				out, cur, size = append(out, cur), "", 0
			}
			out = append(out, splitLong(p, max, level+1)...)
			continue
		}
		if cur != "" && size+len(joiner)+n > max {
			out, cur, size = append(out, cur), "", 0
		}
		if cur != "" {
			cur += joiner
			size += len(joiner)
		}
		cur += p
		size += n
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// splitters cut text at ever finer boundaries; each returns the pieces and
// the string that joins them again.
var splitters = []func(string) ([]string, string){
	func(s string) ([]string, string) { return paragraphs(s), "\n\n" },
	func(s string) ([]string, string) { return nonEmpty(strings.Split(s, "\n")), "\n" },
	func(s string) ([]string, string) { return sentences(s), " " },
	func(s string) ([]string, string) { return strings.Fields(s), " " },
}

// paragraphs splits at blank lines that are not inside a fenced code block.
func paragraphs(s string) []string {
	var (
		out   []string
		buf   []string
		fence fenceState
	)
	flush := func() {
		if p := strings.TrimSpace(strings.Join(buf, "\n")); p != "" {
			out = append(out, p)
		}
		buf = buf[:0]
	}
	for _, line := range strings.Split(s, "\n") {
		if !fence.inside(line) && strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		buf = append(buf, line)
	}
	flush()
	return out
}

func nonEmpty(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sentences splits after '.', '!' or '?' followed by white space.
func sentences(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s)-1; i++ {
		if (s[i] == '.' || s[i] == '!' || s[i] == '?') && (s[i+1] == ' ' || s[i+1] == '\n' || s[i+1] == '\t') {
			out = append(out, strings.TrimSpace(s[start:i+1]))
			start = i + 1
		}
	}
	out = append(out, strings.TrimSpace(s[start:]))
	return nonEmpty(out)
}

func splitRunes(s string, max int) []string {
	var out []string
	r := []rune(s)
	for len(r) > max {
		out = append(out, string(r[:max]))
		r = r[max:]
	}
	if len(r) > 0 {
		out = append(out, string(r))
	}
	return out
}
