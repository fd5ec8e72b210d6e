package whatsappcloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation"
)

// Button ids. WhatsApp echoes a reply button's or list row's id when the
// shopper taps it; the id carries the action:
//
//	t0:<query-escaped action id>:<query-escaped value>[:<n>]
//
// (n makes ids of equal actions unique). An id that would be longer than
// maxChoiceID is kept in Refs instead and sent as "t0h:<hash>".
const (
	choicePrefix     = "t0:"
	choiceHashPrefix = "t0h:"
	// maxChoiceID is the shorter of WhatsApp's limits: 256 for reply
	// buttons, 200 for list rows.
	maxChoiceID = 200
)

// Refs namespaces of this adapter.
const (
	refsActions = "wacloud-action"  // hash → JSON action, for long button ids
	refsChoices = "wacloud-choices" // conversation key → the numbered list last sent
	actionTTL   = 30 * 24 * time.Hour
	choicesTTL  = 24 * time.Hour
)

// encodeChoice returns the button id of action act, unique among the ids
// in used. Long ids are stored in Refs. Errors: those of Refs.PutRef.
func (a *Adapter) encodeChoice(ctx context.Context, act conversation.Action, used map[string]bool) (string, error) {
	id := choicePrefix + url.QueryEscape(act.ID) + ":" + url.QueryEscape(act.Value)
	if len(id) > maxChoiceID-8 {
		b, err := json.Marshal(act)
		if err != nil {
			return "", conversation.Errorf(conversation.Invalid, "encode button action: %w", err)
		}
		h := sha256.Sum256(b)
		hash := hex.EncodeToString(h[:16])
		if err := a.refs.PutRef(ctx, refsActions, hash, string(b), actionTTL); err != nil {
			return "", err
		}
		id = choiceHashPrefix + hash
	}
	base := id
	for n := 2; used[id]; n++ {
		id = base + ":" + strconv.Itoa(n)
	}
	used[id] = true
	return id, nil
}

// decodeChoice returns the action a button id stands for. ok is false for
// ids this adapter did not make (or whose stored action expired).
func (a *Adapter) decodeChoice(ctx context.Context, id string) (conversation.Action, bool) {
	if rest, ok := strings.CutPrefix(id, choiceHashPrefix); ok {
		hash, _, _ := strings.Cut(rest, ":")
		if len(hash) != 32 {
			return conversation.Action{}, false
		}
		raw, err := a.refs.GetRef(ctx, refsActions, hash)
		if err != nil {
			if !errors.Is(err, conversation.ErrNotFound) {
				a.log.Warn("whatsapp button lookup failed", "err", err)
			}
			return conversation.Action{}, false
		}
		var act conversation.Action
		if json.Unmarshal([]byte(raw), &act) != nil || !validAction(act) {
			return conversation.Action{}, false
		}
		return act, true
	}
	rest, ok := strings.CutPrefix(id, choicePrefix)
	if !ok {
		return conversation.Action{}, false
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return conversation.Action{}, false
	}
	actID, err1 := url.QueryUnescape(parts[0])
	val, err2 := url.QueryUnescape(parts[1])
	act := conversation.Action{ID: actID, Value: val}
	if err1 != nil || err2 != nil || !validAction(act) {
		return conversation.Action{}, false
	}
	return act, true
}

// validAction reports whether act passes conversation.Message's limits.
func validAction(act conversation.Action) bool {
	return conversation.Printable(act.ID, conversation.MaxKeyLen) && len(act.Value) <= conversation.MaxActionValueLen
}

// numberedChoices is what is kept in Refs about a numbered list sent to
// a shopper: the actions of its numbers, 1 first.
type numberedChoices struct {
	Outbound string                `json:"outbound"`
	Actions  []conversation.Action `json:"actions"`
}

// rememberChoices stores the actions of a numbered list sent to key.
func (a *Adapter) rememberChoices(ctx context.Context, key, outboundID string, buttons []conversation.Button) error {
	nc := numberedChoices{Outbound: outboundID}
	for _, b := range buttons {
		nc.Actions = append(nc.Actions, b.Action)
	}
	raw, err := json.Marshal(nc)
	if err != nil {
		return conversation.Errorf(conversation.Invalid, "encode numbered choices: %w", err)
	}
	if err := a.refs.PutRef(ctx, refsChoices, key, string(raw), choicesTTL); err != nil {
		return err
	}
	a.listed.Add(key)
	return nil
}

// forgetChoices retires the numbered list of key, if this replica sent
// one, once another message went to the shopper after it.
func (a *Adapter) forgetChoices(ctx context.Context, key string) {
	if !a.listed.Has(key) {
		return
	}
	if err := a.refs.PutRef(ctx, refsChoices, key, "", time.Minute); err != nil {
		a.log.Warn("whatsapp numbered choices not retired", "err", err)
		return
	}
	a.listed.Remove(key)
}

// pickNumbered turns a bare number ("2", "2.") answering the numbered
// list last sent to the conversation into that choice's action.
func (a *Adapter) pickNumbered(ctx context.Context, m *conversation.Message) {
	s := strings.TrimSpace(m.Text)
	s = strings.TrimRight(s, ".)")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 99 || len(s) > 2 {
		return
	}
	raw, err := a.refs.GetRef(ctx, refsChoices, m.ConversationKey)
	if err != nil || raw == "" {
		if err != nil && !errors.Is(err, conversation.ErrNotFound) {
			a.log.Warn("whatsapp numbered choices lookup failed", "message_id", m.PlatformMsgID, "err", err)
		}
		return
	}
	var nc numberedChoices
	if json.Unmarshal([]byte(raw), &nc) != nil || n > len(nc.Actions) || !validAction(nc.Actions[n-1]) {
		return
	}
	act := nc.Actions[n-1]
	m.Action = &act
}

// memRefs is the in-memory conversation.Refs used when Config.Refs is
// nil: bounded, with expiry, for a single replica.
type memRefs struct {
	mu  sync.Mutex
	max int
	now func() time.Time
	m   map[string]memRef
}

type memRef struct {
	value   string
	expires time.Time
}

func newMemRefs(max int, now func() time.Time) *memRefs {
	return &memRefs{max: max, now: now, m: make(map[string]memRef)}
}

// PutRef stores value, evicting expired entries (then arbitrary ones)
// when full.
func (r *memRefs) PutRef(_ context.Context, namespace, key, value string, ttl time.Duration) error {
	ttl, err := conversation.CheckRef(namespace, key, value, ttl)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	k := namespace + "\x00" + key
	if _, ok := r.m[k]; !ok && len(r.m) >= r.max {
		for mk, v := range r.m {
			if now.After(v.expires) {
				delete(r.m, mk)
			}
		}
		for mk := range r.m {
			if len(r.m) < r.max {
				break
			}
			delete(r.m, mk)
		}
	}
	r.m[k] = memRef{value: value, expires: now.Add(ttl)}
	return nil
}

// GetRef returns the value or conversation.ErrNotFound.
func (r *memRefs) GetRef(_ context.Context, namespace, key string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[namespace+"\x00"+key]
	if !ok || r.now().After(v.expires) {
		return "", conversation.ErrNotFound
	}
	return v.value, nil
}
