package conversation

import "strings"

// Texts are the sentences the bot says on its own (not from knowledge).
// Configure them per deployment; empty fields take the defaults.
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
	ButtonHelpful string
	ButtonNotHelp string
	ButtonHuman   string
	HumanKeywords []string // lower-case phrases that ask for a person
}

// DefaultTexts returns the built-in English sentences and the English and
// German phrases that count as asking for a human.
func DefaultTexts() Texts {
	return Texts{
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
		ButtonHelpful: "Helpful",
		ButtonNotHelp: "Not helpful",
		ButtonHuman:   "Talk to a person",
		HumanKeywords: []string{
			"human", "a person", "real person", "someone real", "an agent", "live agent", "talk to agent",
			"speak to agent", "operator", "representative", "support staff", "talk to someone", "speak to someone",
			"mitarbeiter", "mensch", "echte person", "sachbearbeiter", "support-mitarbeiter", "mit jemandem sprechen",
		},
	}
}

func (t Texts) withDefaults() Texts {
	d := DefaultTexts()
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
	fill(&t.ButtonHelpful, d.ButtonHelpful)
	fill(&t.ButtonNotHelp, d.ButtonNotHelp)
	fill(&t.ButtonHuman, d.ButtonHuman)
	if len(t.HumanKeywords) == 0 {
		t.HumanKeywords = d.HumanKeywords
	}
	return t
}

// asksForHuman reports whether text explicitly asks for a person. Phrases
// match on word boundaries, case-insensitively.
func (t Texts) asksForHuman(text string) bool {
	norm := normalizeWords(text)
	for _, k := range t.HumanKeywords {
		if strings.Contains(norm, " "+k+" ") {
			return true
		}
	}
	return false
}

func fillTicket(s string, tk Ticket) string {
	team := tk.Team
	if team == "" {
		team = "our support team"
	}
	return strings.NewReplacer("{ticket}", tk.ID, "{team}", team).Replace(s)
}
