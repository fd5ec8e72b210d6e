package whatsappcloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/doortest"
	"github.com/tier0/tier0/adapters/fakes/whatsappgraph"
	"github.com/tier0/tier0/adapters/whatsappcloud"
	"github.com/tier0/tier0/conversation"
)

// graphSeeds drives the adapter against the fake Graph API (a send, a
// media lookup, a send with a revoked token) and returns the answers.
func graphSeeds(tb testing.TB) []doortest.HTTPAnswer {
	tb.Helper()
	fake := whatsappgraph.New(whatsappgraph.Config{AccessToken: testToken, PhoneNumberID: testPhoneID})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	rt := &doortest.Recorder{}
	ctx := context.Background()
	for _, token := range []string{testToken, "EAAGrevokedtoken000000000"} {
		cfg := testConfig(srv.URL)
		cfg.AccessToken = token
		cfg.HTTPClient = &http.Client{Transport: rt}
		a, err := whatsappcloud.New(cfg, newRecEngine())
		if err != nil {
			tb.Fatal(err)
		}
		_ = a.Send(ctx, conversation.Outbound{ID: "o-seed", ConversationKey: whatsappcloud.ConversationKey("4915112345678"), Channel: conversation.ChannelWhatsApp, Kind: conversation.KindAnswer, Text: "Your parcel is on its way."})
		_, _ = a.ResolveMedia(ctx, "1234567890")
		_ = a.Close()
	}
	return rt.Answers()
}

// FuzzGraphAnswer feeds the adapter's Graph API client arbitrary answers
// (status and body) to a send and to a media lookup. Properties: no
// panic; a non-2xx status is an error with one of the documented codes;
// a 2xx answer without a message id, or a media answer without a usable
// URL, is an error too, never a success with empty data.
func FuzzGraphAnswer(f *testing.F) {
	for _, s := range graphSeeds(f) {
		f.Add(uint16(s.Status), s.Body)
	}
	f.Add(uint16(200), []byte(`{"messages":[{"id":""}]}`))
	f.Add(uint16(429), []byte(`{"error":{"code":130429,"message":"rate limit"}}`))
	f.Add(uint16(200), []byte(`{"url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1","mime_type":"image/jpeg","file_size":"12"}`))

	graph := &doortest.Scripted{}
	srv := httptest.NewServer(graph)
	f.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.HTTPTimeout = 5 * time.Second
	a, err := whatsappcloud.New(cfg, newRecEngine())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = a.Close() })
	known := map[conversation.Code]bool{conversation.Invalid: true, conversation.Unavailable: true, conversation.Unauthorized: true,
		conversation.NotFound: true, conversation.Conflict: true, conversation.Internal: true}

	var n atomic.Int64 // a new recipient and outbound id each time: no pacing, no "sent already"
	f.Fuzz(func(t *testing.T, code uint16, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		st := doortest.FuzzStatus(code)
		graph.Set(doortest.HTTPAnswer{Status: st, Body: b})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		i := strconv.FormatInt(n.Add(1), 10)
		o := conversation.Outbound{ID: "o-fuzz-" + i, ConversationKey: whatsappcloud.ConversationKey("49151" + i), Channel: conversation.ChannelWhatsApp, Kind: conversation.KindAnswer, Text: "hello"}
		sendErr := a.Send(ctx, o)
		m, mediaErr := a.ResolveMedia(ctx, "1234567890")
		for what, err := range map[string]error{"send": sendErr, "media": mediaErr} {
			if err == nil {
				continue
			}
			var ra *conversation.RetryAfterError
			if c := conversation.ErrorCode(err); !known[c] && !errors.As(err, &ra) {
				t.Errorf("%s: status %d: error %v has code %q, not a documented one", what, st, err, c)
			}
		}
		if st >= 300 {
			if sendErr == nil || mediaErr == nil {
				t.Errorf("status %d answered without an error (send %v, media %v)", st, sendErr, mediaErr)
			}
		}
		if mediaErr == nil && m.URL == "" {
			t.Errorf("media resolved to an empty URL from %q", b)
		}
	})
}
