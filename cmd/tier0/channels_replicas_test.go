package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	tgadapter "github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// pollCounter is one replica's way to the Telegram fake: a reverse proxy
// that counts the getUpdates calls passing through it, so a test sees
// which replica polls, and adds a platform's latency to every sendMessage
// answer, so shutting a replica down finds sends in flight.
type pollCounter struct {
	url   string
	polls atomic.Int64
}

// sendLatency is how long the proxy holds a sendMessage answer (the
// message is recorded by the fake before): a real round trip to Telegram.
const sendLatency = 100 * time.Millisecond

func newPollCounter(tb testing.TB, target string) *pollCounter {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	p := &pollCounter{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.HasSuffix(r.Request.URL.Path, "/sendMessage") {
			select {
			case <-time.After(sendLatency):
			case <-r.Request.Context().Done():
			}
		}
		return nil
	}
	// A long poll or a send cut short by a closing replica is expected.
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/getUpdates") {
			p.polls.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// failoverWait bounds the waits across a failover: the follower campaigns
// every lease ttl / 3 (5 s by default). A safety net, not a speed
// assertion.
const failoverWait = 60 * time.Second

// shopperUpdate is one message a shopper sends: a price question about
// one product, so its answer names the product's id exactly once.
type shopperUpdate struct {
	chat      int64
	productID string
	text      string
}

// priceQuestions are the shop catalogue's products as price questions;
// the catalogue answers each with "The <name> (<id>) costs …".
var priceQuestions = [][2]string{
	{"FB-APEX120", "Firnline Apex 120"}, {"FB-APEX100", "Firnline Apex 100"}, {"FB-APEX90W", "Firnline Apex 90 W"},
	{"FB-TRAIL110", "Firnline Trailbreaker 110"}, {"HK-CARVE130", "Hochkar Carve 130"}, {"HK-ROAM110", "Hochkar Roam 110 GW"},
	{"HK-DRIFT100", "Hochkar Drift 100 WTR"}, {"FB-PIXIE60", "Firnline Pixie 60 Junior"}, {"BR-RACE16", "Bergriegel Race 16"},
	{"BR-ALLRIDE12", "Bergriegel Allride 12 GW"}, {"BR-MULTI13", "Bergriegel Multi 13 MNC"}, {"BR-SKYWARD11", "Bergriegel Skyward 11 Tour"},
	{"SB-PIVOT14", "Steinbock Pivot 14"}, {"SB-EASY10", "Steinbock Easy 10 WTR"}, {"SB-KIDS7", "Steinbock Kids 7"},
	{"GW-SLALOM68", "Gletscherwind Slalomist 68"}, {"GW-CARVER76", "Gletscherwind Carver 76"}, {"GW-ALLROUND84", "Gletscherwind Allrounder 84"},
	{"GW-FREERIDE98", "Gletscherwind Freerider 98"}, {"NS-EASYGLIDE78", "Nordschnee Easy Glide 78"}, {"NS-TOURFUCHS88", "Nordschnee Tourenfuchs 88"},
	{"NS-POWDER108", "Nordschnee Tiefschnee 108"}, {"NS-KIDDO70", "Nordschnee Kiddo 70"}, {"GH-SUMMIT", "Gipfelhut Summit MIPS"},
	{"GH-LITE", "Gipfelhut Leichtsinn"}, {"GH-TOURPRO", "Gipfelhut Tour Pro"}, {"GH-JUNIOR", "Gipfelhut Junior"},
	{"GH-VISOR", "Gipfelhut Visor Shield"}, {"KS-SPHERE", "Klarsicht Sphere S2"}, {"KS-PHOTO", "Klarsicht Phototrop"},
}

// answers counts the messages sent to u's chat that answer u.
func answers(sent []tgfake.SentMessage, u shopperUpdate) int {
	n := 0
	for _, m := range sent {
		if m.ChatID == u.chat && strings.Contains(m.Plain, "("+u.productID+") costs") {
			n++
		}
	}
	return n
}

// Two replicas share one Redis and one Telegram bot in long-polling mode:
// exactly one of them polls. Shoppers in several chats keep writing while
// the polling replica shuts down; the other takes over, and in the end
// every update was handled once and answered exactly once (no answer
// missing, none sent twice).
func TestChannelTelegramReplicaFailover(t *testing.T) {
	redis := redistest.Start(t)
	tg := tgfake.Start(tgfake.Config{})
	t.Cleanup(tg.Close)
	env := map[string]string{"TIER0_REDIS_ADDR": redis.Addr(), "TIER0_TELEGRAM_TOKEN": tg.Token()}

	var (
		replicas [2]*Main
		counters [2]*pollCounter
	)
	for i := range replicas {
		counters[i] = newPollCounter(t, tg.URL())
		cfg := writeChannelConfig(t, shopSampleConfig, func(c map[string]any) {
			yamlSet(c, "telegram.api_url", counters[i].url)
			yamlSet(c, "telegram.mode", "polling")
		})
		replicas[i], _ = startChannelServer(t, cfg, t.TempDir(), env)
		if replicas[i].Config.Store.Driver != "redis" {
			t.Fatalf("replica %d store = %q, want redis", i, replicas[i].Config.Store.Driver)
		}
	}

	const chats = 6
	var updates []shopperUpdate
	for i, p := range priceQuestions {
		updates = append(updates, shopperUpdate{chat: 7001 + int64(i%chats), productID: p[0], text: fmt.Sprintf("How much does the %s cost?", p[1])})
	}
	var updateIDs []int64
	send := func(u shopperUpdate) {
		from := models.User{ID: u.chat, FirstName: fmt.Sprintf("Shopper %d", u.chat)}
		id, _ := tg.EnqueueMessage(models.Message{Chat: models.Chat{ID: u.chat, Type: models.ChatTypePrivate, FirstName: from.FirstName}, From: &from, Text: u.text})
		updateIDs = append(updateIDs, id)
	}
	// waitAnswered waits until every update in us has an answer.
	waitAnswered := func(what string, us []shopperUpdate, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			sent := tg.Sent()
			var missing []string
			for _, u := range us {
				if answers(sent, u) == 0 {
					missing = append(missing, fmt.Sprintf("%d:%s", u.chat, u.productID))
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no answer within %s to %v (%d messages sent)", what, limit, missing, len(sent))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 1. Exactly one replica polls; it answers the first messages.
	first, rest := updates[:12], updates[12:]
	for _, u := range first {
		send(u)
	}
	waitAnswered("before the failover", first, failoverWait)
	polls := [2]int64{counters[0].polls.Load(), counters[1].polls.Load()}
	if (polls[0] == 0) == (polls[1] == 0) {
		t.Fatalf("getUpdates calls per replica = %v, want exactly one replica polling", polls)
	}
	leader, follower := 0, 1
	if polls[0] == 0 {
		leader, follower = 1, 0
	}

	// 2. The leader shuts down while shoppers keep writing: a burst is
	// queued, and once the leader has answered the first of it (so it is
	// in the middle of the batch) it closes; more messages arrive while it
	// closes and after.
	burst, trickle := rest[:12], rest[12:]
	for _, u := range burst {
		send(u)
	}
	waitAnswered("the start of the burst", burst[:1], failoverWait)
	closed := make(chan error, 1)
	go func() { closed <- replicas[leader].Close() }()
	for _, u := range trickle {
		time.Sleep(100 * time.Millisecond)
		send(u)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close of the leader: %v", err)
		}
	case <-time.After(failoverWait):
		t.Fatalf("Close of the leader did not return within %s", failoverWait)
	}
	afterClose := counters[leader].polls.Load()

	// 3. The follower takes over and answers the rest.
	waitAnswered("after the failover", rest, failoverWait)
	if counters[follower].polls.Load() == 0 {
		t.Errorf("the follower never polled, yet the rest was answered")
	}
	if n := counters[leader].polls.Load(); n != afterClose {
		t.Errorf("the closed replica polled %d more times", n-afterClose)
	}

	// 4. Nothing is left to deliver: every outbox is empty, so no retry
	// can add a message later. Then the follower stops too, and what the
	// fake recorded is final.
	f := replicas[follower]
	ctx, cancel := context.WithTimeout(context.Background(), failoverWait)
	defer cancel()
	for chat := int64(7001); chat < 7001+chats; chat++ {
		key := tgadapter.ConversationKey(chat, 0)
		for {
			pending, err := f.store.Pending(ctx, key, 10)
			if err == nil && len(pending) == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("outbox of %s not drained: %d pending, %v", key, len(pending), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	received := map[int64]int{}
	for chat := int64(7001); chat < 7001+chats; chat++ {
		evs, err := f.store.Events(ctx, tgadapter.ConversationKey(chat, 0), 1000)
		if err != nil {
			t.Fatalf("events of chat %d: %v", chat, err)
		}
		for _, e := range evs {
			if e.Type == conversation.EventMessageReceived {
				received[chat]++
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close of the follower: %v", err)
	}

	sent := tg.Sent()
	perChat := map[int64]int{}
	for i, u := range updates {
		perChat[u.chat]++
		if n := answers(sent, u); n != 1 {
			t.Errorf("chat %d, %s: answered %d times, want exactly once", u.chat, u.productID, n)
		}
		if got := tg.Deliveries(updateIDs[i]); got == 0 {
			t.Errorf("update %d (chat %d, %s) was never fetched with getUpdates", updateIDs[i], u.chat, u.productID)
		}
	}
	for chat, want := range perChat {
		if got := len(tg.SentTo(chat)); got != want {
			t.Errorf("chat %d got %d messages for %d questions, want one answer each", chat, got, want)
		}
		if received[chat] != want {
			t.Errorf("chat %d: the engine took %d messages, want %d (each update once)", chat, received[chat], want)
		}
	}
	redelivered := 0
	for _, id := range updateIDs {
		if tg.Deliveries(id) > 1 {
			redelivered++
		}
	}
	t.Logf("leader replica %d polled %d times, follower %d; %d of %d updates were delivered to getUpdates more than once",
		leader, afterClose, counters[follower].polls.Load(), redelivered, len(updates))
}
