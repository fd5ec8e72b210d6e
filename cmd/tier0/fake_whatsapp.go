package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
)

// The fake WhatsApp Business number, its credentials and the test user.
const (
	fakeWAPhoneNumberID = "109876543210987"
	fakeWAAccessToken   = "fake-whatsapp-access-token"
	fakeWAAppSecret     = "fake-whatsapp-app-secret"
	fakeWAVerifyToken   = "fake-whatsapp-verify-token"
	fakeWAUser          = "4915550001111"
	fakeWAUserName      = "Test User"
)

// whatsappFake is the fake Graph API of the WhatsApp Cloud API: tier0
// sends its messages there; the test user's messages and button taps are
// webhook notifications POSTed to tier0's /whatsapp/webhook, signed with
// the app secret as Meta does.
type whatsappFake struct {
	srv  *whatsappgraph.Server
	http *fakeHTTP
	url  string
	o    fakeOptions
	hook whatsappgraph.Webhook
	ids  uniqueIDs
}

var _ fakePlatform = (*whatsappFake)(nil)

func openWhatsAppFake(o fakeOptions) (fakePlatform, error) {
	srv := whatsappgraph.New(whatsappgraph.Config{AccessToken: fakeWAAccessToken, PhoneNumberID: fakeWAPhoneNumberID})
	return &whatsappFake{
		srv:  srv,
		http: serveFake(o.ln, srv),
		url:  o.url,
		o:    o,
		hook: whatsappgraph.Webhook{AppSecret: fakeWAAppSecret, PhoneNumberID: fakeWAPhoneNumberID},
	}, nil
}

func (w *whatsappFake) name() string { return "WhatsApp" }

func (w *whatsappFake) settings() fakeSettings {
	return fakeSettings{
		env: [][2]string{
			{"TIER0_WHATSAPP_CLOUD_ACCESS_TOKEN", fakeWAAccessToken},
			{"TIER0_WHATSAPP_CLOUD_APP_SECRET", fakeWAAppSecret},
			{"TIER0_WHATSAPP_CLOUD_VERIFY_TOKEN", fakeWAVerifyToken},
			{"TIER0_WHATSAPP_CLOUD_PHONE_NUMBER_ID", fakeWAPhoneNumberID},
			{"TIER0_WHATSAPP_CLOUD_API_URL", w.url},
		},
	}
}

func (w *whatsappFake) ready(ctx context.Context) (bool, string) { return webhookReady(ctx, w.o) }

// nextID is a fresh message id (tier0 dedupes on them).
func (w *whatsappFake) nextID() string {
	return "wamid.FAKE" + strings.ToUpper(strconv.FormatInt(w.ids.next(), 36))
}

func (w *whatsappFake) say(ctx context.Context, text string) error {
	return w.notify(ctx, "post the message", whatsappgraph.TextMessage(fakeWAUser, w.nextID(), text))
}

func (w *whatsappFake) notify(ctx context.Context, what string, m whatsappgraph.Message) error {
	endpoint := w.o.tier0 + "/whatsapp/webhook"
	status, body, err := w.hook.Post(ctx, w.o.client, endpoint, w.hook.Messages(fakeWAUserName, m))
	if err != nil {
		return fmt.Errorf("%s to %s: %w", what, endpoint, err)
	}
	return postStatus(what+" to "+endpoint, status, body)
}

func (w *whatsappFake) watch(ctx context.Context, emit func(fakePost)) error {
	n := 0
	for {
		sent, err := w.srv.WaitSent(ctx, n+1)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, s := range sent[n:] {
			emit(w.post(s))
		}
		n = len(sent)
	}
}

// post renders a sent message: its text (the sources are part of it) and
// its reply buttons or list rows.
func (w *whatsappFake) post(s whatsappgraph.Sent) fakePost {
	p := fakePost{text: s.Text}
	if s.To != fakeWAUser {
		p.where = "+" + s.To
	}
	for _, c := range s.Choices {
		label := c.Title
		if c.Description != "" {
			label += " (" + c.Description + ")"
		}
		p.buttons = append(p.buttons, fakeButton{label: label, click: func(ctx context.Context) error {
			m := whatsappgraph.ButtonReply(fakeWAUser, w.nextID(), s.ID, c.ID, c.Title)
			if s.Interactive == "list" {
				m = whatsappgraph.ListReply(fakeWAUser, w.nextID(), s.ID, c.ID, c.Title, c.Description)
			}
			return w.notify(ctx, "post the tap", m)
		}})
	}
	return p
}

func (w *whatsappFake) close() error { return w.http.close() }
