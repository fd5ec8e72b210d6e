package conversation

import (
	"context"
	"fmt"
	"strings"
)

// assistTurns is how many recent customer messages (and consulting
// answers) make up the question an agent's suggested reply answers.
const assistTurns = 3

// SuggestReply drafts a reply for the agent working conversation key: the
// knowledge base's answer to what the customer asked most recently, with
// the consulting answers, cited. It changes nothing. An answer knowledge
// is not sure of comes back with Confident false; the agent decides.
// Errors: NotFound, Unavailable, Invalid (nothing to answer).
func (e *Engine) SuggestReply(ctx context.Context, key string) (Answer, error) {
	if e.knowledge == nil {
		return Answer{}, Errorf(Unavailable, "no knowledge base configured")
	}
	c, err := e.store.Load(ctx, key)
	if err != nil {
		return Answer{}, fmt.Errorf("suggest reply for %s: %w", key, err)
	}
	q := assistQuery(c)
	if q == "" {
		return Answer{}, Errorf(Invalid, "conversation %s has no customer question to answer", key)
	}
	return e.knowledge.Answer(ctx, Query{Text: q, Channel: c.Channel, Locale: c.User.Locale, Language: e.Language(c), History: c.History})
}

// assistQuery joins the customer's recent messages (newest last) and the
// consulting answers into one question.
func assistQuery(c *Conversation) string {
	var texts []string
	for i := len(c.History) - 1; i >= 0 && len(texts) < assistTurns; i-- {
		if t := c.History[i]; t.Role == RoleCustomer && strings.TrimSpace(t.Text) != "" {
			texts = append([]string{t.Text}, texts...)
		}
	}
	for _, s := range c.Slots {
		texts = append(texts, s.Answer)
	}
	q := strings.Join(texts, " ")
	if r := []rune(q); len(r) > MaxTextLen {
		q = string(r[len(r)-MaxTextLen:])
	}
	return q
}
