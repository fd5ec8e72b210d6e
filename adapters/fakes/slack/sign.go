package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sign returns Slack's request signature of body sent at ts:
// "v0=" + hex(HMAC-SHA256(secret, "v0:<unix ts>:<body>")).
func Sign(secret string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%d:", ts.Unix())
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// SignRequest sets X-Slack-Request-Timestamp and X-Slack-Signature on r
// for body, as Slack does on every request it sends to an app.
func SignRequest(r *http.Request, secret string, ts time.Time, body []byte) {
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	r.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
}

var deliveryClient = &http.Client{Timeout: 10 * time.Second, Transport: keepAlive()}

// keepAlive keeps enough idle connections for load tests that deliver
// many events at once.
func keepAlive() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	return t
}

// PostEvent delivers an Events API body to an app's request URL, signed
// with Config.SigningSecret, as Slack does. The caller closes the
// response body.
func (s *Server) PostEvent(ctx context.Context, url string, body []byte) (*http.Response, error) {
	return s.deliver(ctx, url, "application/json", body, 0)
}

// RetryEvent delivers body again as Slack's retry number attempt (1..3):
// with X-Slack-Retry-Num and X-Slack-Retry-Reason.
func (s *Server) RetryEvent(ctx context.Context, url string, body []byte, attempt int) (*http.Response, error) {
	return s.deliver(ctx, url, "application/json", body, attempt)
}

// PostInteractive delivers an interaction payload (block_actions,
// message_action, …) to an app's interactivity URL: form-encoded as
// payload=<json>, signed.
func (s *Server) PostInteractive(ctx context.Context, u string, payload []byte) (*http.Response, error) {
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	return s.deliver(ctx, u, "application/x-www-form-urlencoded", body, 0)
}

func (s *Server) deliver(ctx context.Context, url, contentType string, body []byte, retry int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	SignRequest(req, s.cfg.SigningSecret, time.Now(), body)
	return deliveryClient.Do(req)
}

// File is a file shared with a message.
type File struct {
	ID         string
	Name       string
	Mimetype   string
	URLPrivate string
	Size       int64
}

// Event is an inner Events API event: a "message" (with ChannelType im,
// channel, group or mpim) or an "app_mention".
type Event struct {
	Type        string
	Subtype     string
	Channel     string
	ChannelType string
	User        string
	BotID       string
	Team        string
	Text        string
	TS          string
	ThreadTS    string
	Files       []File
}

// MarshalJSON renders the event as Slack sends it.
func (e Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": e.Type, "channel": e.Channel, "ts": e.TS, "event_ts": e.TS, "text": e.Text}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("subtype", e.Subtype)
	set("channel_type", e.ChannelType)
	set("user", e.User)
	set("bot_id", e.BotID)
	set("team", e.Team)
	set("thread_ts", e.ThreadTS)
	if e.User != "" && e.BotID == "" {
		m["client_msg_id"] = "c-" + e.TS
	}
	if len(e.Files) > 0 {
		fs := make([]map[string]any, len(e.Files))
		for i, f := range e.Files {
			fs[i] = map[string]any{"id": f.ID, "name": f.Name, "mimetype": f.Mimetype, "url_private": f.URLPrivate, "size": f.Size}
		}
		m["files"] = fs
	}
	return json.Marshal(m)
}

// EventCallback wraps an inner event (an Event, or any JSON-encodable
// value such as a json.RawMessage of another event type) in the
// event_callback envelope Slack posts to the Events API URL.
func (s *Server) EventCallback(eventID string, event any) []byte {
	inner, err := json.Marshal(event)
	if err != nil {
		inner = []byte(`{}`)
	}
	b, _ := json.Marshal(map[string]any{
		"token":                 "legacy-verification-token",
		"team_id":               s.cfg.TeamID,
		"api_app_id":            s.cfg.AppID,
		"event":                 json.RawMessage(inner),
		"type":                  "event_callback",
		"event_id":              eventID,
		"event_time":            time.Now().Unix(),
		"event_context":         "4-" + eventID,
		"is_ext_shared_channel": false,
		"authorizations": []map[string]any{{
			"team_id": s.cfg.TeamID, "user_id": s.cfg.BotUserID, "is_bot": true, "is_enterprise_install": false,
		}},
	})
	return b
}

// URLVerification is the body Slack posts when an Events API URL is
// configured; the app must echo the challenge.
func URLVerification(challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"})
	return b
}

// interaction ids: unique per fake.
func (s *Server) nextActionTS() (actionTS, triggerID string) {
	s.mu.Lock()
	ts := s.nextTSLocked()
	s.mu.Unlock()
	return ts, "trig." + strings.ReplaceAll(ts, ".", "") + ".fake"
}

