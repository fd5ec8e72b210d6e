package whatsapp_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

func TestNormalize(t *testing.T) {
	quoted := dm("M2", "")
	quoted.Message = &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
		Text:        proto.String("Is this one in stock?"),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0QUOTED"), Participant: proto.String(shopPN.String())},
	}}
	doc := dm("M3", "")
	doc.Message = &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		FileName: proto.String("invoice-1042.pdf"), Mimetype: proto.String("application/pdf"),
		FileLength: proto.Uint64(48213), Caption: proto.String("My invoice"), DirectPath: proto.String("/v/t62/doc"),
	}}
	img := dm("M4", "")
	img.Message = &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(120034), DirectPath: proto.String("/v/t62/img"),
	}}
	lid := textEvent(shopperLID, shopperLID, "M5", "Where is my parcel?")
	lid.Info.SenderAlt = shopperPN
	lid.Info.AddressingMode = types.AddressingModeLID
	lidOnly := textEvent(shopperLID, shopperLID, "M6", "Hello")
	mapped := textEvent(otherPN, otherPN, "M7", "Hi there")
	long := dm("M8", strings.Repeat("a", conversation.MaxTextLen+50))
	group := textEvent(groupJID, shopperPN, "M9", "Question for the shop")

	lidKey := "whatsapp:" + shopperLID.User
	pnKey := "whatsapp:" + shopperPN.User
	sam := conversation.Identity{ID: shopperPN.String(), DisplayName: "Sam Shopper", Phone: "+" + shopperPN.User, Locale: "de"} // +49: a German prior
	samLID := conversation.Identity{ID: shopperLID.String(), DisplayName: "Sam Shopper"}
	otherLID := types.NewJID("999999999999999", types.HiddenUserServer)

	tests := []struct {
		name   string
		cfg    whatsapp.Config
		evt    *events.Message
		want   conversation.Message
		wantTL int // rune length of the text, when the text is not compared
	}{
		{name: "plain text", evt: dm("M1", "How long does shipping take?"), want: conversation.Message{
			ConversationKey: pnKey, PlatformMsgID: "M1", DedupeKey: "wa:" + shopperPN.User + ":M1", User: sam,
			Text: "How long does shipping take?"}},
		{name: "quoted reply", evt: quoted, want: conversation.Message{
			ConversationKey: pnKey, PlatformMsgID: "M2", DedupeKey: "wa:" + shopperPN.User + ":M2", User: sam,
			ThreadKey: "3EB0QUOTED", Text: "Is this one in stock?"}},
		{name: "document", evt: doc, want: conversation.Message{
			ConversationKey: pnKey, PlatformMsgID: "M3", DedupeKey: "wa:" + shopperPN.User + ":M3", User: sam,
			Text: "My invoice", Attachments: []conversation.Attachment{{Name: "invoice-1042.pdf", MIMEType: "application/pdf",
				Size: 48213, URL: "whatsapp-media:" + shopperPN.User + "/M3"}}}},
		{name: "image", evt: img, want: conversation.Message{
			ConversationKey: pnKey, PlatformMsgID: "M4", DedupeKey: "wa:" + shopperPN.User + ":M4", User: sam,
			Attachments: []conversation.Attachment{{Name: "image.jpg", MIMEType: "image/jpeg", Size: 120034,
				URL: "whatsapp-media:" + shopperPN.User + "/M4"}}}},
		{name: "lid sender with phone alt", evt: lid, want: conversation.Message{
			ConversationKey: lidKey, PlatformMsgID: "M5", DedupeKey: "wa:" + shopperLID.User + ":M5", User: withPhone(samLID, shopperPN),
			Text: "Where is my parcel?"}},
		{name: "lid sender without phone", evt: lidOnly, want: conversation.Message{
			ConversationKey: lidKey, PlatformMsgID: "M6", DedupeKey: "wa:" + shopperLID.User + ":M6", User: samLID,
			Text: "Hello"}},
		{name: "phone sender whose lid the store knows", evt: mapped, want: conversation.Message{
			ConversationKey: "whatsapp:" + otherLID.User, PlatformMsgID: "M7", DedupeKey: "wa:" + otherLID.User + ":M7",
			User: conversation.Identity{ID: otherLID.String(), DisplayName: "Sam Shopper", Phone: "+" + otherPN.User, Locale: "de"}, Text: "Hi there"}},
		{name: "overlong text is cut", evt: long, wantTL: conversation.MaxTextLen, want: conversation.Message{
			ConversationKey: pnKey, PlatformMsgID: "M8", DedupeKey: "wa:" + shopperPN.User + ":M8", User: sam}},
		{name: "group when configured", cfg: whatsapp.Config{Groups: true}, evt: group, want: conversation.Message{
			ConversationKey: "whatsapp:" + groupJID.User, PlatformMsgID: "M9", DedupeKey: "wa:" + groupJID.User + ":M9",
			User: sam, Text: "Question for the shop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, cli, _ := newAdapter(t, tt.cfg, newRecordingHandler())
			cli.lidToPN[otherLID] = otherPN
			got, why := whatsapp.Normalize(context.Background(), a, tt.evt)
			if why != "" {
				t.Fatalf("skipped: %s", why)
			}
			want := tt.want
			want.Channel = conversation.ChannelWhatsApp
			want.SentAt = fixtureTime
			if got.ReceivedAt.IsZero() {
				t.Error("ReceivedAt is not set")
			}
			got.ReceivedAt = time.Time{}
			if tt.wantTL > 0 {
				if n := len([]rune(got.Text)); n != tt.wantTL {
					t.Errorf("text length = %d, want %d", n, tt.wantTL)
				}
				got.Text = ""
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestNormalizeSkips(t *testing.T) {
	own := dm("S1", "note to self")
	own.Info.IsFromMe = true
	status := textEvent(types.StatusBroadcastJID, shopperPN, "S2", "my status")
	group := textEvent(groupJID, shopperPN, "S3", "hello group")
	revoke := dm("S4", "")
	revoke.Message = &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}
	reaction := dm("S5", "")
	reaction.Message = &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}
	edit := dm("S6", "edited text")
	edit.IsEdit = true
	old := dm("S7", "sent while we were offline")
	old.Info.Timestamp = fixtureTime.Add(-25 * time.Hour)
	sticker := dm("S8", "")
	sticker.Message = &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}
	blank := dm("S9", "   ")
	foreignVote := dm("S10", "")
	foreignVote.Message = &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String("3EB0SOMEONEELSE")}}}
	pollCreate := dm("S11", "")
	pollCreate.Message = &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}

	tests := []struct {
		name string
		evt  *events.Message
		want string
	}{
		{"own message", own, "own message"},
		{"status broadcast", status, "status or broadcast"},
		{"group by default", group, "group chat"},
		{"revoke", revoke, "protocol, reaction or edit"},
		{"reaction", reaction, "protocol, reaction or edit"},
		{"edit", edit, "protocol, reaction or edit"},
		{"poll creation", pollCreate, "protocol, reaction or edit"},
		{"old offline message", old, "older than max backlog age"},
		{"sticker only", sticker, "no text, attachment or choice"},
		{"blank text", blank, "no text, attachment or choice"},
		{"vote on a poll that is not ours", foreignVote, "poll vote not on a current choice poll"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := newAdapter(t, whatsapp.Config{}, newRecordingHandler())
			if m, why := whatsapp.Normalize(context.Background(), a, tt.evt); why != tt.want {
				t.Errorf("skip = %q, want %q (message %+v)", why, tt.want, m)
			}
		})
	}
}

func withPhone(id conversation.Identity, pn types.JID) conversation.Identity {
	id.Phone = "+" + pn.User
	id.Locale = conversation.PhoneLocale(id.Phone)
	return id
}
