package conversation

import (
	"sort"
	"strings"
)

// Texts are the sentences the bot says on its own (not from knowledge), in
// one language. Configure them per deployment and language; empty fields
// take the built-in sentences of the language, then those of the default
// language.
type Texts struct {
	NotSure       string // the bot has no confident answer
	Helpful       string // reply to a "helpful" click
	NotHelpful    string // reply to the first "not helpful" click
	HandoffOpened string // {ticket} and {team} are replaced
	Unavailable   string // knowledge is down
	WhichOne      string // consulting: the top answers disagree, which topic is meant
	AgentJoined   string // {agent} is replaced
	Resolved      string // {ticket}; followed by the 1–5 satisfaction buttons
	HandedBack    string // an agent gave the thread back to the bot
	CSATThanks    string // reply to a satisfaction click
	Escalated     string // {ticket} and {team}: passed to the next support level
	SupportTeam   string // {team} when the ticket names no team
	ButtonHelpful string
	ButtonNotHelp string
	ButtonHuman   string
	HumanKeywords []string // lower-case phrases that ask for a person
}

// DefaultLanguage is the language of a conversation whose language is not
// known yet, unless the deployment configures another.
const DefaultLanguage = "en"

// builtinTexts are the shipped sentences per language (ISO 639-1 code).
var builtinTexts = map[string]Texts{
	"en": {
		NotSure:       "I'm not sure I have the right answer to that. Could you rephrase it, or shall I pass you to a person?",
		Helpful:       "Glad that helped!",
		NotHelpful:    "Sorry that didn't help. You can rephrase your question, or I can pass you to a person.",
		HandoffOpened: "I've passed this to {team} as ticket {ticket}. A person will reply here; you don't need to repeat anything.",
		Unavailable:   "I can't search the knowledge base right now. Please try again in a moment, or ask for a person.",
		WhichOne:      "I found a few things that could fit. Which one do you mean?",
		AgentJoined:   "{agent} has joined the conversation.",
		Resolved:      "Ticket {ticket} is resolved. How satisfied are you with the help you got (1 = not at all, 5 = very)?",
		HandedBack:    "You're back with the assistant. Ask me anything, or ask for a person again at any time.",
		CSATThanks:    "Thank you for your feedback!",
		Escalated:     "Ticket {ticket} has been passed to {team}, who will continue here.",
		SupportTeam:   "our support team",
		ButtonHelpful: "Helpful",
		ButtonNotHelp: "Not helpful",
		ButtonHuman:   "Talk to a person",
		HumanKeywords: []string{
			"human", "a person", "real person", "someone real", "an agent", "live agent", "talk to agent",
			"speak to agent", "operator", "representative", "support staff", "talk to someone", "speak to someone",
		},
	},
	"de": {
		NotSure:       "Darauf habe ich leider keine passende Antwort gefunden. Können Sie Ihre Frage anders formulieren? Oder soll ich Sie mit unserem Support-Team verbinden?",
		Helpful:       "Schön, dass ich helfen konnte!",
		NotHelpful:    "Das tut mir leid. Sie können Ihre Frage anders formulieren, oder ich verbinde Sie mit unserem Support-Team.",
		HandoffOpened: "Ich habe Ihr Anliegen als Ticket {ticket} an {team} weitergegeben. Sie bekommen die Antwort hier und müssen nichts noch einmal erklären.",
		Unavailable:   "Ich kann die Wissensdatenbank gerade nicht durchsuchen. Bitte versuchen Sie es gleich noch einmal, oder lassen Sie sich mit unserem Support-Team verbinden.",
		WhichOne:      "Dazu habe ich mehrere Themen gefunden. Welches meinen Sie?",
		AgentJoined:   "{agent} hat Ihr Anliegen übernommen und ist jetzt für Sie da.",
		Resolved:      "Ticket {ticket} ist erledigt. Wie zufrieden sind Sie mit der Hilfe (1 = gar nicht, 5 = sehr)?",
		HandedBack:    "Sie sind wieder beim digitalen Assistenten. Fragen Sie mich gern – und wenn Sie möchten, jederzeit wieder nach einem Menschen.",
		CSATThanks:    "Vielen Dank für Ihre Rückmeldung!",
		Escalated:     "Ticket {ticket} wurde an {team} weitergegeben; dort geht es hier mit Ihrem Anliegen weiter.",
		SupportTeam:   "unser Support-Team",
		ButtonHelpful: "Hilfreich",
		ButtonNotHelp: "Nicht hilfreich",
		ButtonHuman:   "Mit einem Menschen sprechen",
		HumanKeywords: []string{
			"mitarbeiter", "mitarbeiterin", "mensch", "einem menschen", "echte person", "echten person", "sachbearbeiter",
			"support-mitarbeiter", "mit jemandem sprechen", "persönlich sprechen", "ansprechpartner", "kundendienst",
		},
	},
}

