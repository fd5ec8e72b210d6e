package teams

import (
	"context"
	"fmt"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/conversation"
)

// Sender returns the conversation.Sender of channel "teams": register it
// with the dispatcher under conversation.ChannelTeams.
func (a *Adapter) Sender() conversation.Sender { return customerSender{a} }

// StaffSender returns the conversation.Sender of channel "teams-staff":
// register it under [StaffChannel]. Without a configured staff channel
// every Send fails with Invalid.
func (a *Adapter) StaffSender() conversation.Sender { return staffSender{a} }

// customerSender delivers to employees.
type customerSender struct{ a *Adapter }

var (
	_ conversation.Sender = customerSender{}
	_ conversation.Sender = staffSender{}
)

// Send delivers o to the employee's Teams conversation, proactively, from
// the stored conversation reference. Sending an id that was sent before,
// by any replica (see the package doc), does nothing. Errors: Invalid (not a customer message of this channel),
// NotFound (no stored reference, or the connector does not know the
// conversation), Unauthorized, Unavailable (retry later: the refs store
// cannot be read, or the connector is busy; a
// conversation.RetryAfterError carries the platform's delay).
func (s customerSender) Send(ctx context.Context, o conversation.Outbound) error {
	a := s.a
	if err := conversation.CheckCustomerOutbound(o, conversation.ChannelTeams); err != nil {
		return err
	}
	if done, err := a.sent.Sent(ctx, delivered.PartKey(o.ID, 0)); err != nil || done {
		return err
	}
	ref, err := a.reference(ctx, o.ConversationKey)
	if err != nil {
		return fmt.Errorf("teams outbound %s: reference of %s: %w", o.ID, o.ConversationKey, err)
	}
	act := customerActivity(o, ref)
	// A reply names the message it answers; an agent's reply hours later
	// has none and is simply sent to the conversation (or reply chain).
	activityID, err := a.conn.sendActivity(ctx, ref.ServiceURL, ref.Conversation.ID, o.ReplyTo, act)
	if err != nil {
		return fmt.Errorf("teams outbound %s to %s: %w", o.ID, o.ConversationKey, err)
	}
	a.sent.Mark(ctx, delivered.PartKey(o.ID, 0), activityID)
	a.log.Debug("teams message sent", "conversation", o.ConversationKey, "outbound", o.ID, "kind", o.Kind)
	return nil
}

// customerActivity renders o: a card for answers, questions and anything
// with buttons or sources, markdown text otherwise.
func customerActivity(o conversation.Outbound, ref schema.ConversationReference) outActivity {
	act := outActivity{
		Type:         typeMessage,
		From:         &ref.Bot,
		Conversation: &schema.ConversationAccount{ID: ref.Conversation.ID, TenantID: ref.Conversation.TenantID},
		ReplyToID:    o.ReplyTo,
	}
	if ref.User.ID != "" {
		act.Recipient = &schema.ChannelAccount{ID: ref.User.ID}
	}
	if act.From.ID == "" {
		act.From = nil
	}
	if needsCard(o) {
		act.Summary = truncate(o.Text, 200)
		act.Attachments = []schema.Attachment{customerCard(o).attachment()}
		return act
	}
	act.Text, act.TextFormat = truncate(o.Text, maxCardTextRunes), "markdown"
	return act
}
