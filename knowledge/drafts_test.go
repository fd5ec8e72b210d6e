package knowledge_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

func TestDraftCardFromResolvedTicket(t *testing.T) {
	c := &conversation.Conversation{Key: "webchat:s", Ticket: "IT-1042", History: []conversation.Turn{
		{Role: conversation.RoleCustomer, Text: "hi"},
		{Role: conversation.RoleCustomer, Text: "The plotter on floor 3 prints only blank pages"},
		{Role: conversation.RoleBot, Text: "I'm not sure…", Kind: conversation.KindNotSure},
		{Role: conversation.RoleCustomer, Text: "talk to a person"},
		{Role: conversation.RoleBot, Text: "ticket IT-1042", Kind: conversation.KindHandoff},
		{Role: conversation.RoleCustomer, Text: "are you there? it is still blank"},
		{Role: conversation.RoleAgent, Text: "Checked the toner, it was empty", Kind: conversation.KindNote, Internal: true},
		{Role: conversation.RoleAgent, Text: "Replace the toner cartridge: open the front door and pull the blue lever.", Kind: conversation.KindAgent},
	}}
	card, ok := knowledge.DraftCard(c)
	if !ok {
		t.Fatal("no draft from a resolved ticket with an agent reply")
	}
	if card.ID != "it-1042" || len(card.Questions) != 2 || card.Questions[0] != "The plotter on floor 3 prints only blank pages" ||
		!strings.HasPrefix(card.Answer, "Replace the toner") || strings.Contains(card.Answer, "Checked the toner") {
		t.Errorf("draft %+v: want the pre-handoff questions and only the agent's reply (no note)", card)
	}
	dir := t.TempDir()
	path, err := knowledge.WriteDraft(dir, card)
	if err != nil {
		t.Fatal(err)
	}
	// Drafts are not ingested; renamed, they are a valid FAQ file.
	docs, err := knowledge.LoadDir(context.Background(), dir)
	if err != nil || len(docs) != 0 {
		t.Fatalf("LoadDir over a draft: %d docs, %v; want the draft skipped", len(docs), err)
	}
	published := strings.TrimSuffix(path, ".draft")
	if err := os.Rename(path, published); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := knowledge.ParseFAQ(filepath.Base(published), raw)
	if err != nil || len(doc.Chunks) != 2 {
		t.Fatalf("published draft: %d chunks, %v; want one card with two phrasings", len(doc.Chunks), err)
	}
	for _, c := range []*conversation.Conversation{nil, {Ticket: ""}, {Ticket: "IT-1", History: []conversation.Turn{{Role: conversation.RoleCustomer, Text: "a real question here"}}}} {
		if _, ok := knowledge.DraftCard(c); ok {
			t.Errorf("draft from %+v, want none", c)
		}
	}
}
