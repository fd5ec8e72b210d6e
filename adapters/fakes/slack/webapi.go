package slackfake

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The Web API methods the fake serves, and the Block Kit limits it checks.

func (s *Server) authTest(map[string]string) (map[string]any, *apiError) {
	return map[string]any{
		"url":     "https://fake.slack.test/",
		"team":    s.cfg.TeamName,
		"user":    "tier0",
		"team_id": s.cfg.TeamID,
		"user_id": s.cfg.BotUserID,
		"bot_id":  s.cfg.BotID,
	}, nil
}

var channelRE = regexp.MustCompile(`^[CDG][A-Z0-9]{1,20}$`)

// Slack's documented limits, checked so adapter bugs surface in tests.
const (
	maxTextLen        = 40000
	maxBlocks         = 50
	maxSectionText    = 3000
	maxButtonText     = 75
	maxButtonValue    = 2000
	maxActionIDLen    = 255
	maxActionElements = 25
	maxContextElems   = 10
)

// content checks text and blocks of a message and returns the blocks.
func content(p map[string]string) (json.RawMessage, *apiError) {
	text, blocks := p["text"], p["blocks"]
	if strings.TrimSpace(text) == "" && blocks == "" {
		return nil, slackErr("no_text")
	}
	if utf8.RuneCountInString(text) > maxTextLen {
		return nil, slackErr("msg_too_long")
	}
	if blocks == "" {
		return nil, nil
	}
	if err := checkBlocks([]byte(blocks)); err != nil {
		return nil, slackErr("invalid_blocks")
	}
	return json.RawMessage(blocks), nil
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type element struct {
	Type     string   `json:"type"`
	ActionID string   `json:"action_id"`
	Value    string   `json:"value"`
	Text     *textObj `json:"text"`
	Options  []option `json:"options"`
}

type option struct {
	Text  textObj `json:"text"`
	Value string  `json:"value"`
}

type block struct {
	Type     string          `json:"type"`
	BlockID  string          `json:"block_id"`
	Text     *textObj        `json:"text"`
	Elements json.RawMessage `json:"elements"`
}

// checkBlocks applies the Block Kit limits the adapter relies on.
func checkBlocks(raw []byte) error {
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return err
	}
	if len(bs) == 0 || len(bs) > maxBlocks {
		return errors.New("1..50 blocks")
	}
	for _, b := range bs {
		if len(b.BlockID) > maxActionIDLen {
			return errors.New("block_id too long")
		}
		switch b.Type {
		case "section", "header":
			if b.Text == nil || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > maxSectionText {
				return errors.New("section text must be 1..3000 characters")
			}
		case "divider":
		case "context":
			var els []textObj
			if err := json.Unmarshal(b.Elements, &els); err != nil || len(els) == 0 || len(els) > maxContextElems {
				return errors.New("context needs 1..10 elements")
			}
			for _, e := range els {
				if e.Text == "" || utf8.RuneCountInString(e.Text) > maxSectionText {
					return errors.New("context element text must be 1..3000 characters")
				}
			}
		case "actions":
			var els []element
			if err := json.Unmarshal(b.Elements, &els); err != nil || len(els) == 0 || len(els) > maxActionElements {
				return errors.New("actions needs 1..25 elements")
			}
			seen := map[string]bool{}
			for _, e := range els {
				if e.ActionID == "" || len(e.ActionID) > maxActionIDLen || seen[e.ActionID] {
					return errors.New("action_id must be unique and 1..255 characters")
				}
				seen[e.ActionID] = true
				switch e.Type {
				case "button":
					if e.Text == nil || e.Text.Type != "plain_text" || e.Text.Text == "" || utf8.RuneCountInString(e.Text.Text) > maxButtonText {
						return errors.New("button text must be plain_text of 1..75 characters")
					}
					if len(e.Value) > maxButtonValue {
						return errors.New("button value over 2000 characters")
					}
				case "static_select":
					if len(e.Options) == 0 || len(e.Options) > 100 {
						return errors.New("static_select needs 1..100 options")
					}
				default:
					return fmt.Errorf("unsupported element %q", e.Type)
				}
			}
		default:
			return fmt.Errorf("unsupported block %q", b.Type)
		}
	}
	return nil
}

