package conversation

import (
	"strconv"
	"strings"

	"github.com/tier0/tier0/conversation/textproc"
)

// ActionConsult is the action id of a consulting option button; its
// value is the option's query.
const ActionConsult = "consult"

// ConsultingConfig configures the questions the bot asks before it gives
// up on a question: the ones a good first-level agent would ask.
type ConsultingConfig struct {
	// MaxQuestions caps the consulting questions per unresolved question
	// before the thread is handed to a person (default 2; negative turns
	// consulting off).
	MaxQuestions int
	// Flows are per-topic questions, asked in order when a question the
	// bot cannot answer mentions one of the flow's keywords.
	Flows []ConsultFlow
}

// ConsultFlow is the consulting of one topic.
type ConsultFlow struct {
	Name      string   // e.g. "vpn", "ski-boots"; recorded on events
	Keywords  []string // words or phrases; matched folded, inflected and inside German compounds (textproc.Matcher)
	Questions []string // asked one at a time, in the default language
	// Translations are the Questions in other languages, keyed by
	// language code and in the same order; a missing language or an
	// empty entry falls back to Questions.
	Translations map[string][]string
}

// Question returns the flow's i-th question in lang, falling back to the
// default language's.
func (f *ConsultFlow) Question(i int, lang string) string {
	if tr := f.Translations[BaseLanguage(lang)]; i < len(tr) && strings.TrimSpace(tr[i]) != "" {
		return tr[i]
	}
	return f.Questions[i]
}

// asked reports whether the conversation has an answer to the flow's i-th
// question in any language (the customer may have switched).
func (f *ConsultFlow) asked(c *Conversation, i int) bool {
	if c.hasSlot(f.Questions[i]) {
		return true
	}
	for _, tr := range f.Translations {
		if i < len(tr) && tr[i] != "" && c.hasSlot(tr[i]) {
			return true
		}
	}
	return false
}

func (c ConsultingConfig) withDefaults() ConsultingConfig {
	if c.MaxQuestions == 0 {
		c.MaxQuestions = 2
	}
	return c
}

// flowFor returns the flow whose keywords the text mentions, or nil.
// Keywords match German inflections and compounds too ("drucker" in
// "Druckerwarteschlange"; see textproc.Matcher).
func (c ConsultingConfig) flowFor(text string) *ConsultFlow {
	m := textproc.NewMatcher(text)
	for i := range c.Flows {
		for _, k := range c.Flows[i].Keywords {
			if m.Contains(k) {
				return &c.Flows[i]
			}
		}
	}
	return nil
}

// Consulting is the state of an open consulting exchange: the question
// the bot could not answer yet and what it asked about it.
type Consulting struct {
	// Query is the customer's question as refined so far; each answer to
	// a consulting question is folded into it.
	Query string `json:"query"`
	Flow  string `json:"flow,omitempty"`
	// Asked counts consulting questions asked for this Query.
	Asked int `json:"asked"`
	// Pending is the question waiting for its answer; Options its buttons.
	Pending string        `json:"pending,omitempty"`
	Options []Alternative `json:"options,omitempty"`
}

// Slot is one consulting question with the customer's answer, kept on the
// conversation for the handoff card.
type Slot struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// consultAnswer folds the customer's reply to the pending consulting
// question into the query and records it as a slot. It returns the query
// to retry.
func (t *turn) consultAnswer() string {
	c := t.conv
	cs := c.Consulting
	reply := strings.TrimSpace(t.msg.Text)
	if a := t.msg.Action; a != nil && a.ID == ActionConsult {
		reply = a.Value
		for _, o := range cs.Options {
			if o.Query == a.Value {
				reply = o.Label
			}
		}
	}
	c.Slots = append(c.Slots, Slot{Question: cs.Pending, Answer: reply})
	if len(c.Slots) > maxSlots {
		c.Slots = c.Slots[len(c.Slots)-maxSlots:]
	}
	if a := t.msg.Action; a != nil && a.ID == ActionConsult && a.Value != "" {
		cs.Query = strings.TrimSpace(cs.Query + " " + a.Value)
	} else if reply != "" {
		cs.Query = strings.TrimSpace(cs.Query + " " + reply)
	}
	if len([]rune(cs.Query)) > MaxTextLen {
		cs.Query = string([]rune(cs.Query)[:MaxTextLen])
	}
	cs.Pending, cs.Options = "", nil
	t.event(EventConsultAnswered, "flow", cs.Flow)
	return cs.Query
}

// maxSlots bounds the consulting answers kept per conversation.
const maxSlots = 20

// consult asks the next consulting question about query when the engine
// may: retrieval disagreed (ask which topic is meant) or a topic flow has
// questions left. It reports whether it asked.
func (t *turn) consult(query string, ans Answer) bool {
	cfg := t.e.cfg.Consulting
	c := t.conv
	cs := c.Consulting
	if cs == nil {
		cs = &Consulting{Query: query}
	}
	if cfg.MaxQuestions < 0 || cs.Asked >= cfg.MaxQuestions {
		return false
	}
	tx := t.texts()
	if len(ans.Alternatives) >= 2 {
		opts := ans.Alternatives
		if len(opts) > maxOptions {
			opts = opts[:maxOptions]
		}
		buttons := make([]Button, 0, len(opts)+1)
		for _, o := range opts {
			buttons = append(buttons, Button{Action: Action{ID: ActionConsult, Value: o.Query}, Label: o.Label})
		}
		buttons = append(buttons, t.humanButton())
		cs.Pending, cs.Options = tx.WhichOne, opts
		t.ask(cs, "ambiguous", tx.WhichOne, buttons)
		return true
	}
	flow := cfg.flowFor(query)
	if flow == nil || (cs.Flow != "" && cs.Flow != flow.Name) {
		return false
	}
	cs.Flow = flow.Name
	// The next question of the flow the conversation has no answer to.
	for i := range flow.Questions {
		if !flow.asked(c, i) {
			q := flow.Question(i, t.language())
			cs.Pending, cs.Options = q, nil
			t.ask(cs, "flow", q, []Button{t.humanButton()})
			return true
		}
	}
	return false
}

// maxOptions caps the options of a "which one do you mean" question.
const maxOptions = 3

func (t *turn) ask(cs *Consulting, kind, question string, buttons []Button) {
	cs.Asked++
	t.conv.Consulting = cs
	t.setPhase(PhaseConsulting)
	t.event(EventConsulting, "kind", kind, "flow", cs.Flow, "asked", strconv.Itoa(cs.Asked))
	t.reply(KindConsulting, question, nil, buttons)
}

func (c *Conversation) hasSlot(question string) bool {
	for _, s := range c.Slots {
		if s.Question == question {
			return true
		}
	}
	return false
}

// normalizeWords lower-cases text and reduces it to words separated by
// single spaces, with a space at each end, for phrase matching.
func normalizeWords(text string) string {
	return " " + strings.Join(strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r == '-' || r == '\'' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127)
	}), " ") + " "
}
