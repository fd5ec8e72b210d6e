package main

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/language"
)

// LanguageConfig says which languages the bot speaks and detects.
type LanguageConfig struct {
	// Default is the language of a conversation nothing tells about yet
	// (default "en").
	Default string `yaml:"default"`
	// Detect are the languages the detector chooses between (default:
	// de and en). Each needs a detection profile: built in for de and en,
	// or under profiles.
	Detect []string `yaml:"detect"`
	// Switch is how clearly a message must show another language to
	// switch the conversation to it (0..1, default 0.75).
	Switch float64 `yaml:"switch_confidence"`
	// Profiles add detection profiles for languages tier0 does not ship,
	// keyed by code.
	Profiles map[string]ProfileConfig `yaml:"profiles"`
}

// ProfileConfig is a language's detection profile (see language.Profile).
type ProfileConfig struct {
	FunctionWords []string `yaml:"function_words"`
	Words         []string `yaml:"words"`
	Letters       string   `yaml:"letters"`
	Suffixes      []string `yaml:"suffixes"`
}

// TextsConfig overrides the bot's own sentences of the default language;
// by_language holds the sentences of other languages (or overrides the
// built-in German ones). Empty fields keep the built-in sentences.
type TextsConfig struct {
	NotSure       string   `yaml:"not_sure"`
	Helpful       string   `yaml:"helpful"`
	NotHelpful    string   `yaml:"not_helpful"`
	HandoffOpened string   `yaml:"handoff_opened"`
	Unavailable   string   `yaml:"unavailable"`
	WhichOne      string   `yaml:"which_one"`
	AgentJoined   string   `yaml:"agent_joined"`
	Resolved      string   `yaml:"resolved"`
	HandedBack    string   `yaml:"handed_back"`
	CSATThanks    string   `yaml:"csat_thanks"`
	Escalated     string   `yaml:"escalated"`
	SupportTeam   string   `yaml:"support_team"`
	ButtonHelpful string   `yaml:"button_helpful"`
	ButtonNotHelp string   `yaml:"button_not_helpful"`
	ButtonHuman   string   `yaml:"button_human"`
	HumanKeywords []string `yaml:"human_keywords"`
	// ByLanguage: the same fields per language code.
	ByLanguage map[string]TextsConfig `yaml:"by_language"`
}

func (t TextsConfig) texts() conversation.Texts {
	return conversation.Texts{
		NotSure: t.NotSure, Helpful: t.Helpful, NotHelpful: t.NotHelpful, HandoffOpened: t.HandoffOpened,
		Unavailable: t.Unavailable, WhichOne: t.WhichOne, AgentJoined: t.AgentJoined, Resolved: t.Resolved,
		HandedBack: t.HandedBack, CSATThanks: t.CSATThanks, Escalated: t.Escalated, SupportTeam: t.SupportTeam,
		ButtonHelpful: t.ButtonHelpful, ButtonNotHelp: t.ButtonNotHelp, ButtonHuman: t.ButtonHuman,
		HumanKeywords: t.HumanKeywords,
	}
}

// Localized is a sentence in one or more languages. In YAML it is a plain
// string (the default language) or a map from language code to string:
//
//   - "Which device are you on?"
//   - {en: "Which device are you on?", de: "Welches Gerät nutzen Sie?"}
type Localized map[string]string

// UnmarshalYAML accepts a string or a code → string map.
func (l *Localized) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = Localized{"": n.Value}
		return nil
	case yaml.MappingNode:
		m := map[string]string{}
		if err := n.Decode(&m); err != nil {
			return err
		}
		*l = m
		return nil
	}
	return fmt.Errorf("line %d: want a sentence or a map of language code to sentence", n.Line)
}

// in returns the sentence in lang, falling back to the unlabelled one.
func (l Localized) in(lang string) string {
	if s, ok := l[lang]; ok && strings.TrimSpace(s) != "" {
		return s
	}
	return l[""]
}