// BuiltinLanguages returns the codes of the languages with built-in texts,
// sorted.
func BuiltinLanguages() []string {
	out := make([]string, 0, len(builtinTexts))
	for l := range builtinTexts {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// BuiltinTexts returns the built-in sentences in lang (an ISO 639-1 code or
// a BCP 47 tag) and whether tier0 ships that language.
func BuiltinTexts(lang string) (Texts, bool) {
	t, ok := builtinTexts[BaseLanguage(lang)]
	return t.clone(), ok
}

// DefaultTexts returns the built-in English sentences and the English and
// German phrases that count as asking for a human.
func DefaultTexts() Texts {
	t, _ := BuiltinTexts("en")
	t.HumanKeywords = append(t.HumanKeywords, builtinTexts["de"].HumanKeywords...)
	return t
}

func (t Texts) clone() Texts {
	t.HumanKeywords = append([]string(nil), t.HumanKeywords...)
	return t
}

// over fills t's empty fields from d.
func (t Texts) over(d Texts) Texts {
	fill := func(v *string, def string) {
		if strings.TrimSpace(*v) == "" {
			*v = def
		}
	}
	fill(&t.NotSure, d.NotSure)
	fill(&t.Helpful, d.Helpful)
	fill(&t.NotHelpful, d.NotHelpful)
	fill(&t.HandoffOpened, d.HandoffOpened)
	fill(&t.Unavailable, d.Unavailable)
	fill(&t.WhichOne, d.WhichOne)
	fill(&t.AgentJoined, d.AgentJoined)
	fill(&t.Resolved, d.Resolved)
	fill(&t.HandedBack, d.HandedBack)
	fill(&t.CSATThanks, d.CSATThanks)
	fill(&t.Escalated, d.Escalated)
	fill(&t.SupportTeam, d.SupportTeam)
	fill(&t.ButtonHelpful, d.ButtonHelpful)
	fill(&t.ButtonNotHelp, d.ButtonNotHelp)
	fill(&t.ButtonHuman, d.ButtonHuman)
	if len(t.HumanKeywords) == 0 {
		t.HumanKeywords = append([]string(nil), d.HumanKeywords...)
	}
	return t
}

// TextSet is the bot's sentences in every language of a deployment.
type TextSet struct {
	def    string
	byLang map[string]Texts
	human  []string // every language's human keywords
}

// NewTextSet returns the texts of a deployment whose default language is
// def ("" means DefaultLanguage). overrides holds the configured sentences
// per language code; a language may be one tier0 does not ship. For each
// language an empty field takes the built-in sentence of that language,
// then the default language's configured sentence, then its built-in one.
func NewTextSet(def string, overrides map[string]Texts) TextSet {
	def = BaseLanguage(def)
	if def == "" {
		def = DefaultLanguage
	}
	base := overrides[def].over(builtinTexts[def]).over(builtinTexts[DefaultLanguage])
	s := TextSet{def: def, byLang: map[string]Texts{def: base}}
	add := func(lang string, t Texts) {
		if lang = BaseLanguage(lang); lang != "" && lang != def {
			s.byLang[lang] = t.over(builtinTexts[lang]).over(base)
		}
	}
	for l := range builtinTexts {
		add(l, overrides[l])
	}
	for l, t := range overrides {
		add(l, t)
	}
	seen := map[string]bool{}
	for _, l := range s.Languages() {
		for _, k := range s.byLang[l].HumanKeywords {
			if k = strings.ToLower(strings.TrimSpace(k)); k != "" && !seen[k] {
				seen[k] = true
				s.human = append(s.human, k)
			}
		}
	}
	return s
}

// Default returns the default language's code.
func (s TextSet) Default() string { return s.def }

// Languages returns the codes of the languages with texts, sorted.
func (s TextSet) Languages() []string {
	out := make([]string, 0, len(s.byLang))
	for l := range s.byLang {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Has reports whether the set has texts of its own for lang.
func (s TextSet) Has(lang string) bool {
	_, ok := s.byLang[BaseLanguage(lang)]
	return ok
}

// For returns the sentences in lang (a code or a BCP 47 tag); a language
// without texts, and "", get the default language's.
func (s TextSet) For(lang string) Texts {
	if t, ok := s.byLang[BaseLanguage(lang)]; ok {
		return t
	}
	if t, ok := s.byLang[s.def]; ok {
		return t
	}
	return DefaultTexts()
}

// AsksForHuman reports whether text explicitly asks for a person, in any of
// the set's languages (a customer may ask in another language than the
// conversation's). Phrases match on word boundaries, case-insensitively.
func (s TextSet) AsksForHuman(text string) bool {
	norm := normalizeWords(text)
	for _, k := range s.human {
		if strings.Contains(norm, " "+k+" ") {
			return true
		}
	}
	return false
}

// BaseLanguage returns the lower-case primary language subtag of a BCP 47
// tag or POSIX locale ("de-AT", "de_CH.UTF-8" → "de"), or "" when tag does
// not start with 2–3 ASCII letters.
func BaseLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_."); i >= 0 {
		tag = tag[:i]
	}
	if len(tag) < 2 || len(tag) > 3 {
		return ""
	}
	b := []byte(strings.ToLower(tag))
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return string(b)
}

func fillTicket(s string, tk Ticket, tx Texts) string {
	team := tk.Team
	if team == "" {
		team = tx.SupportTeam
	}
	return strings.NewReplacer("{ticket}", tk.ID, "{team}", team).Replace(s)
}

// ChannelTexts are the sentences channel adapters add to the customer's
// side of a conversation (hints and errors of the platform, not the bot's
// answers), in one language.
type ChannelTexts struct {
	ChoiceHint   string // ends a numbered list of choices (WhatsApp)
	NumberRange  string // %d: the highest number of a 1..n rating list (WhatsApp)
	ChooseOption string // the question of a choice poll (WhatsApp)
	Sources      string // heads the citation links (WhatsApp Cloud)
	ButtonGone   string // a clicked button no longer works (Telegram)
	TryAgain     string // a click or message could not be taken; try again
	Busy         string // the assistant is overloaded or briefly unavailable
	Generic      string // an unexpected error on our side
}

var channelTexts = map[string]ChannelTexts{
	"en": {
		ChoiceHint:   "Reply with the number of your choice.",
		NumberRange:  "Reply with a number from 1 to %d.",
		ChooseOption: "Choose an option",
		Sources:      "Sources:",
		ButtonGone:   "This button is no longer available.",
		TryAgain:     "Sorry, that did not work. Please try again.",
		Busy:         "The assistant is busy right now. Please try again in a moment.",
		Generic:      "Something went wrong on our side. Please try again.",
	},
	"de": {
		ChoiceHint:   "Antworten Sie bitte mit der Nummer Ihrer Wahl.",
		NumberRange:  "Antworten Sie bitte mit einer Zahl von 1 bis %d.",
		ChooseOption: "Bitte wählen Sie",
		Sources:      "Quellen:",
		ButtonGone:   "Diese Schaltfläche ist nicht mehr verfügbar.",
		TryAgain:     "Das hat leider nicht geklappt. Bitte versuchen Sie es noch einmal.",
		Busy:         "Der Assistent ist gerade stark ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
		Generic:      "Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es noch einmal.",
	},
}

// ChannelTextsIn returns the channel sentences in lang (a code or a BCP 47
// tag), English when tier0 has none in that language; ok reports whether
// lang's own were found.
func ChannelTextsIn(lang string) (t ChannelTexts, ok bool) {
	if t, ok := channelTexts[BaseLanguage(lang)]; ok {
		return t, true
	}
	return channelTexts[DefaultLanguage], false
}

// ChannelText returns one channel sentence for a conversation in lang:
// the deployment's configured sentence when it set its own (anything but
// the English default), else the built-in one in lang (English when there
// is none in lang). pick selects the sentence, e.g.
// func(t ChannelTexts) string { return t.ChoiceHint }.
func ChannelText(lang, configured string, pick func(ChannelTexts) string) string {
	if configured != "" && configured != pick(channelTexts[DefaultLanguage]) {
		return configured
	}
	t, _ := ChannelTextsIn(lang)
	return pick(t)
}
