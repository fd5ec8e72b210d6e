package whatsapp_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/adapters/whatsapp"
)

// FuzzNormalize maps arbitrary whatsmeow message events to engine
// messages: the message is the protobuf WhatsApp delivers (decoded from
// the fuzzed bytes, as whatsmeow decodes it after decryption), the chat
// and sender addresses are fuzzed JIDs. Normalising never panics; a
// message it keeps validates and lives under a "whatsapp:" key; one it
// drops names the reason.
func FuzzNormalize(f *testing.F) {
	seeds := []*waE2E.Message{
		{Conversation: proto.String("Wie lange dauert der Versand?")},
		{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("Is this one in stock?"),
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0QUOTED"), Participant: proto.String(shopPN.String())}}},
		{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("invoice-1042.pdf"), Mimetype: proto.String("application/pdf"),
			FileLength: proto.Uint64(48213), Caption: proto.String("My invoice"), DirectPath: proto.String("/v/t62/doc")}},
		{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(1 << 63), DirectPath: proto.String("/v/t62/img")}},
		{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}},
		{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}},
		{PollUpdateMessage: &waE2E.PollUpdateMessage{PollCreationMessageKey: &waCommon.MessageKey{ID: proto.String("3EB0SOMEONEELSE")}}},
		{StickerMessage: &waE2E.StickerMessage{}},
		{Conversation: proto.String(strings.Repeat("ä", 5000))},
	}
	for i, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		chat, sender := shopperPN.String(), shopperPN.String()
		switch i % 3 {
		case 1:
			chat, sender = shopperLID.String(), shopperLID.String()
		case 2:
			chat = groupJID.String()
		}
		f.Add(b, chat, sender, shopperPN.String(), "3EB0"+string(rune('A'+i)), "Sam Shopper", i == 4)
	}
	f.Add([]byte{0xff}, "status@broadcast", "x@s.whatsapp.net", "", "ID", "", false)
	f.Add([]byte{}, "123@newsletter", "1@bot", "1:2@lid", "", "\x00", false)
	cli := newFakeClient()
	cli.lidToPN[shopperLID] = shopperPN
	a, err := whatsapp.NewWithClient(whatsapp.Config{Groups: true, TypingDelay: -1}, cli, newRecordingHandler(), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, chat, sender, alt, id, pushName string, fromMe bool) {
		if len(raw) > 64<<10 || len(chat)+len(sender)+len(alt)+len(id)+len(pushName) > 4<<10 {
			return
		}
		var msg waE2E.Message
		if proto.Unmarshal(raw, &msg) != nil {
			return // whatsmeow drops what does not decode
		}
		jid := func(s string) types.JID {
			j, err := types.ParseJID(s)
			if err != nil {
				return types.EmptyJID
			}
			return j
		}
		e := &events.Message{
			Info: types.MessageInfo{
				MessageSource: types.MessageSource{Chat: jid(chat), Sender: jid(sender), SenderAlt: jid(alt), IsFromMe: fromMe},
				ID:            id, PushName: pushName, Timestamp: time.Now(),
			},
			Message: &msg,
		}
		e.Info.IsGroup = e.Info.Chat.Server == types.GroupServer
		m, why := whatsapp.Normalize(context.Background(), a, e)
		if why != "" {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("kept a message that does not validate (%v): %+v", err, m)
		}
		if !strings.HasPrefix(m.ConversationKey, "whatsapp:") || m.PlatformMsgID != id {
			t.Fatalf("kept a message under key %q with id %q, want a whatsapp: key and id %q", m.ConversationKey, m.PlatformMsgID, id)
		}
	})
}