func (s *Server) postMessage(p map[string]string) (map[string]any, *apiError) {
	ch := p["channel"]
	if !channelRE.MatchString(ch) {
		return nil, slackErr("channel_not_found")
	}
	blocks, err := content(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Method: "chat.postMessage", Channel: ch, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"], Text: p["text"], Blocks: blocks}
	s.messages = append(s.messages, m)
	return map[string]any{"channel": ch, "ts": m.TS, "message": s.wireLocked(m)}, nil
}

func (s *Server) postEphemeral(p map[string]string) (map[string]any, *apiError) {
	ch := p["channel"]
	if !channelRE.MatchString(ch) {
		return nil, slackErr("channel_not_found")
	}
	if _, ok := s.users[p["user"]]; !ok {
		return nil, slackErr("user_not_in_channel")
	}
	blocks, err := content(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Method: "chat.postEphemeral", Channel: ch, TS: s.nextTSLocked(), ThreadTS: p["thread_ts"], User: p["user"], Text: p["text"], Blocks: blocks}
	s.messages = append(s.messages, m)
	return map[string]any{"message_ts": m.TS}, nil
}

// findLocked returns the bot's posted (not ephemeral, not deleted)
// message ts in channel ch.
func (s *Server) findLocked(ch, ts string) (*Message, *apiError) {
	for _, m := range s.messages {
		if m.Channel == ch && m.TS == ts && !m.Deleted {
			if m.Method != "chat.postMessage" {
				return nil, slackErr("cant_update_message")
			}
			return m, nil
		}
	}
	return nil, slackErr("message_not_found")
}

func (s *Server) update(p map[string]string) (map[string]any, *apiError) {
	ch, ts := p["channel"], p["ts"]
	if !channelRE.MatchString(ch) {
		return nil, slackErr("channel_not_found")
	}
	blocks, aerr := content(p)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.findLocked(ch, ts)
	if aerr != nil {
		return nil, aerr
	}
	m.Text, m.Blocks = p["text"], blocks
	m.Updates++
	s.notifyLocked()
	return map[string]any{"channel": ch, "ts": ts, "text": m.Text, "message": s.wireLocked(m)}, nil
}

func (s *Server) deleteMessage(p map[string]string) (map[string]any, *apiError) {
	ch, ts := p["channel"], p["ts"]
	if !channelRE.MatchString(ch) {
		return nil, slackErr("channel_not_found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.findLocked(ch, ts)
	if aerr != nil {
		return nil, aerr
	}
	m.Deleted = true
	s.notifyLocked()
	return map[string]any{"channel": ch, "ts": ts}, nil
}

// wireLocked is the message object of a chat.* answer; it also wakes
// waiters (every caller has just changed something).
func (s *Server) wireLocked(m *Message) map[string]any {
	s.notifyLocked()
	w := map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "bot_id": s.cfg.BotID, "user": s.cfg.BotUserID}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		w["blocks"] = m.Blocks
	}
	return w
}

func (s *Server) usersInfo(p map[string]string) (map[string]any, *apiError) {
	u, ok := s.users[p["user"]]
	if !ok {
		return nil, slackErr("user_not_found")
	}
	return map[string]any{"user": map[string]any{
		"id":        u.ID,
		"team_id":   s.cfg.TeamID,
		"name":      u.Name,
		"real_name": u.RealName,
		"is_bot":    u.IsBot,
		"locale":    u.Locale,
		"profile": map[string]any{
			"real_name":    u.RealName,
			"display_name": u.DisplayName,
			"email":        u.Email,
		},
	}}, nil
}

func (s *Server) connectionsOpen(map[string]string) (map[string]any, *apiError) {
	ticket := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.url == "" {
		return nil, slackErr("internal_error") // only a started server knows its address
	}
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.url, "http") + "/link/?ticket=" + ticket + "&app_id=" + url.QueryEscape(s.cfg.AppID)
	return map[string]any{"url": u}, nil
}
