package teams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/infracloudio/msbotbuilder-go/schema"
	"github.com/tier0/tier0/adapters/delivered"
	"github.com/tier0/tier0/adapters/httpjson"
	"github.com/tier0/tier0/conversation"
)

// staffSender delivers to the staff channel.
type staffSender struct{ a *Adapter }

// Send posts o into the ticket's reply chain in the staff channel: the
// handoff card (and any message of a conversation that has no chain yet)
// opens a new chain; other messages are posted into the existing one as
// plain text. Sending an id that was sent before (by any replica: see the
// package doc), or a handoff card that already opened the stored chain,
// does nothing. Errors: Invalid (no staff channel configured, or not a
// staff message), NotFound, Unauthorized, Unavailable (retry later).
func (s staffSender) Send(ctx context.Context, o conversation.Outbound) error {
	a := s.a
	switch {
	case a.cfg.StaffChannelID == "":
		return conversation.Errorf(conversation.Invalid, "outbound %s: no Teams staff channel is configured", o.ID)
	case o.ID == "":
		return conversation.Errorf(conversation.Invalid, "teams staff outbound has no id")
	case o.Channel != StaffChannel:
		return conversation.Errorf(conversation.Invalid, "outbound %s is for channel %q, not %s", o.ID, o.Channel, StaffChannel)
	case !conversation.Printable(o.ConversationKey, conversation.MaxKeyLen):
		return conversation.Errorf(conversation.Invalid, "outbound %s has no valid conversation key", o.ID)
	}
	if done, err := a.sent.Sent(ctx, delivered.PartKey(o.ID, 0)); err != nil || done {
		return err
	}
	var th staffThread
	err := a.getJSON(ctx, nsStaff, o.ConversationKey, &th)
	found := err == nil
	if err != nil && conversation.ErrorCode(err) != conversation.NotFound {
		return fmt.Errorf("teams staff outbound %s: thread of %s: %w", o.ID, o.ConversationKey, err)
	}
	var activityID string
	switch {
	case found && th.HandoffID == o.ID:
		// The card went out before (a retry after a crash).
		activityID = th.ActivityID
	case o.Kind == conversation.KindHandoff || !found:
		if th, err = a.openChain(ctx, o); err != nil {
			return fmt.Errorf("teams staff outbound %s: open chain for %s: %w", o.ID, o.ConversationKey, err)
		}
		activityID = th.ActivityID
		a.log.Debug("teams staff chain opened", "conversation", o.ConversationKey, "outbound", o.ID)
	default:
		act := outActivity{Type: typeMessage, Text: truncate(o.Text, maxCardTextRunes), TextFormat: "plain"}
		if activityID, err = a.conn.sendActivity(ctx, th.ServiceURL, th.ConversationID, "", act); err != nil {
			return fmt.Errorf("teams staff outbound %s to the chain of %s: %w", o.ID, o.ConversationKey, err)
		}
	}
	a.sent.Mark(ctx, delivered.PartKey(o.ID, 0), activityID)
	return nil
}

// createdChains remembers chains whose references could not be stored, by
// outbound id, so a retry stores them instead of opening another chain.
type createdChains struct {
	mu sync.Mutex
	m  map[string]staffThread
}

const maxCreatedChains = 1024

func (c *createdChains) take(id string) (staffThread, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	th, ok := c.m[id]
	return th, ok
}

func (c *createdChains) put(id string, th staffThread) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]staffThread)
	}
	if len(c.m) < maxCreatedChains {
		c.m[id] = th
	}
}

