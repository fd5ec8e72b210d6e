package knowledge

import (
	"path"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
)

// Limits of FAQ cards.
const (
	// MaxCards is the most cards one FAQ document may hold.
	MaxCards = 20000
	// MaxPhrasings is the most phrasings one card may hold.
	MaxPhrasings = 2000
	// MaxCardIDChars bounds a card id.
	MaxCardIDChars = 200
)

// Card is one FAQ card: the questions people ask (several phrasings of the
// same need) and the one answer to all of them.
//
// In a file (*.faq.yaml, *.faq.yml or *.faq.json) cards sit under "cards",
// beside optional defaults for all cards of the file:
//
//	title: Shop FAQ            # default: the file name
//	url: https://shop.example/faq
//	audience: external         # internal | external | "" (everyone)
//	language: en
//	product: ""                # product line, "" for all
//	tags: [shop]
//	cards:
//	  - id: returns
//	    questions: ["How do I return an item?", "Can I send it back?"]
//	    answer: You can return any item within 30 days …
//	    tags: [returns]
//	    url: https://shop.example/faq#returns
//
// A top-level list of cards is accepted too. "question" (one string) and
// "phrasings" are synonyms of "questions". JSON files use the same keys.
type Card struct {
	ID        string   `yaml:"id" json:"id"`
	Questions []string `yaml:"questions" json:"questions"`
	Answer    string   `yaml:"answer" json:"answer"`
	Tags      []string `yaml:"tags" json:"tags,omitempty"`
	URL       string   `yaml:"url" json:"url,omitempty"`
	Audience  string   `yaml:"audience" json:"audience,omitempty"`
	Language  string   `yaml:"language" json:"language,omitempty"`
	Product   string   `yaml:"product" json:"product,omitempty"`
}

// faqCard is a card as written in a file, with the synonyms of Questions.
type faqCard struct {
	ID        string     `yaml:"id"`
	Question  stringList `yaml:"question"`
	Questions stringList `yaml:"questions"`
	Phrasings stringList `yaml:"phrasings"`
	Answer    string     `yaml:"answer"`
	Tags      stringList `yaml:"tags"`
	URL       string     `yaml:"url"`
	Audience  string     `yaml:"audience"`
	Language  string     `yaml:"language"`
	Product   string     `yaml:"product"`
}

// faqFile is an FAQ file: the defaults for its cards (the keys of a
// markdown front matter) and the cards.
type faqFile struct {
	frontMatter `yaml:",inline"`
	Cards       []faqCard `yaml:"cards"`
}

// ParseFAQ parses an FAQ card file (see Card for the format; YAML or
// JSON) into a document with one chunk per phrasing (see NewFAQDocument).
// Card fields left empty take the file's defaults. Errors: Invalid for
// data over MaxFileBytes, invalid UTF-8, malformed YAML/JSON, a file
// without cards, and the card errors of NewFAQDocument.
func ParseFAQ(source string, data []byte) (Document, error) {
	if len(data) > MaxFileBytes {
		return Document{}, tooLarge(source, int64(len(data)))
	}
	if !utf8.Valid(data) {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s is not valid UTF-8", source)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: %v", source, err)
	}
	var f faqFile
	var err error
	if len(root.Content) == 1 && root.Content[0].Kind == yaml.SequenceNode {
		err = root.Content[0].Decode(&f.Cards)
	} else if len(root.Content) == 1 {
		err = root.Content[0].Decode(&f)
	}
	if err != nil {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: %v", source, err)
	}
	if len(f.Cards) == 0 {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: no cards (want a list of cards or a \"cards\" key)", source)
	}
	if len(f.Cards) > MaxCards {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: %d cards, more than the limit of %d", source, len(f.Cards), MaxCards)
	}
	cards := make([]Card, len(f.Cards))
	for i, c := range f.Cards {
		qs := append(append(append([]string(nil), c.Question...), c.Questions...), c.Phrasings...)
		cards[i] = Card{
			ID:        c.ID,
			Questions: qs,
			Answer:    c.Answer,
			Tags:      orDefault(cleanTags(c.Tags), cleanTags(f.Tags)),
			URL:       orDefault(c.URL, f.URL),
			Audience:  orDefault(c.Audience, f.Audience),
			Language:  orDefault(c.Language, f.Language),
			Product:   orDefault(c.Product, f.Product),
		}
	}
	title := strings.TrimSpace(f.Title)
	if title == "" {
		base := path.Base(source)
		if i := strings.Index(base, "."); i > 0 {
			base = base[:i]
		}
		title = strings.NewReplacer("-", " ", "_", " ").Replace(base)
	}
	return NewFAQDocument(source, title, cards)
}

