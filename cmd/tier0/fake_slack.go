package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
)

// The Slack test user and their direct-message channel with the bot.
const (
	fakeSlackUser = "U0TESTER"
	fakeSlackDM   = "D0TESTER"
)

// slackFake is the fake Slack Web API: tier0 posts to it; the test user's
// messages and clicks are signed Events API and interactivity requests to
// tier0, as Slack sends them.
type slackFake struct {
	srv  *slackfake.Server
	http *fakeHTTP
	url  string
	o    fakeOptions
	ids  uniqueIDs
}

var _ fakePlatform = (*slackFake)(nil)

func openSlackFake(o fakeOptions) (fakePlatform, error) {
	srv := slackfake.New(slackfake.Config{Users: []slackfake.User{{
		ID: fakeSlackUser, Name: "test.user", RealName: "Test User", DisplayName: "Test User",
		Email: "test.user@example.com", Locale: "en-US",
	}}})
	return &slackFake{srv: srv, http: serveFake(o.ln, srv), url: o.url, o: o}, nil
}

func (s *slackFake) name() string { return "Slack" }

func (s *slackFake) settings() fakeSettings {
	cfg := s.srv.Config()
	return fakeSettings{
		env: [][2]string{
			{"TIER0_SLACK_BOT_TOKEN", cfg.BotToken},
			{"TIER0_SLACK_SIGNING_SECRET", cfg.SigningSecret},
			{"TIER0_SLACK_MODE", "http"},
			{"TIER0_SLACK_API_URL", s.url + "/api/"},
		},
	}
}

func (s *slackFake) ready(ctx context.Context) (bool, string) { return webhookReady(ctx, s.o) }

// slackEscaper escapes message text the way Slack delivers it.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (s *slackFake) say(ctx context.Context, text string) error {
	id := s.ids.next()
	ts := strconv.FormatInt(id/1_000_000, 10) + "." + fmt.Sprintf("%06d", id%1_000_000)
	body := s.srv.EventCallback("Ev"+strings.ToUpper(strconv.FormatInt(id, 36)), slackfake.Event{
		Type: "message", ChannelType: "im", Channel: fakeSlackDM, User: fakeSlackUser,
		Team: s.srv.Config().TeamID, Text: slackEscaper.Replace(text), TS: ts,
	})
	return s.deliver("post the message to "+s.o.tier0+"/slack/events", func() (int, string, error) {
		return readResponse(s.srv.PostEvent(ctx, s.o.tier0+"/slack/events", body))
	})
}

func (s *slackFake) click(ctx context.Context, m slackfake.Message, actionID string) error {
	// slackfake.Server.Click cannot read context blocks (their elements'
	// text is a string); the click payload does not need them.
	m.Blocks = withoutContextBlocks(m.Blocks)
	payload, err := s.srv.Click(m, actionID, fakeSlackUser)
	if err != nil {
		return err
	}
	return s.deliver("post the click to "+s.o.tier0+"/slack/interactive", func() (int, string, error) {
		return readResponse(s.srv.PostInteractive(ctx, s.o.tier0+"/slack/interactive", payload))
	})
}

func (s *slackFake) deliver(what string, post func() (int, string, error)) error {
	status, body, err := post()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return postStatus(what, status, body)
}

