package whatsappgraph

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Graph's limits on messages, in characters.
const (
	maxTextBody        = 4096
	maxButtonBody      = 1024
	maxListBody        = 4096
	maxButtonID        = 256
	maxButtonTitle     = 20
	maxButtons         = 3
	maxListButton      = 20
	maxSections        = 10
	maxRows            = 10
	maxRowID           = 200
	maxRowTitle        = 24
	maxRowDescription  = 72
	maxSectionTitle    = 24
	maxContextIDLength = 256
)

var toRE = regexp.MustCompile(`^\+?[0-9]{5,20}$`)

// chars counts characters as Graph does (code points).
func chars(s string) int { return utf8.RuneCountInString(s) }

// validate checks a send request the way Graph does and returns what to
// record, or the fault to answer with (code 100).
func validate(req sendRequest) (Sent, *Fault) {
	bad := func(format string, args ...any) (Sent, *Fault) {
		f := invalid(fmt.Sprintf(format, args...))
		return Sent{}, &f
	}
	switch {
	case req.MessagingProduct != "whatsapp":
		return bad("messaging_product must be whatsapp")
	case req.RecipientType != "" && req.RecipientType != "individual":
		return bad("recipient_type must be individual")
	case !toRE.MatchString(req.To):
		return bad("to must be a phone number or WhatsApp id")
	case req.MessageID != "" || req.TypingIndicator != nil:
		return bad("message_id and typing_indicator belong to read receipts")
	}
	sent := Sent{To: strings.TrimPrefix(req.To, "+"), Type: req.Type}
	if req.Context != nil {
		if req.Context.MessageID == "" || len(req.Context.MessageID) > maxContextIDLength {
			return bad("context.message_id must be the id of a message")
		}
		sent.ReplyTo = req.Context.MessageID
	}
	switch req.Type {
	case "text":
		if req.Interactive != nil {
			return bad("a text message has no interactive object")
		}
		if req.Text == nil || strings.TrimSpace(req.Text.Body) == "" {
			return bad("text.body is required")
		}
		if n := chars(req.Text.Body); n > maxTextBody {
			return bad("text.body is %d characters; the limit is %d", n, maxTextBody)
		}
		sent.Text, sent.PreviewURL = req.Text.Body, req.Text.PreviewURL
		return sent, nil
	case "interactive":
		if req.Text != nil {
			return bad("an interactive message has no text object")
		}
		return validateInteractive(req.Interactive, sent)
	case "":
		return bad("type is required")
	}
	return bad("message type %q is not supported by this fake (text and interactive only)", req.Type)
}

func validateInteractive(it *interactive, sent Sent) (Sent, *Fault) {
	bad := func(format string, args ...any) (Sent, *Fault) {
		f := invalid(fmt.Sprintf(format, args...))
		return Sent{}, &f
	}
	if it == nil || it.Body == nil || strings.TrimSpace(it.Body.Text) == "" || it.Action == nil {
		return bad("interactive needs type, body.text and action")
	}
	sent.Interactive, sent.Text = it.Type, it.Body.Text
	ids, titles := map[string]bool{}, map[string]bool{}
	switch it.Type {
	case "button":
		if n := chars(it.Body.Text); n > maxButtonBody {
			return bad("interactive body.text is %d characters; the limit for buttons is %d", n, maxButtonBody)
		}
		a := it.Action
		if a.Button != "" || len(a.Sections) > 0 {
			return bad("reply buttons take action.buttons only")
		}
		if len(a.Buttons) < 1 || len(a.Buttons) > maxButtons {
			return bad("action.buttons must hold 1 to %d buttons, not %d", maxButtons, len(a.Buttons))
		}
		for i, b := range a.Buttons {
			switch {
			case b.Type != "reply" || b.Reply == nil:
				return bad("button %d: type must be reply with a reply object", i)
			case b.Reply.ID == "" || chars(b.Reply.ID) > maxButtonID:
				return bad("button %d: reply.id must be 1..%d characters", i, maxButtonID)
			case strings.TrimSpace(b.Reply.Title) == "" || chars(b.Reply.Title) > maxButtonTitle:
				return bad("button %d: reply.title must be 1..%d characters", i, maxButtonTitle)
			case ids[b.Reply.ID] || titles[b.Reply.Title]:
				return bad("button %d: button ids and titles must be unique", i)
			}
			ids[b.Reply.ID], titles[b.Reply.Title] = true, true
			sent.Choices = append(sent.Choices, Choice{ID: b.Reply.ID, Title: b.Reply.Title})
		}
		return sent, nil
	case "list":
		if n := chars(it.Body.Text); n > maxListBody {
			return bad("interactive body.text is %d characters; the limit for lists is %d", n, maxListBody)
		}
		a := it.Action
		if len(a.Buttons) > 0 {
			return bad("a list takes action.button and action.sections, not buttons")
		}
		if strings.TrimSpace(a.Button) == "" || chars(a.Button) > maxListButton {
			return bad("action.button must be 1..%d characters", maxListButton)
		}
		if len(a.Sections) < 1 || len(a.Sections) > maxSections {
			return bad("action.sections must hold 1 to %d sections", maxSections)
		}
		rows := 0
		for i, sec := range a.Sections {
			if len(a.Sections) > 1 && strings.TrimSpace(sec.Title) == "" {
				return bad("section %d: a title is required when there are several sections", i)
			}
			if chars(sec.Title) > maxSectionTitle {
				return bad("section %d: title must be at most %d characters", i, maxSectionTitle)
			}
			if len(sec.Rows) == 0 {
				return bad("section %d has no rows", i)
			}
			for j, r := range sec.Rows {
				rows++
				switch {
				case r.ID == "" || chars(r.ID) > maxRowID:
					return bad("section %d row %d: id must be 1..%d characters", i, j, maxRowID)
				case strings.TrimSpace(r.Title) == "" || chars(r.Title) > maxRowTitle:
					return bad("section %d row %d: title must be 1..%d characters", i, j, maxRowTitle)
				case chars(r.Description) > maxRowDescription:
					return bad("section %d row %d: description must be at most %d characters", i, j, maxRowDescription)
				case ids[r.ID]:
					return bad("section %d row %d: row ids must be unique", i, j)
				}
				ids[r.ID] = true
				sent.Choices = append(sent.Choices, Choice{ID: r.ID, Title: r.Title, Description: r.Description})
			}
		}
		if rows > maxRows {
			return bad("a list holds at most %d rows, not %d", maxRows, rows)
		}
		sent.ListButton = a.Button
		return sent, nil
	}
	return bad("interactive type %q is not supported by this fake (button and list only)", it.Type)
}
