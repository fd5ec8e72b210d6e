package botframework

import (
	"encoding/json"
	"errors"
	"strings"
)

// ContentTypeAdaptiveCard is the attachment content type of Adaptive Cards.
const ContentTypeAdaptiveCard = "application/vnd.microsoft.card.adaptive"

// AdaptiveCard is the part of an Adaptive Card the fake checks and tests
// look at.
type AdaptiveCard struct {
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []CardElement `json:"body"`
	Actions []CardAction  `json:"actions,omitempty"`
}

// CardElement is a body element: TextBlock (Text), FactSet (Facts),
// Container (Items), ColumnSet (Columns), ActionSet (Actions).
type CardElement struct {
	Type    string        `json:"type"`
	Text    string        `json:"text,omitempty"`
	Facts   []Fact        `json:"facts,omitempty"`
	Items   []CardElement `json:"items,omitempty"`
	Columns []CardElement `json:"columns,omitempty"`
	Actions []CardAction  `json:"actions,omitempty"`
}

// Fact is one row of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// CardAction is an Action.Submit (Data), Action.OpenUrl (URL) or
// Action.ShowCard (Card).
type CardAction struct {
	Type  string          `json:"type"`
	Title string          `json:"title"`
	Data  json.RawMessage `json:"data,omitempty"`
	URL   string          `json:"url,omitempty"`
	Card  *AdaptiveCard   `json:"card,omitempty"`
}

func decodeCard(content any) (*AdaptiveCard, error) {
	b, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	var c AdaptiveCard
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errors.New("malformed Adaptive Card: " + err.Error())
	}
	return &c, nil
}

// Card returns the first Adaptive Card attached to the activity, or nil.
func (r Recorded) Card() *AdaptiveCard {
	for _, at := range r.Activity.Attachments {
		if at.ContentType == ContentTypeAdaptiveCard {
			if c, err := decodeCard(at.Content); err == nil {
				return c
			}
		}
	}
	return nil
}

// Text returns what a reader sees of the activity as plain lines: its text
// and the texts and facts of its Adaptive Card.
func (r Recorded) Text() string {
	var parts []string
	if r.Activity.Text != "" {
		parts = append(parts, r.Activity.Text)
	}
	if c := r.Card(); c != nil {
		parts = append(parts, c.Texts()...)
	}
	return strings.Join(parts, "\n")
}

// Texts returns the text of every TextBlock and "title value" of every
// fact, depth first.
func (c *AdaptiveCard) Texts() []string {
	var out []string
	var walk func([]CardElement)
	walk = func(els []CardElement) {
		for _, e := range els {
			if e.Text != "" {
				out = append(out, e.Text)
			}
			for _, f := range e.Facts {
				out = append(out, f.Title+" "+f.Value)
			}
			walk(e.Items)
			walk(e.Columns)
		}
	}
	walk(c.Body)
	return out
}

// AllActions returns every action of the card, including those in
// ActionSets and inside Action.ShowCard cards, depth first.
func (c *AdaptiveCard) AllActions() []CardAction {
	var out []CardAction
	var acts func([]CardAction)
	var els func([]CardElement)
	acts = func(as []CardAction) {
		for _, a := range as {
			out = append(out, a)
			if a.Card != nil {
				els(a.Card.Body)
				acts(a.Card.Actions)
			}
		}
	}
	els = func(es []CardElement) {
		for _, e := range es {
			acts(e.Actions)
			els(e.Items)
			els(e.Columns)
		}
	}
	els(c.Body)
	acts(c.Actions)
	return out
}

// Action returns the first action titled title, as [AdaptiveCard.AllActions]
// orders them.
func (c *AdaptiveCard) Action(title string) (CardAction, bool) {
	for _, a := range c.AllActions() {
		if a.Title == title {
			return a, true
		}
	}
	return CardAction{}, false
}
