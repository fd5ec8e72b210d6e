package knowledge

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
)

// DraftSuffix ends the file name of a draft FAQ card. LoadDir skips such
// files; a reviewer edits the draft and renames it to *.faq.yaml to
// publish it.
const DraftSuffix = ".faq.yaml.draft"

// maxDraftQuestions caps the phrasings a draft takes from a conversation.
const maxDraftQuestions = 3

// DraftCard turns a resolved ticket's conversation into a draft FAQ card,
// so the answer an agent had to give becomes knowledge: the customer's
// questions before the handoff are its phrasings, the agent's replies its
// answer. ok is false when the conversation has no ticket, no question or
// no agent reply.
func DraftCard(c *conversation.Conversation) (card Card, ok bool) {
	if c == nil || c.Ticket == "" {
		return Card{}, false
	}
	var questions, answers []string
	handedOff := false
	for _, t := range c.History {
		switch {
		case t.Kind == conversation.KindHandoff:
			handedOff = true
		case t.Role == conversation.RoleCustomer && !handedOff && len(strings.Fields(t.Text)) >= 3:
			questions = append(questions, strings.TrimSpace(t.Text))
		case t.Role == conversation.RoleAgent && t.Kind == conversation.KindAgent && !t.Internal:
			answers = append(answers, strings.TrimSpace(t.Text))
		}
	}
	if len(questions) > maxDraftQuestions {
		questions = questions[len(questions)-maxDraftQuestions:]
	}
	if len(questions) == 0 || len(answers) == 0 {
		return Card{}, false
	}
	return Card{ID: draftID(c.Ticket), Questions: questions, Answer: strings.Join(answers, "\n\n"), Tags: []string{"draft", "from-ticket"}}, true
}

var draftIDRE = regexp.MustCompile(`[^a-z0-9-]+`)

func draftID(ticket string) string {
	return strings.Trim(draftIDRE.ReplaceAllString(strings.ToLower(ticket), "-"), "-")
}

// WriteDraft writes card into dir as <card id>.faq.yaml.draft, in the FAQ
// file format, and returns the path. An existing draft of the same ticket
// is replaced. Errors: Invalid (a card without id), Internal (the write).
func WriteDraft(dir string, card Card) (string, error) {
	if card.ID == "" {
		return "", conversation.Errorf(conversation.Invalid, "draft card has no id")
	}
	doc := struct {
		Title string `yaml:"title"`
		Cards []Card `yaml:"cards"`
	}{Title: "Draft from ticket " + strings.ToUpper(card.ID), Cards: []Card{card}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", conversation.Errorf(conversation.Internal, "encode draft: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", conversation.Errorf(conversation.Internal, "draft folder: %w", err)
	}
	path := filepath.Join(dir, card.ID+DraftSuffix)
	head := fmt.Sprintf("# Draft FAQ card written when ticket %s was resolved.\n# Review it, then rename this file to %s.faq.yaml to publish it.\n", strings.ToUpper(card.ID), card.ID)
	if err := os.WriteFile(path, append([]byte(head), b...), 0o640); err != nil {
		return "", conversation.Errorf(conversation.Internal, "write draft: %w", err)
	}
	return path, nil
}
