package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge/openai"
)

// ToolPlanner offers the engine's actions to a chat model as
// OpenAI-style tools and turns the model's tool call into an
// [conversation.ActionProposal]. It trusts nothing the model says: the
// engine validates the proposal (conversation.ActionPlanner). Identity
// parameters are not offered; the model cannot name who an action is for.
type ToolPlanner struct {
	chat    Chat
	model   string
	timeout time.Duration
}

var _ conversation.ActionPlanner = (*ToolPlanner)(nil)

// ToolsConfig tunes a ToolPlanner. Zero values take the defaults.
type ToolsConfig struct {
	Model   string        // overrides the chat client's model
	Timeout time.Duration // per proposal (default 5s); after it the turn goes on without one
}

// NewToolPlanner returns a planner over chat. Errors: Invalid.
func NewToolPlanner(chat Chat, cfg ToolsConfig) (*ToolPlanner, error) {
	if chat == nil {
		return nil, conversation.Errorf(conversation.Invalid, "llm tools: no chat client")
	}
	if cfg.Timeout < 0 {
		return nil, conversation.Errorf(conversation.Invalid, "llm tools: negative timeout")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &ToolPlanner{chat: chat, model: cfg.Model, timeout: cfg.Timeout}, nil
}

// maxToolHistory is how many recent turns the model sees.
const maxToolHistory = 6

// Plan asks the model whether the message calls for one of r.Actions.
func (p *ToolPlanner) Plan(ctx context.Context, r conversation.PlanRequest) (conversation.ActionProposal, error) {
	if len(r.Actions) == 0 {
		return conversation.ActionProposal{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	tools := make([]openai.Tool, 0, len(r.Actions))
	for _, a := range r.Actions {
		tools = append(tools, Tool(a, r.Language))
	}
	msgs := []openai.Message{{Role: openai.RoleSystem, Content: "You route a help desk customer's message to one of the tools when it asks for what a tool does, " +
		"with only the argument values the customer wrote; leave out what they did not give. When no tool fits, answer with an empty message. " +
		"The conversation's language is " + strconv.Quote(r.Language) + "."}}
	h := r.History
	if len(h) > maxToolHistory {
		h = h[len(h)-maxToolHistory:]
	}
	for _, t := range h {
		switch t.Role {
		case conversation.RoleCustomer:
			msgs = append(msgs, openai.Message{Role: openai.RoleUser, Content: t.Text})
		case conversation.RoleBot, conversation.RoleAgent:
			msgs = append(msgs, openai.Message{Role: openai.RoleAssistant, Content: t.Text})
		}
	}
	if len(h) == 0 || h[len(h)-1].Text != r.Text {
		msgs = append(msgs, openai.Message{Role: openai.RoleUser, Content: r.Text})
	}
	resp, err := p.chat.Complete(ctx, openai.ChatRequest{Model: p.model, Messages: msgs, Tools: tools})
	if err != nil {
		return conversation.ActionProposal{}, fmt.Errorf("llm tools: %w", err)
	}
	for _, tc := range resp.ToolCalls {
		args, err := ParseArguments(tc.Arguments)
		if err != nil {
			return conversation.ActionProposal{}, fmt.Errorf("llm tools: call of %q: %w", tc.Name, err)
		}
		return conversation.ActionProposal{Action: tc.Name, Args: args}, nil
	}
	return conversation.ActionProposal{}, nil
}

// Tool describes action a as a function for the model, in lang: one
// string property per parameter (enums with their values), identity
// parameters left out.
func Tool(a conversation.ActionSpec, lang string) openai.Tool {
	props := map[string]any{}
	for _, p := range a.Params {
		if p.Type == conversation.ParamIdentity {
			continue
		}
		prop := map[string]any{"type": "string", "description": strings.TrimSpace(string(p.Type) + ": " + pickText(p.Ask, lang))}
		if len(p.Choices) > 0 {
			var vals []string
			for _, c := range p.Choices {
				vals = append(vals, c.Value)
			}
			prop["enum"] = vals
		}
		props[p.Name] = prop
	}
	desc := pickText(a.Description, lang)
	if desc == "" {
		desc = a.Name
	}
	return openai.Tool{Name: a.Name, Description: desc, Parameters: map[string]any{"type": "object", "properties": props}}
}

// ParseArguments reads a tool call's arguments: a JSON object whose
// values are strings, numbers or booleans (others are dropped), at most
// 4 KB. Errors: not such an object.
func ParseArguments(raw string) (map[string]string, error) {
	if len(raw) > 4096 {
		return nil, fmt.Errorf("arguments longer than 4096 bytes")
	}
	if strings.TrimSpace(raw) == "" {
		return map[string]string{}, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return nil, fmt.Errorf("arguments are not a JSON object: %w", err)
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(x)
		}
	}
	return out, nil
}

// pickText returns m[lang], else m["en"], else any value.
func pickText(m map[string]string, lang string) string {
	if v := m[lang]; v != "" {
		return v
	}
	if v := m["en"]; v != "" {
		return v
	}
	for _, v := range m {
		return v
	}
	return ""
}