func orDefault[T string | []string](v, def T) T {
	if len(v) == 0 {
		return def
	}
	return v
}

// NewFAQDocument builds the document of a set of FAQ cards, for
// Index.IngestDocuments: one chunk per distinct phrasing of each card, its
// ID source#card#n, Card set to the card id, Question to the phrasing,
// Section to the card's first phrasing (what a citation shows) and Content
// to the answer. Errors: Invalid for more than MaxCards cards, a card
// without id, answer or phrasings, a duplicate id, an id longer than
// MaxCardIDChars or holding '#' or a line break, more than MaxPhrasings
// phrasings, or a phrasing longer than MaxQueryChars.
func NewFAQDocument(source, title string, cards []Card) (Document, error) {
	if len(cards) > MaxCards {
		return Document{}, conversation.Errorf(conversation.Invalid, "%s: %d cards, more than the limit of %d", source, len(cards), MaxCards)
	}
	doc := Document{Source: source, Title: title}
	seen := make(map[string]bool, len(cards))
	for n, c := range cards {
		id := strings.TrimSpace(c.ID)
		switch {
		case id == "":
			return Document{}, conversation.Errorf(conversation.Invalid, "%s: card %d has no id", source, n+1)
		case utf8.RuneCountInString(id) > MaxCardIDChars || strings.ContainsAny(id, "#\n\r"):
			return Document{}, conversation.Errorf(conversation.Invalid, "%s: card id %.40q is longer than %d characters or holds '#' or a line break", source, id, MaxCardIDChars)
		case seen[id]:
			return Document{}, conversation.Errorf(conversation.Invalid, "%s: card id %q occurs twice", source, id)
		case strings.TrimSpace(c.Answer) == "":
			return Document{}, conversation.Errorf(conversation.Invalid, "%s: card %q has no answer", source, id)
		case len(c.Questions) > MaxPhrasings:
			return Document{}, conversation.Errorf(conversation.Invalid, "%s: card %q has %d phrasings, more than the limit of %d", source, id, len(c.Questions), MaxPhrasings)
		}
		seen[id] = true
		qs, err := cardPhrasings(source, id, c.Questions)
		if err != nil {
			return Document{}, err
		}
		for i, q := range qs {
			ch := Chunk{
				ID:       chunkID(source, id, i),
				Source:   source,
				Title:    title,
				Section:  qs[0],
				URL:      strings.TrimSpace(c.URL),
				Tags:     cleanTags(c.Tags),
				Index:    len(doc.Chunks),
				Part:     i,
				Content:  strings.TrimSpace(c.Answer),
				Card:     id,
				Question: q,
				Audience: strings.TrimSpace(c.Audience),
				Language: strings.TrimSpace(c.Language),
				Product:  strings.TrimSpace(c.Product),
			}
			ch.Hash = chunkHash(ch)
			doc.Chunks = append(doc.Chunks, ch)
		}
	}
	return doc, nil
}

// cardPhrasings returns the distinct non-blank phrasings of a card, their
// white space collapsed, in their order.
func cardPhrasings(source, id string, questions []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, q := range questions {
		q = strings.Join(strings.Fields(q), " ")
		if q == "" || seen[q] {
			continue
		}
		if utf8.RuneCountInString(q) > MaxQueryChars {
			return nil, conversation.Errorf(conversation.Invalid, "%s: card %q has a phrasing longer than %d characters", source, id, MaxQueryChars)
		}
		seen[q] = true
		out = append(out, q)
	}
	if len(out) == 0 {
		return nil, conversation.Errorf(conversation.Invalid, "%s: card %q has no question", source, id)
	}
	return out, nil
}
