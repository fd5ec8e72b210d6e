package main

import (
	"context"
	"fmt"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/tier0/tier0/adapters/fakes/botframework"
)

// teamsFake is the fake Bot Framework (OpenID metadata and keys, token
// endpoint, Bot Connector): tier0 checks tokens against it and posts its
// replies to it; the test user's messages and card clicks are signed
// activities POSTed to tier0's /api/messages, as Teams sends them.
//
// The fake itself runs on a port of its own (its documents carry that
// URL); the -listen address proxies to it, so the configured URLs stay
// the same from run to run.
type teamsFake struct {
	srv   *botframework.Server
	proxy *fakeHTTP
	url   string
	o     fakeOptions
	user  botframework.User
	conv  string // the test user's personal conversation id
	ids   uniqueIDs
}

var _ fakePlatform = (*teamsFake)(nil)

func openTeamsFake(o fakeOptions) (fakePlatform, error) {
	srv, err := botframework.Start(botframework.Config{})
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(srv.URL())
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	user := botframework.User{ID: "29:1tier0-fake-test-user", Name: "Test User", AADObjectID: "00000000-0000-4000-8000-0000000f4e57"}
	return &teamsFake{
		srv:   srv,
		proxy: serveFake(o.ln, httputil.NewSingleHostReverseProxy(target)),
		url:   o.url,
		o:     o,
		user:  user,
		conv:  botframework.PersonalConversationID(user),
	}, nil
}

func (t *teamsFake) name() string { return "Teams" }

func (t *teamsFake) settings() fakeSettings {
	cfg := t.srv.Config()
	return fakeSettings{
		env: [][2]string{
			{"TIER0_TEAMS_APP_ID", cfg.AppID},
			{"TIER0_TEAMS_APP_PASSWORD", cfg.AppPassword},
			{"TIER0_TEAMS_TENANT_ID", cfg.TenantID},
			{"TIER0_TEAMS_OPENID_METADATA_URL", t.url + "/v1/.well-known/openidconfiguration"},
			{"TIER0_TEAMS_TOKEN_URL", t.url + "/botframework.com/oauth2/v2.0/token"},
		},
	}
}

func (t *teamsFake) ready(ctx context.Context) (bool, string) { return webhookReady(ctx, t.o) }

// nextID is a fresh activity id: tier0 dedupes on activity ids, and the
// fake's own start from the same number every run.
func (t *teamsFake) nextID() string { return "1:fake" + strconv.FormatInt(t.ids.next(), 10) }

func (t *teamsFake) say(ctx context.Context, text string) error {
	a := t.srv.PersonalMessage(t.user, text)
	a.ID = t.nextID()
	return t.deliver(ctx, "post the message", a)
}

func (t *teamsFake) deliver(ctx context.Context, what string, a botframework.Activity) error {
	endpoint := t.o.tier0 + "/api/messages"
	status, err := t.srv.Deliver(ctx, endpoint, a)
	if err != nil {
		return fmt.Errorf("%s to %s: %w", what, endpoint, err)
	}
	return postStatus(what+" to "+endpoint, status, "")
}

func (t *teamsFake) watch(ctx context.Context, emit func(fakePost)) error {
	last := 0
	for {
		r, err := t.srv.WaitActivity(ctx, func(r botframework.Recorded) bool { return r.Seq > last })
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		last = r.Seq
		if r.Activity.Type == "message" { // not typing indicators
			emit(t.post(r))
		}
	}
}

// post renders an activity the bot posted: its text, its Adaptive Card's
// text blocks, the sources (fact sets) and the Action.Submit buttons.
func (t *teamsFake) post(r botframework.Recorded) fakePost {
	var p fakePost
	if r.ConversationID != t.conv {
		p.where = "conversation " + r.ConversationID
	}
	var text []string
	if s := strings.TrimSpace(r.Activity.Text); s != "" {
		text = append(text, markdownText(s))
	}
	if c := r.Card(); c != nil {
		text = append(text, t.cardText(c.Body, &p)...)
		for _, a := range c.AllActions() {
			switch a.Type {
			case "Action.Submit":
				data, replyTo, conv := a.Data, r.ID, r.ConversationID
				p.buttons = append(p.buttons, fakeButton{label: a.Title, click: func(ctx context.Context) error {
					act := t.srv.Submit(conv, replyTo, t.user, data)
					act.ID = t.nextID()
					return t.deliver(ctx, "post the click", act)
				}})
			case "Action.OpenUrl":
				p.sources = append(p.sources, a.Title+" <"+a.URL+">")
			}
		}
	}
	p.text = strings.Join(text, "\n")
	return p
}

// cardText collects the text of card elements; a fact set becomes the
// post's sources, and a text block right before one is its heading.
func (t *teamsFake) cardText(els []botframework.CardElement, p *fakePost) []string {
	var text []string
	for i, e := range els {
		switch e.Type {
		case "TextBlock":
			if i+1 < len(els) && els[i+1].Type == "FactSet" {
				continue // "Sources"
			}
			if s := strings.TrimSpace(e.Text); s != "" {
				text = append(text, markdownText(s))
			}
		case "FactSet":
			for _, f := range e.Facts {
				p.sources = append(p.sources, strings.TrimSpace(f.Title+" "+markdownText(f.Value)))
			}
		default:
			text = append(text, t.cardText(e.Items, p)...)
			text = append(text, t.cardText(e.Columns, p)...)
		}
	}
	return text
}

// markdownLinkRE matches a markdown link [label](url).
var markdownLinkRE = regexp.MustCompile(`\[([^\[\]]*)\]\(([^()\s]+)\)`)

// markdownText shows markdown links as "label <url>".
func markdownText(s string) string {
	return markdownLinkRE.ReplaceAllString(s, "$1 <$2>")
}

func (t *teamsFake) close() error {
	err := t.proxy.close()
	if cerr := t.srv.Close(); err == nil {
		err = cerr
	}
	return err
}
