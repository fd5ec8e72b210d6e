package teams

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/tier0/tier0/conversation"
)

// Adaptive Card limits: Teams rejects messages over ~28 KB.
const (
	cardVersion      = "1.4"
	cardSchema       = "http://adaptivecards.io/schemas/adaptive-card.json"
	maxCardTextRunes = 6000
	maxCardLines     = 80
	maxCitations     = 8
	maxButtons       = 12
)

// adaptiveCard is an Adaptive Card (https://adaptivecards.io) as Teams
// renders it.
type adaptiveCard struct {
	Type    string        `json:"type"`
	Schema  string        `json:"$schema,omitempty"`
	Version string        `json:"version"`
	Body    []cardElement `json:"body"`
	Actions []cardAction  `json:"actions,omitempty"`
	// FallbackText is shown by clients that cannot render the card.
	FallbackText string `json:"fallbackText,omitempty"`
}

// cardElement is a TextBlock or a FactSet.
type cardElement struct {
	Type     string     `json:"type"`
	Text     string     `json:"text,omitempty"`
	Wrap     bool       `json:"wrap,omitempty"`
	Weight   string     `json:"weight,omitempty"`
	Size     string     `json:"size,omitempty"`
	IsSubtle bool       `json:"isSubtle,omitempty"`
	Spacing  string     `json:"spacing,omitempty"`
	Facts    []cardFact `json:"facts,omitempty"`
}

// cardFact is a FactSet row (title/value, unlike schema.Fact's key/value).
type cardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// cardAction is an Action.Submit (Data) or Action.ShowCard (Card).
type cardAction struct {
	Type  string            `json:"type"`
	Title string            `json:"title"`
	Data  map[string]string `json:"data,omitempty"`
	Card  *adaptiveCard     `json:"card,omitempty"`
}

func newCard(fallback string) *adaptiveCard {
	return &adaptiveCard{Type: "AdaptiveCard", Schema: cardSchema, Version: cardVersion, FallbackText: truncate(fallback, 500)}
}

func textBlock(text string) cardElement {
	return cardElement{Type: "TextBlock", Text: text, Wrap: true}
}

func submit(title string, data map[string]string) cardAction {
	return cardAction{Type: "Action.Submit", Title: truncate(title, 80), Data: data}
}

// attachment wraps the card for an activity.
func (c *adaptiveCard) attachment() schema.Attachment {
	return schema.Attachment{ContentType: contentTypeAdaptiveCard, Content: c}
}

// needsCard reports whether o is rendered as a card: it has buttons or
// sources, or it is an answer or a consulting question.
func needsCard(o conversation.Outbound) bool {
	return len(o.Buttons) > 0 || len(o.Citations) > 0 || o.Kind == conversation.KindAnswer || o.Kind == conversation.KindConsulting
}

// customerCard renders an outbound message for an employee: the text, the
// sources as a FactSet with links, one Action.Submit per button.
func customerCard(o conversation.Outbound) *adaptiveCard {
	c := newCard(o.Text)
	c.Body = append(c.Body, textBlock(truncate(o.Text, maxCardTextRunes)))
	if len(o.Citations) > 0 {
		t, _ := conversation.ChannelTextsIn(o.Language)
		src := textBlock(strings.TrimSuffix(t.Sources, ":"))
		src.Weight, src.Size, src.IsSubtle, src.Spacing = "Bolder", "Small", true, "Medium"
		facts := cardElement{Type: "FactSet", Spacing: "Small"}
		for i, ci := range o.Citations {
			if i == maxCitations {
				break
			}
			facts.Facts = append(facts.Facts, cardFact{Title: strconv.Itoa(i+1) + ".", Value: citationText(ci)})
		}
		c.Body = append(c.Body, src, facts)
	}
	for i, b := range o.Buttons {
		if i == maxButtons {
			break
		}
		label := b.Label
		if label == "" {
			label = b.Action.ID
		}
		data := map[string]string{dataAction: b.Action.ID}
		if b.Action.Value != "" {
			data[dataValue] = b.Action.Value
		}
		c.Actions = append(c.Actions, submit(label, data))
	}
	return c
}

// citationText is a citation as markdown: a link when it has a safe URL.
func citationText(ci conversation.Citation) string {
	title := ci.Title
	if title == "" {
		title = ci.Source
	}
	if ci.Section != "" && ci.Section != title {
		title += " › " + ci.Section
	}
	title = mdEscape(truncate(title, 200))
	if link := markdownURL(ci.URL); link != "" {
		return "[" + title + "](" + link + ")"
	}
	return title
}

// markdownURL returns an http(s) link that cannot break out of a markdown
// link, or "".
func markdownURL(raw string) string {
	if raw == "" || len(raw) > maxURLLen || strings.ContainsAny(raw, " \t\r\n\\\x00<>") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	return strings.NewReplacer("(", "%28", ")", "%29").Replace(u.String())
}

// mdEscape neutralises the characters that would end or open a markdown
// link in a link text.
func mdEscape(s string) string {
	return strings.NewReplacer("[", "(", "]", ")", "\n", " ", "\r", " ").Replace(s)
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// staffCard renders the handoff card for the staff channel: the card's
// lines (the first one bold) and the agent buttons, whose data names the
// conversation.
func staffCard(key, text string) *adaptiveCard {
	c := newCard(text)
	lines := strings.Split(strings.TrimRight(truncate(text, maxCardTextRunes), "\n"), "\n")
	if len(lines) > maxCardLines {
		lines = append(lines[:maxCardLines-1], "…")
	}
	for i, l := range lines {
		// The card quotes the customer: no markdown links of theirs.
		tb := textBlock(strings.NewReplacer("[", "(", "]", ")").Replace(l))
		if strings.TrimSpace(l) == "" {
			tb.Text = " "
		}
		if i == 0 {
			tb.Weight, tb.Size = "Bolder", "Medium"
		} else {
			tb.Spacing = "None"
		}
		c.Body = append(c.Body, tb)
	}
	act := func(kind conversation.AgentActionKind, value string) map[string]string {
		d := map[string]string{dataAction: string(kind), dataKey: key}
		if value != "" {
			d[dataValue] = value
		}
		return d
	}
	prio := newCard("")
	prio.Schema, prio.FallbackText = "", ""
	prio.Body = []cardElement{textBlock("Set the ticket's priority:")}
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		prio.Actions = append(prio.Actions, submit(p, act(conversation.AgentPriority, p)))
	}
	c.Actions = []cardAction{
		submit("Claim", act(conversation.AgentClaim, "")),
		submit("Resolve", act(conversation.AgentResolve, "")),
		submit("Hand back", act(conversation.AgentHandBack, "")),
		submit("Escalate", act(conversation.AgentEscalate, "")),
		{Type: "Action.ShowCard", Title: "Priority", Card: prio},
	}
	return c
}