func (s *slackFake) watch(ctx context.Context, emit func(fakePost)) error {
	type state struct {
		updates int
		deleted bool
	}
	seen := map[string]state{} // channel/ts → what was shown
	key := func(m slackfake.Message) string { return m.Method + "/" + m.Channel + "/" + m.TS }
	for {
		m, err := s.srv.WaitMessage(ctx, func(m slackfake.Message) bool {
			st, ok := seen[key(m)]
			return !ok || st.updates != m.Updates || st.deleted != m.Deleted
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		_, shown := seen[key(m)]
		seen[key(m)] = state{m.Updates, m.Deleted}
		emit(s.post(m, shown))
	}
}

// slackBlock is the part of a Block Kit block the terminal shows.
type slackBlock struct {
	Type    string          `json:"type"`
	BlockID string          `json:"block_id"`
	Text    *slackTextObj   `json:"text"`
	Fields  []slackTextObj  `json:"fields"`
	Elems   []slackBlockElt `json:"elements"`
}

type slackTextObj struct {
	Text string `json:"text"`
}

// slackBlockElt is a context element (text is a string) or an
// interactive element (text is an object).
type slackBlockElt struct {
	Type     string          `json:"type"`
	ActionID string          `json:"action_id"`
	URL      string          `json:"url"`
	Text     json.RawMessage `json:"text"`
}

func (e slackBlockElt) text() string {
	var s string
	if json.Unmarshal(e.Text, &s) == nil {
		return s
	}
	var o slackTextObj
	_ = json.Unmarshal(e.Text, &o)
	return o.Text
}

// post renders a message the app posted: its text blocks, the cited
// documents and the buttons.
func (s *slackFake) post(m slackfake.Message, edited bool) fakePost {
	p := fakePost{edited: edited}
	if m.Channel != fakeSlackDM {
		p.where = "channel " + m.Channel
		if m.ThreadTS != "" {
			p.where += " thread " + m.ThreadTS
		}
	}
	if m.Method == "chat.postEphemeral" {
		p.where = strings.TrimSpace(p.where + " (only " + m.User + " sees this)")
	}
	if m.Deleted {
		p.text = "(deleted)"
		return p
	}
	var blocks []slackBlock
	if len(m.Blocks) == 0 || json.Unmarshal(m.Blocks, &blocks) != nil {
		p.text = mrkdwnText(m.Text)
		return p
	}
	var text []string
	for _, b := range blocks {
		switch b.Type {
		case "section", "header":
			if b.Text != nil {
				text = append(text, mrkdwnText(b.Text.Text))
			}
			for _, f := range b.Fields {
				text = append(text, mrkdwnText(f.Text))
			}
		case "context":
			for _, e := range b.Elems {
				if t := e.text(); t != "" && b.BlockID == "tier0_citations" {
					p.sources = append(p.sources, mrkdwnText(t))
				} else if t != "" {
					text = append(text, mrkdwnText(t))
				}
			}
		case "actions":
			for _, e := range b.Elems {
				if e.Type != "button" {
					continue
				}
				if e.URL != "" {
					p.sources = append(p.sources, mrkdwnText(e.text())+" <"+e.URL+">")
					continue
				}
				actionID := e.ActionID
				p.buttons = append(p.buttons, fakeButton{label: e.text(), click: func(ctx context.Context) error {
					return s.click(ctx, m, actionID)
				}})
			}
		}
	}
	p.text = strings.Join(text, "\n")
	if strings.TrimSpace(p.text) == "" {
		p.text = mrkdwnText(m.Text)
	}
	return p
}

// slackLinkRE matches mrkdwn links and mentions: <url|label>, <url>, <@U123>.
var slackLinkRE = regexp.MustCompile(`<([^<>|]+)(?:\|([^<>]*))?>`)

// mrkdwnText renders Slack mrkdwn as plain text: links as "label <url>",
// emoji codes of the citations dropped, entities unescaped.
func mrkdwnText(s string) string {
	s = strings.ReplaceAll(s, ":page_facing_up: ", "")
	s = slackLinkRE.ReplaceAllStringFunc(s, func(l string) string {
		sub := slackLinkRE.FindStringSubmatch(l)
		target, label := sub[1], sub[2]
		switch {
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"), strings.HasPrefix(target, "!"):
			return "<" + target + ">"
		case label == "":
			return target
		}
		return label + " <" + target + ">"
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func (s *slackFake) close() error {
	err := s.http.close()
	if cerr := s.srv.Close(); err == nil {
		err = cerr
	}
	return err
}

// withoutContextBlocks returns blocks without their context blocks
// (unchanged when they cannot be read).
func withoutContextBlocks(blocks json.RawMessage) json.RawMessage {
	var bs []json.RawMessage
	if json.Unmarshal(blocks, &bs) != nil {
		return blocks
	}
	kept := bs[:0]
	for _, b := range bs {
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &head) == nil && head.Type == "context" {
			continue
		}
		kept = append(kept, b)
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return blocks
	}
	return out
}
