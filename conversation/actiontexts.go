package conversation

import "strings"

// ActionTexts are the sentences and words of the action dialogue in one
// language. Empty fields take the built-in text of that language (English
// and German are built in), then the English one.
type ActionTexts struct {
	Yes, No, Cancel string // button labels
	// Cancelled answers a cancel; NotDone a "no" to the confirmation.
	Cancelled, NotDone string
	// Re-asks after an invalid answer, per parameter type ({param} is the
	// parameter's name).
	InvalidOrder, InvalidEmail, InvalidNumber, InvalidDate, InvalidChoice, InvalidText string
	// ConfirmAgain re-asks the confirmation after an unclear answer.
	ConfirmAgain string
	// GiveUp ends the action after too many invalid answers.
	GiveUp string
	// NotFound is the default "nothing found" sentence; CantCheck answers
	// a refusing back end (401/403); Unavailable a failing one (5xx,
	// timeout); both offer a person.
	NotFound, CantCheck, Unavailable string
	// RateLimited answers a customer or action over its rate limit.
	RateLimited string
	// NoIdentity: the action needs who the customer is and the channel
	// does not tell.
	NoIdentity string
	// Refused answers a proposal (of an LLM) for someone else or with
	// values the customer never gave.
	Refused string
	// NoTicket and TicketStatus ({ticket}, {status}, {team}, {assignee})
	// are the built-in ticket status action's answers.
	NoTicket, TicketStatus string
	// YesWords, NoWords and CancelWords are lower-case phrases, matched
	// on word boundaries.
	YesWords, NoWords, CancelWords []string
}

// DefaultActionTexts returns the built-in texts of lang ("de" or "en";
// any other language gets English).
func DefaultActionTexts(lang string) ActionTexts {
	if lang == "de" {
		return ActionTexts{
			Yes: "Ja", No: "Nein", Cancel: "Abbrechen",
			Cancelled:     "In Ordnung, ich habe abgebrochen. Wie kann ich sonst helfen?",
			NotDone:       "In Ordnung, ich habe nichts geändert.",
			InvalidOrder:  "Das sieht nicht nach einer Bestellnummer aus. Bitte geben Sie die Nummer so ein, wie sie in Ihrer Bestellbestätigung steht.",
			InvalidEmail:  "Das ist keine gültige E-Mail-Adresse. Bitte geben Sie sie in der Form name@beispiel.de ein.",
			InvalidNumber: "Bitte geben Sie eine Zahl ein.",
			InvalidDate:   "Bitte geben Sie ein Datum ein, zum Beispiel 24.12.2026.",
			InvalidChoice: "Bitte wählen Sie eine der Möglichkeiten.",
			InvalidText:   "Das war zu lang oder leer. Bitte antworten Sie kurz.",
			ConfirmAgain:  "Bitte antworten Sie mit Ja oder Nein.",
			GiveUp:        "Das hat leider nicht geklappt. Möchten Sie mit einer Person sprechen?",
			NotFound:      "Dazu kann ich leider nichts finden.",
			CantCheck:     "Das kann ich leider nicht für Sie prüfen. Eine Person aus dem Team kann Ihnen weiterhelfen.",
			Unavailable:   "Entschuldigung, das System ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal, oder ich verbinde Sie mit einer Person.",
			RateLimited:   "Sie haben gerade sehr viele Anfragen gestellt. Bitte versuchen Sie es in ein paar Minuten noch einmal.",
			NoIdentity:    "Das kann ich in diesem Kanal nicht erledigen, weil ich nicht sicher weiß, wer Sie sind. Eine Person aus dem Team hilft Ihnen gern.",
			Refused:       "Das kann ich nur für Sie selbst erledigen, und nur mit Angaben, die Sie mir selbst geben.",
			NoTicket:      "Ich finde kein offenes Ticket von Ihnen.",
			TicketStatus:  "Ihr Ticket {ticket} ist {status} (Team {team}).",
			YesWords:      []string{"ja", "jawohl", "ja bitte", "gerne", "genau", "ok", "okay", "mach das", "bitte ja"},
			NoWords:       []string{"nein", "nee", "lieber nicht", "nein danke", "nicht"},
			CancelWords:   []string{"abbrechen", "abbruch", "stopp", "stop", "vergiss es", "egal", "cancel"},
		}
	}
	return ActionTexts{
		Yes: "Yes", No: "No", Cancel: "Cancel",
		Cancelled:     "All right, I've stopped. What else can I help with?",
		NotDone:       "All right, I haven't changed anything.",
		InvalidOrder:  "That doesn't look like an order number. Please type it as it appears in your order confirmation.",
		InvalidEmail:  "That isn't a valid e-mail address. Please type it like name@example.com.",
		InvalidNumber: "Please type a number.",
		InvalidDate:   "Please type a date, for example 2026-12-24.",
		InvalidChoice: "Please pick one of the options.",
		InvalidText:   "That was empty or too long. Please answer briefly.",
		ConfirmAgain:  "Please answer yes or no.",
		GiveUp:        "Sorry, that didn't work. Would you like to talk to a person?",
		NotFound:      "Sorry, I can't find anything for that.",
		CantCheck:     "I'm afraid I can't check that for you. A person from the team can help.",
		Unavailable:   "Sorry, that system isn't reachable right now. Please try again later, or I can pass you to a person.",
		RateLimited:   "You've made a lot of requests just now. Please try again in a few minutes.",
		NoIdentity:    "I can't do that on this channel because I can't be sure who you are. A person from the team will be glad to help.",
		Refused:       "I can only do that for you yourself, with details you give me.",
		NoTicket:      "I can't find an open ticket of yours.",
		TicketStatus:  "Your ticket {ticket} is {status} (team {team}).",
		YesWords:      []string{"yes", "yeah", "yep", "sure", "ok", "okay", "please do", "do it", "go ahead", "y"},
		NoWords:       []string{"no", "nope", "don't", "do not", "no thanks", "n"},
		CancelWords:   []string{"cancel", "stop", "never mind", "nevermind", "forget it", "abort", "abbrechen"},
	}
}