// languages returns the codes l has a sentence in ("" first if present).
func (l Localized) languages() []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Config) languageDefaults() {
	if c.Language.Default = conversation.BaseLanguage(c.Language.Default); c.Language.Default == "" {
		c.Language.Default = conversation.DefaultLanguage
	}
	if len(c.Language.Detect) == 0 {
		c.Language.Detect = []string{"de", "en"}
	}
}

func (c *Config) validateLanguage() error {
	lc := c.Language
	if lc.Switch < 0 || lc.Switch > 1 {
		return fmt.Errorf("language.switch_confidence %v: want a number between 0 and 1", lc.Switch)
	}
	for code := range lc.Profiles {
		if conversation.BaseLanguage(code) != code {
			return fmt.Errorf("language.profiles: %q is not a lower-case ISO 639-1 code", code)
		}
	}
	if err := c.detectorConfig().Validate(); err != nil {
		return fmt.Errorf("language.detect: %w", err)
	}
	for code, t := range c.Texts.ByLanguage {
		if conversation.BaseLanguage(code) != code {
			return fmt.Errorf("texts.by_language: %q is not a lower-case ISO 639-1 code such as de", code)
		}
		if len(t.ByLanguage) > 0 {
			return fmt.Errorf("texts.by_language.%s: by_language cannot nest", code)
		}
	}
	for i, f := range c.Consulting.Flows {
		for j, q := range f.Questions {
			if strings.TrimSpace(q.in(lc.Default)) == "" && strings.TrimSpace(q.in(conversation.DefaultLanguage)) == "" {
				return fmt.Errorf("consulting.flows[%d] (%s) question %d: no sentence in the default language %q or unlabelled", i, f.Name, j+1, lc.Default)
			}
			for _, code := range q.languages() {
				if code != "" && conversation.BaseLanguage(code) != code {
					return fmt.Errorf("consulting.flows[%d] (%s) question %d: %q is not a lower-case ISO 639-1 code", i, f.Name, j+1, code)
				}
			}
		}
	}
	return nil
}

func (c *Config) detectorConfig() language.Config {
	dc := language.Config{Languages: c.Language.Detect}
	codes := make([]string, 0, len(c.Language.Profiles))
	for code := range c.Language.Profiles {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		p := c.Language.Profiles[code]
		dc.Profiles = append(dc.Profiles, language.Profile{Code: code, Function: p.FunctionWords, Words: p.Words, Letters: p.Letters, Suffixes: p.Suffixes})
	}
	return dc
}

// engineLanguage turns the language, texts and flow settings into the
// engine's.
func (c *Config) engineLanguage() (conversation.LanguageConfig, conversation.Texts, []conversation.ConsultFlow, error) {
	d, err := language.New(c.detectorConfig())
	if err != nil {
		return conversation.LanguageConfig{}, conversation.Texts{}, nil, err
	}
	lc := conversation.LanguageConfig{Detector: d, Default: c.Language.Default, Switch: c.Language.Switch}
	if len(c.Texts.ByLanguage) > 0 {
		lc.Texts = map[string]conversation.Texts{}
		for code, t := range c.Texts.ByLanguage {
			lc.Texts[code] = t.texts()
		}
	}
	var flows []conversation.ConsultFlow
	for _, f := range c.Consulting.Flows {
		cf := conversation.ConsultFlow{Name: f.Name, Keywords: f.Keywords}
		langs := map[string]bool{}
		for _, q := range f.Questions {
			def := q.in(c.Language.Default)
			if strings.TrimSpace(def) == "" {
				def = q.in(conversation.DefaultLanguage)
			}
			cf.Questions = append(cf.Questions, def)
			for _, code := range q.languages() {
				if code != "" && code != c.Language.Default {
					langs[code] = true
				}
			}
		}
		for code := range langs {
			if cf.Translations == nil {
				cf.Translations = map[string][]string{}
			}
			tr := make([]string, len(f.Questions))
			for i, q := range f.Questions {
				tr[i] = q[code] // "" falls back to Questions[i]
			}
			cf.Translations[code] = tr
		}
		flows = append(flows, cf)
	}
	return lc, c.Texts.texts(), flows, nil
}
