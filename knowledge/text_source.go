package knowledge

import (
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// This file holds the plain-text loader and what the HTML, text and
// catalogue loaders share: input checks, document metadata and the step
// from sections to chunks.

// MaxTitleChars bounds a title taken from a text's first line or an HTML
// page; a longer first line is not a title.
const MaxTitleChars = 200

// Audience values of SourceMeta.
const (
	AudienceInternal = "internal" // staff only
	AudienceExternal = "external" // customers may see it
)

// SourceMeta is the metadata of a source document that Document and Chunk
// do not carry (yet): the HTML loader fills it from the page, the catalogue
// per product. Zero fields are unknown.
type SourceMeta struct {
	Language    string    // BCP 47 tag, e.g. "de-DE"
	Audience    string    // AudienceInternal, AudienceExternal or ""
	Updated     time.Time // last change of the source
	ProductLine string    // the product line a catalogue entry belongs to
}

// textSection is a heading and the text below it, before chunking.
type textSection struct {
	heading string
	body    string
}

// checkText applies the checks every text loader shares and returns data
// as a string with Windows line ends and a byte order mark removed.
// Errors: Invalid for data over MaxFileBytes or invalid UTF-8.
func checkText(source string, data []byte) (string, error) {
	if len(data) > MaxFileBytes {
		return "", tooLarge(source, int64(len(data)))
	}
	if !utf8.Valid(data) {
		return "", conversation.Errorf(conversation.Invalid, "%s is not valid UTF-8", source)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	return strings.TrimPrefix(text, "\uFEFF"), nil
}

// titleFromName turns a file name into a title: "wifi-setup.txt" → "wifi setup".
func titleFromName(source string) string {
	base := strings.TrimSuffix(path.Base(source), path.Ext(source))
	return strings.NewReplacer("-", " ", "_", " ").Replace(base)
}

// fillChunks cuts each section into chunks of at most MaxChunkChars (at
// paragraph boundaries first, see splitLong) and appends them to doc with
// the same identity rules as ParseMarkdown: stable ids from source,
// heading and part, and a content hash. The chunks carry meta's audience,
// language and product line.
func fillChunks(doc *Document, secs []textSection, meta SourceMeta) {
	perHeading := map[string]int{}
	for _, s := range secs {
		body := strings.TrimSpace(s.body)
		if body == "" {
			continue
		}
		for _, part := range splitLong(body, MaxChunkChars, 0) {
			c := Chunk{
				ID:      chunkID(doc.Source, s.heading, perHeading[s.heading]),
				Part:    perHeading[s.heading],
				Source:  doc.Source,
				Title:   doc.Title,
				Section: s.heading,
				URL:     doc.URL,
				Tags:    doc.Tags,
				Index:   len(doc.Chunks),
				Content: part,

				Audience: meta.Audience,
				Language: meta.Language,
				Product:  meta.ProductLine,
			}
			perHeading[s.heading]++
			c.Hash = chunkHash(c)
			doc.Chunks = append(doc.Chunks, c)
		}
	}
}

// ParseText parses one plain-text file: the title is its first line when
// that line stands alone (a blank line follows) and is at most
// MaxTitleChars long, else the file name; the rest is one section without
// heading, chunked at paragraph boundaries (blank lines) so no chunk is
// much longer than MaxChunkChars. A file without text has no chunks.
// Errors: Invalid for data over MaxFileBytes or invalid UTF-8.
func ParseText(source string, data []byte) (Document, error) {
	text, err := checkText(source, data)
	if err != nil {
		return Document{}, err
	}
	text = strings.TrimSpace(text)
	doc := Document{Source: source}
	first, rest, _ := strings.Cut(text, "\n")
	second, _, _ := strings.Cut(rest, "\n")
	if first = strings.TrimSpace(first); strings.TrimSpace(second) == "" && strings.TrimSpace(rest) != "" &&
		utf8.RuneCountInString(first) <= MaxTitleChars {
		doc.Title, text = first, rest
	}
	if doc.Title == "" {
		doc.Title = titleFromName(source)
	}
	// Blank lines made of spaces still end a paragraph.
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	fillChunks(&doc, []textSection{{body: strings.Join(lines, "\n")}}, SourceMeta{})
	return doc, nil
}