// actionTexts returns the texts of lang: the configured ones over the
// built-in ones of that language over English.
func actionTexts(cfg map[string]ActionTexts, lang string) ActionTexts {
	t := cfg[lang]
	fillActionTexts(&t, DefaultActionTexts(lang))
	if lang != "en" {
		fillActionTexts(&t, cfg["en"])
		fillActionTexts(&t, DefaultActionTexts("en"))
	}
	return t
}

func fillActionTexts(t *ActionTexts, d ActionTexts) {
	for _, f := range []struct{ v, def *string }{
		{&t.Yes, &d.Yes}, {&t.No, &d.No}, {&t.Cancel, &d.Cancel},
		{&t.Cancelled, &d.Cancelled}, {&t.NotDone, &d.NotDone},
		{&t.InvalidOrder, &d.InvalidOrder}, {&t.InvalidEmail, &d.InvalidEmail}, {&t.InvalidNumber, &d.InvalidNumber},
		{&t.InvalidDate, &d.InvalidDate}, {&t.InvalidChoice, &d.InvalidChoice}, {&t.InvalidText, &d.InvalidText},
		{&t.ConfirmAgain, &d.ConfirmAgain}, {&t.GiveUp, &d.GiveUp},
		{&t.NotFound, &d.NotFound}, {&t.CantCheck, &d.CantCheck}, {&t.Unavailable, &d.Unavailable},
		{&t.RateLimited, &d.RateLimited}, {&t.NoIdentity, &d.NoIdentity}, {&t.Refused, &d.Refused},
		{&t.NoTicket, &d.NoTicket}, {&t.TicketStatus, &d.TicketStatus},
	} {
		if strings.TrimSpace(*f.v) == "" {
			*f.v = *f.def
		}
	}
	if len(t.YesWords) == 0 {
		t.YesWords = d.YesWords
	}
	if len(t.NoWords) == 0 {
		t.NoWords = d.NoWords
	}
	if len(t.CancelWords) == 0 {
		t.CancelWords = d.CancelWords
	}
}

// invalid returns the re-ask for an invalid answer to p.
func (t ActionTexts) invalid(p *ActionParam, lang string) string {
	if s := pick(p.Invalid, lang); s != "" {
		return s
	}
	switch p.Type {
	case ParamOrder:
		return t.InvalidOrder
	case ParamEmail:
		return t.InvalidEmail
	case ParamNumber:
		return t.InvalidNumber
	case ParamDate:
		return t.InvalidDate
	case ParamEnum:
		return t.InvalidChoice
	}
	return t.InvalidText
}

// says reports whether text is one of phrases, or starts or ends with
// one, on word boundaries ("ja bitte", "nein, danke").
func says(text string, phrases []string) bool {
	norm := normalizeWords(text)
	for _, p := range phrases {
		p = " " + strings.ToLower(strings.TrimSpace(p)) + " "
		if norm == p || strings.HasPrefix(norm, p) || strings.HasSuffix(norm, p) {
			return true
		}
	}
	return false
}