func (c *createdChains) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// openChain posts the handoff card as a new reply chain in the staff
// channel and stores the chain both ways (chain → conversation first, so a
// click on the card finds its conversation once the forward ref exists).
func (a *Adapter) openChain(ctx context.Context, o conversation.Outbound) (staffThread, error) {
	th, ok := a.chains.take(o.ID)
	if !ok {
		card := staffCard(o.ConversationKey, o.Text)
		p := conversationParameters{
			IsGroup:  true,
			Bot:      &schema.ChannelAccount{ID: "28:" + a.cfg.AppID},
			TenantID: a.cfg.StaffTenantID,
			Activity: &outActivity{Type: typeMessage, Summary: truncate(firstLine(o.Text), 200), Attachments: []schema.Attachment{card.attachment()}},
			ChannelData: &channelData{
				Channel: &idName{ID: a.cfg.StaffChannelID},
				Tenant:  &idName{ID: a.cfg.StaffTenantID},
			},
		}
		res, err := a.conn.createConversation(ctx, a.cfg.StaffServiceURL, p)
		if err != nil {
			return staffThread{}, err
		}
		th = staffThread{ServiceURL: a.cfg.StaffServiceURL, ConversationID: res.ID, ActivityID: res.ActivityID, HandoffID: o.ID}
		switch {
		case strings.Contains(th.ConversationID, messageIDMarker):
			if th.ActivityID == "" {
				_, th.ActivityID, _ = strings.Cut(th.ConversationID, messageIDMarker)
			}
		case th.ActivityID != "":
			th.ConversationID = a.cfg.StaffChannelID + messageIDMarker + th.ActivityID
		default:
			return staffThread{}, conversation.Errorf(conversation.Internal, "the connector created a conversation without an id")
		}
		if res.ServiceURL != "" && safeEndpoint(res.ServiceURL) {
			th.ServiceURL = res.ServiceURL
		}
	}
	if err := a.refs.PutRef(ctx, nsStaffChain, refKey(th.ConversationID), o.ConversationKey, a.cfg.RefTTL); err != nil {
		a.chains.put(o.ID, th)
		return staffThread{}, err
	}
	if err := a.putJSON(ctx, nsStaff, o.ConversationKey, th); err != nil {
		a.chains.put(o.ID, th)
		return staffThread{}, err
	}
	a.chains.forget(o.ID)
	return th, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// isStaff reports whether act was posted in the staff channel.
func (a *Adapter) isStaff(act *inActivity) bool {
	if a.cfg.StaffChannelID == "" {
		return false
	}
	base, _, _ := strings.Cut(act.Conversation.ID, messageIDMarker)
	return base == a.cfg.StaffChannelID || act.channelID() == a.cfg.StaffChannelID
}

// staffActions are the agent actions the card buttons may ask for.
var staffActions = map[string]conversation.AgentActionKind{
	string(conversation.AgentClaim):    conversation.AgentClaim,
	string(conversation.AgentResolve):  conversation.AgentResolve,
	string(conversation.AgentHandBack): conversation.AgentHandBack,
	string(conversation.AgentEscalate): conversation.AgentEscalate,
	string(conversation.AgentPriority): conversation.AgentPriority,
}

// errOldChain: the chain once belonged to the conversation, which has a
// newer ticket chain now.
var errOldChain = errors.New("older ticket chain")

// chainOwner returns the conversation whose current ticket chain is
// chain. Errors: NotFound (not a ticket chain), errOldChain, the store's.
func (a *Adapter) chainOwner(ctx context.Context, chain string) (string, error) {
	key, err := a.refs.GetRef(ctx, nsStaffChain, refKey(chain))
	if err != nil {
		return "", err
	}
	var th staffThread
	if err := a.getJSON(ctx, nsStaff, key, &th); err != nil {
		return "", err
	}
	if th.ConversationID != chain {
		return "", errOldChain
	}
	return key, nil
}

// staffInput turns an agent's message or button click in a ticket chain
// into an AgentAction. Rejections are answered in the chain; the HTTP
// answer is 202 when the engine took the action, 200 otherwise.
func (a *Adapter) staffInput(ctx context.Context, w http.ResponseWriter, r *http.Request, act *inActivity) {
	if a.cfg.StaffTenantID != "" && act.tenant() != a.cfg.StaffTenantID {
		a.fail(w, r, &httpjson.Error{Status: http.StatusForbidden, Code: "forbidden", Msg: "the staff channel belongs to another tenant"})
		return
	}
	agent := identityOf(act.From, act.Locale, act.tenant())
	if agent.ID == "" {
		a.fail(w, r, &httpjson.Error{Status: http.StatusBadRequest, Code: "invalid_activity", Msg: "the message has no sender"})
		return
	}
	agent.ID = "teams:" + agent.ID
	chain := act.Conversation.ID
	action := conversation.AgentAction{DedupeKey: boundedID(act.ID), Agent: agent}
	d, clicked := submitted(act.Value)
	if clicked {
		kind, ok := staffActions[d.Action]
		if !ok {
			a.replyInChain(act, "That button is not one of the ticket actions.")
			httpjson.Write(w, http.StatusOK, status{"ignored"})
			return
		}
		action.Kind, action.Text = kind, d.Value
	} else {
		text := cleanText(act.Text, act.Entities, act.Recipient)
		if text == "" {
			httpjson.Write(w, http.StatusOK, status{"ignored"})
			return
		}
		action.Kind, action.Text = conversation.AgentNote, text
		if rest, ok := cutPrefixFold(text, "reply:"); ok {
			action.Kind, action.Text = conversation.AgentReply, strings.TrimSpace(rest)
		}
	}
	// Chatter that does not address the bot gets no answer from it (with
	// the resource-specific permission it sees every channel message).
	addressed := clicked || mentionsBot(act)
	key, err := a.chainOwner(ctx, chain)
	switch {
	case errors.Is(err, errOldChain):
		if addressed {
			a.replyInChain(act, "This ticket thread is closed: the conversation has a newer ticket thread.")
		}
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	case conversation.ErrorCode(err) == conversation.NotFound:
		if addressed {
			a.replyInChain(act, "This thread is not a ticket. Tickets open here when the assistant hands a conversation over.")
		}
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	case err != nil:
		a.fail(w, r, &httpjson.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Msg: "the ticket could not be looked up; try again", Err: err})
		return
	}
	// A button's data must name the conversation this chain belongs to: a
	// forged or copied submit cannot act on any other conversation.
	if clicked && d.Key != key {
		a.log.Info("teams staff action refused: the button does not belong to this chain", "conversation", key)
		a.replyInChain(act, "That button does not belong to this ticket thread.")
		httpjson.Write(w, http.StatusOK, status{"ignored"})
		return
	}
	action.ConversationKey = key
	res, err, herr := a.commit(r.Context(), func(ctx context.Context) (conversation.Result, error) { return a.eng.Act(ctx, action) })
	if herr != nil {
		a.fail(w, r, herr)
		return
	}
	if err != nil {
		switch code := conversation.ErrorCode(err); {
		case transient(err):
			// A lease held elsewhere or a store hiccup: the Bot
			// Framework's retry acts, instead of the action being
			// refused to the agent.
			a.fail(w, r, engineError("teams staff action", err))
		case code == conversation.Invalid, code == conversation.NotFound, code == conversation.Conflict:
			a.log.Debug("teams staff action rejected", "conversation", key, "kind", action.Kind, "err", err)
			a.replyInChain(act, "Could not "+verb(action)+": "+conversation.ErrorMessage(err))
			httpjson.Write(w, http.StatusOK, status{"rejected"})
		default:
			a.fail(w, r, engineError("teams staff action", err))
		}
		return
	}
	if !res.Duplicate && addressed {
		if msg := confirmation(action); msg != "" {
			a.replyInChain(act, msg)
		}
	}
	a.log.Debug("teams staff action accepted", "conversation", key, "kind", action.Kind, "duplicate", res.Duplicate)
	httpjson.Write(w, http.StatusAccepted, status{"accepted"})
}

