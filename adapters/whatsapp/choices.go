package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Namespaces of the adapter's entries in the optional Refs store.
const (
	refChoices = "whatsapp.choices" // conversation key → JSON choiceSet
	refChats   = "whatsapp.chats"   // conversation key → chat JID
)

// maxRefValue is the largest value the Refs store takes
// (conversation.MaxRefValueLen).
const maxRefValue = 16 << 10

// maxChoices is the most buttons rendered as choices (WhatsApp polls take
// at most 12 options).
const maxChoices = 12

// choiceSet is the numbered choices of the last reply in a conversation:
// the answer "2" means Actions[1]. It is remembered per conversation in a
// bounded in-memory map (Config.MaxChats conversations, Config.ChoiceTTL)
// and, when Config.Refs is set, in the store, so a restarted or new leader
// still understands a number. Every reply replaces it: a reply without
// buttons clears it, so numbers only ever refer to the latest menu.
type choiceSet struct {
	Actions []conversation.Action `json:"actions"`
	Labels  []string              `json:"labels"`
	PollID  string                `json:"poll_id,omitempty"` // id of the choice poll, when one was sent
	At      time.Time             `json:"at"`
}

// pick returns the index chosen by a reply: its number ("2", "2.",
// "2️⃣") or, ignoring case, a label.
func (cs choiceSet) pick(text string) (int, bool) {
	t := strings.TrimSpace(text)
	t = strings.NewReplacer("\uFE0F", "", "\u20E3", "").Replace(t)
	t = strings.TrimRight(t, ".) ")
	if len(t) > 0 && len(t) <= 2 {
		if n, err := strconv.Atoi(t); err == nil && n >= 1 && n <= len(cs.Actions) {
			return n - 1, true
		}
	}
	if t == "" {
		return 0, false
	}
	for i, l := range cs.Labels {
		if strings.EqualFold(strings.TrimSpace(l), t) {
			return i, true
		}
	}
	return 0, false
}

// currentChoices returns the conversation's choices unless none are
// remembered or they expired.
func (a *Adapter) currentChoices(ctx context.Context, key string) (choiceSet, bool) {
	now := a.cfg.Now()
	if cs, ok := a.choices.get(key, now); ok {
		return cs, len(cs.Actions) > 0
	}
	if a.cfg.Refs == nil {
		return choiceSet{}, false
	}
	v, err := a.cfg.Refs.GetRef(ctx, refChoices, key)
	if err != nil {
		if !errors.Is(err, conversation.ErrNotFound) {
			a.log.Warn("whatsapp: cannot load numbered choices", "conversation", key, "err", err)
		}
		return choiceSet{}, false
	}
	var cs choiceSet
	if err := json.Unmarshal([]byte(v), &cs); err != nil || len(cs.Actions) != len(cs.Labels) || now.Sub(cs.At) > a.cfg.ChoiceTTL {
		return choiceSet{}, false
	}
	a.choices.put(key, cs, cs.At)
	return cs, len(cs.Actions) > 0
}

// rememberChoices makes cs the conversation's current choices (an empty
// set clears them).
func (a *Adapter) rememberChoices(ctx context.Context, key string, cs choiceSet) {
	prev, had := a.choices.get(key, a.cfg.Now())
	a.choices.put(key, cs, cs.At)
	if a.cfg.Refs == nil || (had && len(prev.Actions) == 0 && len(cs.Actions) == 0) {
		return
	}
	b, err := json.Marshal(cs)
	if err != nil || len(b) > maxRefValue {
		return
	}
	if err := a.cfg.Refs.PutRef(ctx, refChoices, key, string(b), a.cfg.ChoiceTTL); err != nil {
		a.log.Warn("whatsapp: cannot store numbered choices; they work on this replica only", "conversation", key, "err", err)
	}
}

// rememberChat records where a conversation's replies go.
func (a *Adapter) rememberChat(ctx context.Context, key string, ci chatInfo) {
	prev, had := a.chats.get(key, a.cfg.Now())
	a.chats.put(key, ci, a.cfg.Now())
	if a.cfg.Refs == nil || (had && prev.Chat == ci.Chat) {
		return
	}
	if err := a.cfg.Refs.PutRef(ctx, refChats, key, ci.Chat, 0); err != nil {
		a.log.Warn("whatsapp: cannot store the chat address", "conversation", key, "err", err)
	}
}
