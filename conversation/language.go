package conversation

import "strings"

// LanguageDetector guesses the language of a customer message. It is the
// port to an offline detector (conversation/language holds the built-in
// one); it must be safe for concurrent use and do no I/O.
type LanguageDetector interface {
	// Detect returns the most likely language of text as a lower-case ISO
	// 639-1 code and how clearly the text itself shows it. prior is the
	// language expected before reading text (the conversation's so far or
	// the platform locale's, "" when none): a text that shows nothing
	// (a greeting, a number, a product name) returns prior with a low
	// confidence. Language is "" when neither text nor prior tell.
	Detect(text, prior string) LanguageGuess
}

// LanguageGuess is a detector's answer.
type LanguageGuess struct {
	Language string
	// Confidence in [0,1]: how clearly text alone shows Language.
	Confidence float64
}

// EventLanguage records that a conversation's language was set or changed
// (data: from, to).
const EventLanguage EventType = "language"

// LanguageConfig configures how the engine keeps each conversation's
// language (Conversation.Language).
type LanguageConfig struct {
	// Detector, when set, reads every customer message, with the platform
	// locale as prior. Without it every conversation is in the Default
	// language.
	Detector LanguageDetector
	// Default is the language of conversations nothing tells about
	// (default DefaultLanguage); Texts, flows and knowledge use it then.
	Default string
	// Switch is the confidence a message needs to change a conversation's
	// language once it has one (default 0.75): shorter or ambiguous
	// messages keep the current language.
	Switch float64
	// Start is the confidence the first telling message needs to set the
	// language over the platform locale (default 0.35).
	Start float64
	// Texts are the configured sentences per language code, over the
	// built-in ones; EngineConfig.Texts are the Default language's.
	Texts map[string]Texts
}

func (c LanguageConfig) withDefaults() LanguageConfig {
	if c.Default = BaseLanguage(c.Default); c.Default == "" {
		c.Default = DefaultLanguage
	}
	if c.Switch <= 0 {
		c.Switch = 0.75
	}
	if c.Start <= 0 {
		c.Start = 0.35
	}
	return c
}

// languageNames are the English names of common languages, for staff
// views (handoff card, console, analytics).
var languageNames = map[string]string{
	"de": "German", "en": "English", "fr": "French", "it": "Italian", "es": "Spanish", "nl": "Dutch",
	"pl": "Polish", "pt": "Portuguese", "tr": "Turkish", "cs": "Czech", "da": "Danish", "sv": "Swedish",
}

// LanguageName returns "German (de)" for "de": the English name with the
// code, or the code alone for a language without a known name.
func LanguageName(code string) string {
	code = BaseLanguage(code)
	if n, ok := languageNames[code]; ok {
		return n + " (" + code + ")"
	}
	return code
}

// MaxLocaleLen bounds a platform locale tag, in bytes.
const MaxLocaleLen = 35

// CleanLocale returns tag when it is shaped like a BCP 47 tag (ASCII
// letters, digits and hyphens, starting with a language subtag, at most
// MaxLocaleLen bytes), else "": a platform's locale field is outside input.
func CleanLocale(tag string) string {
	if len(tag) > MaxLocaleLen || BaseLanguage(tag) == "" {
		return ""
	}
	for _, c := range []byte(tag) {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	return tag
}

// phonePrefixes maps the international calling codes of a phone number to
// the language most of its users write (a prior only; the text decides).
var phonePrefixes = []struct{ prefix, lang string }{
	{"+49", "de"}, {"+43", "de"}, {"+41", "de"}, {"+423", "de"},
	{"+44", "en"}, {"+1", "en"}, {"+353", "en"}, {"+61", "en"}, {"+64", "en"},
}

// PhoneLocale returns the language prior of an E.164 phone number
// ("+4915112345678" → "de"), or "" when its country code tells nothing.
// Adapters that only know a phone number (WhatsApp) fill Identity.Locale
// with it.
func PhoneLocale(phone string) string {
	p := strings.TrimSpace(phone)
	if !strings.HasPrefix(p, "+") {
		p = "+" + p
	}
	best, lang := 0, ""
	for _, e := range phonePrefixes {
		if strings.HasPrefix(p, e.prefix) && len(e.prefix) > best {
			best, lang = len(e.prefix), e.lang
		}
	}
	return lang
}

// detectLanguage updates the conversation's language from the customer's
// message m: the first telling message sets it (the platform locale is the
// prior), later ones switch it only when they clearly show another
// language. It records a language event when the language changes.
func (t *turn) detectLanguage() {
	cfg, c, m := t.e.cfg.Language, t.conv, t.msg
	if cfg.Detector == nil {
		return
	}
	locale := BaseLanguage(m.User.Locale)
	prior := c.Language
	if prior == "" {
		prior = locale
	}
	// A clicked button (no text) says nothing about the language.
	text := m.Text
	next := prior
	if strings.TrimSpace(text) != "" {
		g := cfg.Detector.Detect(text, prior)
		g.Language = BaseLanguage(g.Language)
		switch {
		case g.Language == "":
		case c.Language == "" && g.Confidence >= cfg.Start:
			next = g.Language
		case g.Language != prior && g.Confidence >= cfg.Switch:
			next = g.Language
		}
	}
	if next != c.Language && next != "" {
		t.event(EventLanguage, "from", c.Language, "to", next)
		c.Language = next
	}
}

// language returns the conversation's language, or the default.
func (t *turn) language() string {
	if t.conv.Language != "" {
		return t.conv.Language
	}
	return t.e.cfg.Language.Default
}

// texts returns the bot's sentences in the conversation's language.
func (t *turn) texts() Texts { return t.e.texts.For(t.language()) }

// TextsFor returns the bot's sentences in lang, with the deployment's
// overrides and the fallback to the default language (see NewTextSet).
func (e *Engine) TextsFor(lang string) Texts { return e.texts.For(lang) }

// Language returns the language of c that its texts are chosen by: its
// detected language, else the engine's default.
func (e *Engine) Language(c *Conversation) string {
	if c != nil && c.Language != "" {
		return c.Language
	}
	return e.cfg.Language.Default
}
