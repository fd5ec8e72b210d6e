package conversation_test

import (
	"testing"

	"github.com/tier0/tier0/conversation"
)

func TestCheckCustomerOutbound(t *testing.T) {
	ok := conversation.Outbound{ID: "o_1", Channel: conversation.ChannelSlack, Kind: conversation.KindAnswer, Text: "hi"}
	tests := []struct {
		name string
		edit func(o *conversation.Outbound)
		ok   bool
	}{
		{"answer", func(*conversation.Outbound) {}, true},
		{"agent reply", func(o *conversation.Outbound) { o.Kind = conversation.KindAgent }, true},
		{"no id", func(o *conversation.Outbound) { o.ID = "" }, false},
		{"other channel", func(o *conversation.Outbound) { o.Channel = conversation.ChannelTeams }, false},
		{"staff message", func(o *conversation.Outbound) { o.Kind = conversation.KindStaff }, false},
		{"internal note", func(o *conversation.Outbound) { o.Kind = conversation.KindNote }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			err := conversation.CheckCustomerOutbound(o, conversation.ChannelSlack)
			if tc.ok && err != nil {
				t.Fatalf("CheckCustomerOutbound = %v, want nil", err)
			}
			if !tc.ok && conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("CheckCustomerOutbound = %v, want an Invalid error", err)
			}
		})
	}
}