func (s *Server) userObj(id string) map[string]any {
	u := s.users[id]
	return map[string]any{"id": id, "username": u.Name, "name": u.Name, "team_id": s.cfg.TeamID}
}

// Click returns the block_actions payload of userID clicking the button
// with actionID in m (a message the app posted). Errors: m has no such
// button.
func (s *Server) Click(m Message, actionID, userID string) ([]byte, error) {
	blockID, el, err := findElement(m, actionID, "button")
	if err != nil {
		return nil, err
	}
	return s.blockActions(m, userID, map[string]any{
		"action_id": actionID, "block_id": blockID, "type": "button", "value": el.Value,
		"text": map[string]any{"type": "plain_text", "text": el.Text.Text, "emoji": true},
	}), nil
}

// Select returns the block_actions payload of userID choosing the option
// with value in the static_select actionID of m. Errors: no such select or
// option.
func (s *Server) Select(m Message, actionID, userID, value string) ([]byte, error) {
	blockID, el, err := findElement(m, actionID, "static_select")
	if err != nil {
		return nil, err
	}
	for _, o := range el.Options {
		if o.Value == value {
			return s.blockActions(m, userID, map[string]any{
				"action_id": actionID, "block_id": blockID, "type": "static_select",
				"selected_option": map[string]any{"text": o.Text, "value": o.Value},
			}), nil
		}
	}
	return nil, fmt.Errorf("slackfake: select %s has no option %q", actionID, value)
}

func findElement(m Message, actionID, typ string) (string, element, error) {
	// Elements stay raw until the block is known to be an actions block:
	// a context block's elements are text objects, not buttons.
	var bs []block
	if err := json.Unmarshal(m.Blocks, &bs); err != nil {
		return "", element{}, fmt.Errorf("slackfake: message %s has no blocks", m.TS)
	}
	for _, b := range bs {
		if b.Type != "actions" {
			continue
		}
		var els []element
		if err := json.Unmarshal(b.Elements, &els); err != nil {
			return "", element{}, fmt.Errorf("slackfake: message %s: actions block: %w", m.TS, err)
		}
		for _, e := range els {
			if e.ActionID == actionID && e.Type == typ {
				return b.BlockID, e, nil
			}
		}
	}
	return "", element{}, fmt.Errorf("slackfake: message %s has no %s %q", m.TS, typ, actionID)
}

func (s *Server) blockActions(m Message, userID string, action map[string]any) []byte {
	actionTS, trigger := s.nextActionTS()
	action["action_ts"] = actionTS
	container := map[string]any{"type": "message", "message_ts": m.TS, "channel_id": m.Channel, "is_ephemeral": m.Method == "chat.postEphemeral"}
	msg := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "bot_id": s.cfg.BotID, "user": s.cfg.BotUserID, "blocks": m.Blocks}
	if m.ThreadTS != "" {
		container["thread_ts"] = m.ThreadTS
		msg["thread_ts"] = m.ThreadTS
	}
	b, _ := json.Marshal(map[string]any{
		"type":         "block_actions",
		"token":        "legacy-verification-token",
		"api_app_id":   s.cfg.AppID,
		"trigger_id":   trigger,
		"user":         s.userObj(userID),
		"team":         map[string]any{"id": s.cfg.TeamID, "domain": "fake"},
		"container":    container,
		"channel":      map[string]any{"id": m.Channel, "name": "channel"},
		"message":      msg,
		"response_url": "https://hooks.slack.test/actions/" + trigger,
		"actions":      []any{action},
		"state":        map[string]any{"values": map[string]any{}},
	})
	return b
}

// MessageAction returns the payload of userID running the message
// shortcut callbackID on msg (a message someone wrote, e.g. an agent's
// message in a staff thread).
func (s *Server) MessageAction(callbackID, userID string, msg Event) []byte {
	actionTS, trigger := s.nextActionTS()
	inner := map[string]any{"type": "message", "user": msg.User, "text": msg.Text, "ts": msg.TS}
	if msg.ThreadTS != "" {
		inner["thread_ts"] = msg.ThreadTS
	}
	b, _ := json.Marshal(map[string]any{
		"type":         "message_action",
		"token":        "legacy-verification-token",
		"action_ts":    actionTS,
		"trigger_id":   trigger,
		"callback_id":  callbackID,
		"team":         map[string]any{"id": s.cfg.TeamID, "domain": "fake"},
		"user":         s.userObj(userID),
		"channel":      map[string]any{"id": msg.Channel, "name": "channel"},
		"message_ts":   msg.TS,
		"message":      inner,
		"response_url": "https://hooks.slack.test/actions/" + trigger,
	})
	return b
}
