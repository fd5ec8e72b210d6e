package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/actions"
	"github.com/tier0/tier0/knowledge/llm"
	"github.com/tier0/tier0/knowledge/openai"
)

// ActionsConfig declares what the bot can do besides answering: HTTP
// back-end actions and the built-in ones.
type ActionsConfig struct {
	// Builtin turns on built-in actions: ticket_status, talk_to_person.
	Builtin []string `yaml:"builtin"`
	// PerUserPerMinute and PerActionPerMinute bound runs per customer and
	// per action on each replica (defaults 10 and 600; -1 turns off).
	PerUserPerMinute   int `yaml:"per_user_per_minute"`
	PerActionPerMinute int `yaml:"per_action_per_minute"`
	// MinScore: how closely a message must resemble an example (0..1,
	// default 0.6).
	MinScore float64 `yaml:"min_score"`
	// LLMTools offers the actions to the configured chat model
	// (knowledge.llm) as tools for messages the example phrasings do not
	// route: one more model call for each such message (default false).
	LLMTools bool `yaml:"llm_tools"`
	// Define are the HTTP back-end actions.
	Define []ActionConfig `yaml:"define"`
}

// ActionConfig is one action with an HTTP back end. Per-language texts
// are maps keyed by language code ("de", "en"), falling back to "en".
type ActionConfig struct {
	Name        string              `yaml:"name"`
	Description map[string]string   `yaml:"description"`
	Examples    map[string][]string `yaml:"examples"`
	Params      []ActionParamConfig `yaml:"params"`
	SideEffect  bool                `yaml:"side_effect"`
	Confirm     map[string]string   `yaml:"confirm"`
	Result      map[string]string   `yaml:"result"`
	NotFound    map[string]string   `yaml:"not_found"`
	Source      string              `yaml:"source"`
	HTTP        HTTPActionConfig    `yaml:"http"`
}

// ActionParamConfig is one parameter: type string, enum, number, date,
// order, email or identity.
type ActionParamConfig struct {
	Name         string               `yaml:"name"`
	Type         string               `yaml:"type"`
	Optional     bool                 `yaml:"optional"`
	Ask          map[string]string    `yaml:"ask"`
	Invalid      map[string]string    `yaml:"invalid"`
	Choices      []ActionChoiceConfig `yaml:"choices"`
	Pattern      string               `yaml:"pattern"`
	Min          float64              `yaml:"min"`
	Max          float64              `yaml:"max"`
	MaxLen       int                  `yaml:"max_len"`
	Identity     string               `yaml:"identity"`
	FromIdentity bool                 `yaml:"from_identity"`
}

// ActionChoiceConfig is one enum value with its button label per language.
type ActionChoiceConfig struct {
	Value string            `yaml:"value"`
	Label map[string]string `yaml:"label"`
}

// HTTPActionConfig is the back-end call. In url and headers, ${VAR} and
// ${VAR:-default} are read from the environment (secrets live there,
// never in this file); {param} is a parameter's value, escaped.
type HTTPActionConfig struct {
	Method      string            `yaml:"method"`
	URL         string            `yaml:"url"`
	Headers     map[string]string `yaml:"headers"`
	Body        map[string]string `yaml:"body"`
	Timeout     time.Duration     `yaml:"timeout"`
	Retries     int               `yaml:"retries"`
	Idempotent  bool              `yaml:"idempotent"`
	Result      map[string]string `yaml:"result"`
	MaxResponse int64             `yaml:"max_response"`
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in s from getenv.
func expandEnv(s string, getenv func(string) string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v := getenv(sub[1]); v != "" {
			return v
		}
		return sub[3]
	})
}

// actionsEnv fills the environment references of the actions' URLs and
// headers.
func (c *Config) actionsEnv(getenv func(string) string) {
	for i := range c.Actions.Define {
		h := &c.Actions.Define[i].HTTP
		h.URL = expandEnv(h.URL, getenv)
		for k, v := range h.Headers {
			h.Headers[k] = expandEnv(v, getenv)
		}
	}
}

// buildActions turns the configuration into the engine's actions.
func buildActions(c *Config) (conversation.ActionsConfig, error) {
	ac := c.Actions
	out := conversation.ActionsConfig{MinScore: ac.MinScore}
	if ac.PerUserPerMinute != 0 {
		out.PerUser = conversation.RateLimit{Runs: ac.PerUserPerMinute, Per: time.Minute}
	}
	if ac.PerActionPerMinute != 0 {
		out.PerAction = conversation.RateLimit{Runs: ac.PerActionPerMinute, Per: time.Minute}
	}
	for _, d := range ac.Define {
		h := d.HTTP
		hc := actions.Config{Method: h.Method, URL: h.URL, Body: h.Body, Timeout: h.Timeout, Retries: h.Retries,
			Idempotent: h.Idempotent, Result: h.Result, MaxResponse: h.MaxResponse}
		if len(h.Headers) > 0 {
			hc.Header = http.Header{}
			for k, v := range h.Headers {
				hc.Header.Set(k, v)
			}
		}
		runner, err := actions.New(hc)
		if err != nil {
			return out, fmt.Errorf("actions.define %s: %w", d.Name, err)
		}
		spec := conversation.ActionSpec{Name: d.Name, Description: d.Description, Examples: d.Examples, SideEffect: d.SideEffect,
			Confirm: d.Confirm, Result: d.Result, NotFound: d.NotFound, Source: d.Source, Runner: runner}
		for _, p := range d.Params {
			ap := conversation.ActionParam{Name: p.Name, Type: conversation.ParamType(p.Type), Optional: p.Optional, Ask: p.Ask, Invalid: p.Invalid,
				Pattern: p.Pattern, Min: p.Min, Max: p.Max, MaxLen: p.MaxLen, Identity: p.Identity, FromIdentity: p.FromIdentity}
			for _, ch := range p.Choices {
				ap.Choices = append(ap.Choices, conversation.ActionChoice{Value: ch.Value, Label: ch.Label})
			}
			spec.Params = append(spec.Params, ap)
		}
		out.Actions = append(out.Actions, spec)
	}
	for _, b := range ac.Builtin {
		switch strings.ToLower(b) {
		case "ticket_status":
			out.Actions = append(out.Actions, conversation.TicketStatusAction())
		case "talk_to_person":
			out.Actions = append(out.Actions, conversation.HumanAction())
		default:
			return out, fmt.Errorf("actions.builtin %q: want ticket_status or talk_to_person", b)
		}
	}
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("actions: %w", err)
	}
	// With llm_tools and a chat model configured, the model may propose
	// actions as tools for messages the example phrasings do not route.
	if l := c.Knowledge.LLM; ac.LLMTools && l.BaseURL != "" && len(out.Actions) > 0 {
		chat, err := openai.NewChatClient(openai.Config{BaseURL: l.BaseURL, APIKey: l.APIKey, Model: l.Model, AzureAPIVersion: l.AzureAPIVersion})
		if err != nil {
			return out, fmt.Errorf("actions: knowledge.llm: %w", err)
		}
		planner, err := llm.NewToolPlanner(chat, llm.ToolsConfig{Model: l.Model, Timeout: l.Timeout})
		if err != nil {
			return out, fmt.Errorf("actions: %w", err)
		}
		out.Planner = planner
	}
	return out, nil
}

// validateActions checks the actions section as far as it can without
// building runners.
func (c *Config) validateActions() error {
	_, err := buildActions(c)
	return err
}
