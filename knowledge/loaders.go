package knowledge

import "strings"

// ParseFunc parses the bytes of one knowledge file into a Document. source
// is the file's slash-separated path relative to the loaded folder. Errors:
// Invalid for data the format rejects.
type ParseFunc func(source string, data []byte) (Document, error)

// parsers maps a lower-case file name suffix to the parser of such files.
// This is the one place that decides which files LoadDir reads: add a
// format by adding its suffix here. A compound suffix (".faq.yaml") wins
// over the plain extension (".yaml").
var parsers = map[string]ParseFunc{
	".md":       ParseMarkdown,
	".faq.yaml": ParseFAQ,
	".faq.yml":  ParseFAQ,
	".faq.json": ParseFAQ,
	// Help-centre pages and Confluence exports, plain text.
	".html": ParseHTML,
	".htm":  ParseHTML,
	".txt":  ParseText,
	// Product catalogues: one chunk per product; product questions are
	// also answered from their attributes (ProductAnswerer).
	".catalog.csv":  ParseCatalogDocument,
	".catalog.json": ParseCatalogDocument,
}

// parserFor returns the parser registered for a file name, nil when
// LoadDir skips such files.
func parserFor(name string) ParseFunc {
	name = strings.ToLower(name)
	last := strings.LastIndexByte(name, '.')
	if last <= 0 {
		return nil
	}
	if prev := strings.LastIndexByte(name[:last], '.'); prev > 0 {
		if p, ok := parsers[name[prev:]]; ok {
			return p
		}
	}
	return parsers[name[last:]]
}
