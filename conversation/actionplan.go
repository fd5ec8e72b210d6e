package conversation

import (
	"context"
	"strings"
)

// ActionPlanner is an optional port: a model that reads a message the
// example phrasings did not route and may propose an action with
// arguments (an LLM offered the actions as tools; knowledge/llm has one).
// The engine treats a proposal as untrusted: it validates every argument
// as if the customer had typed it, takes identity parameters only from
// the channel, and refuses a proposal whose values the customer never
// gave (see EventAction outcome "refused").
type ActionPlanner interface {
	// Plan returns the proposed action, or a zero ActionProposal for none.
	// Errors mean "no proposal"; the turn goes on to knowledge.
	Plan(ctx context.Context, r PlanRequest) (ActionProposal, error)
}

// PlanRequest is what a planner sees.
type PlanRequest struct {
	Text     string
	Language string
	History  []Turn       // read-only
	Actions  []ActionSpec // read-only: the actions it may propose
}

// ActionProposal is a planner's proposed call.
type ActionProposal struct {
	Action string
	Args   map[string]string
}

// proposed starts spec from a planner's proposal, or refuses it.
func (t *turn) proposed(ctx context.Context, spec *ActionSpec, prop ActionProposal) error {
	lang := t.actionLanguage()
	p := &PendingAction{Name: spec.Name, Params: map[string]string{}, Lang: lang}
	t.conv.PendingAction = p
	said := strings.ToLower(t.customerSaid())
	for name, raw := range prop.Args {
		pp := spec.param(name)
		if pp == nil || strings.TrimSpace(raw) == "" {
			continue
		}
		if pp.Type == ParamIdentity {
			if pp.identityValue(t.msg.Channel, t.msg.User) != raw {
				return t.refuse(p, spec)
			}
			continue
		}
		v, ok := pp.ParseValue(raw)
		if !ok {
			continue // asked for again
		}
		verified := pp.Type == ParamEmail && strings.EqualFold(v, t.msg.User.Email)
		if pp.Type != ParamEnum && !verified && !strings.Contains(said, strings.ToLower(strings.TrimSpace(raw))) && !strings.Contains(said, strings.ToLower(v)) {
			// The model supplied a value the customer never gave.
			return t.refuse(p, spec)
		}
		p.Params[name] = v
	}
	t.conv.Consulting = nil
	t.setPhase(PhaseBot)
	return t.advance(ctx, spec, p)
}

func (t *turn) refuse(p *PendingAction, spec *ActionSpec) error {
	t.endAction(p, "refused", spec)
	t.reply(KindNotSure, actionTexts(t.e.actions.cfg.Texts, p.Lang).Refused, nil, []Button{t.humanButton()})
	return nil
}

// customerSaid joins what the customer wrote in this conversation.
func (t *turn) customerSaid() string {
	var b strings.Builder
	for _, h := range t.conv.History {
		if h.Role == RoleCustomer {
			b.WriteString(h.Text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