// replyInChain posts a short plain-text note into the chain act came
// from, in the background.
func (a *Adapter) replyInChain(act *inActivity, text string) {
	serviceURL, conv := act.ServiceURL, act.Conversation.ID
	a.background("staff chain reply", func(ctx context.Context) error {
		_, err := a.conn.sendActivity(ctx, serviceURL, conv, "", outActivity{Type: typeMessage, Text: text, TextFormat: "plain"})
		return err
	})
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// verb names an action for an error reply ("Could not <verb>: …").
func verb(a conversation.AgentAction) string {
	switch a.Kind {
	case conversation.AgentClaim:
		return "claim the ticket"
	case conversation.AgentReply:
		return "send the reply"
	case conversation.AgentNote:
		return "save the note"
	case conversation.AgentResolve:
		return "resolve the ticket"
	case conversation.AgentHandBack:
		return "hand the conversation back"
	case conversation.AgentEscalate:
		return "escalate the ticket"
	case conversation.AgentPriority:
		return "set the priority"
	}
	return "do that"
}

// confirmation is the chain's one-line record of a button action or of a
// note that @mentioned the bot (perhaps a reply without "reply:");
// replies need none (the agent's message is in the chain).
func confirmation(a conversation.AgentAction) string {
	name := a.Agent.DisplayName
	if name == "" {
		name = a.Agent.ID
	}
	switch a.Kind {
	case conversation.AgentClaim:
		return name + " claimed the ticket."
	case conversation.AgentResolve:
		return name + " resolved the ticket."
	case conversation.AgentHandBack:
		return name + " handed the conversation back to the assistant."
	case conversation.AgentEscalate:
		return name + " escalated the ticket."
	case conversation.AgentPriority:
		return name + " set the priority to " + a.Text + "."
	case conversation.AgentNote:
		return "Internal note saved; the employee does not see it. Start a message with \"reply:\" to answer them."
	}
	return ""
}
