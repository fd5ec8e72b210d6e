package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	tgfake "github.com/tier0/tier0/adapters/fakes/telegram"
	tgadapter "github.com/tier0/tier0/adapters/telegram"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// cutProxy is a TCP proxy between one replica and a server it depends on
// (Redis, the Bot API). Cut makes the server vanish for that replica as a
// crash or a network partition would: every open connection is closed
// and new ones are refused, while the server itself stays up for the
// other replicas.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startCutProxy listens on a loopback port and forwards every connection
// to target.
func startCutProxy(tb testing.TB, target string) *cutProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	tb.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the host:port the replica dials instead of the target.
func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

// Cut closes the listener and every open connection; from then on the
// replica's dials are refused.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by Cut
		}
		p.wg.Go(func() { p.pipe(c) })
	}
}

// track registers conns as open; false when the proxy is cut already.
func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *cutProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// pipe copies bytes both ways between the replica's connection and one
// to the target, until either side closes (or Cut).
func (p *cutProxy) pipe(down net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = down.Close()
		return
	}
	if !p.track(down, up) {
		_ = down.Close()
		_ = up.Close()
		return
	}
	defer p.untrack(down, up)
	var both sync.WaitGroup
	copyClose := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	both.Go(func() { copyClose(up, down) })
	both.Go(func() { copyClose(down, up) })
	both.Wait()
}

// tgTap is one replica's HTTP way to the Telegram fake: a reverse proxy
// that records the getUpdates calls and the sendMessage calls (chat and
// text) passing through it, and holds every sendMessage answer for
// sendLatency after the fake recorded the message, so a crash finds sends
// Telegram accepted whose answer never reached the replica.
type tgTap struct {
	url string

	mu       sync.Mutex
	polls    int
	sends    []tapSend
	inflight int // sendMessage calls not answered yet
}

// tapSend is one sendMessage call as it entered the tap.
type tapSend struct {
	chat int64
	text string
}

func newTGTap(tb testing.TB, target string) *tgTap {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	t := &tgTap{}
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
	// A replica that vanishes mid-call is what this test is about.
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/getUpdates"):
			t.mu.Lock()
			t.polls++
			t.mu.Unlock()
		case strings.HasSuffix(r.URL.Path, "/sendMessage"):
			chat, text := sendMessageParams(r)
			t.mu.Lock()
			t.sends = append(t.sends, tapSend{chat: chat, text: text})
			t.inflight++
			t.mu.Unlock()
			defer func() {
				t.mu.Lock()
				t.inflight--
				t.mu.Unlock()
			}()
		}
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	t.url = srv.URL
	return t
}

// sendMessageParams reads chat_id and text of a sendMessage call (the SDK
// sends multipart/form-data) and leaves the body for the proxy.
func sendMessageParams(r *http.Request) (int64, string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return 0, ""
	}
	form := r.Clone(r.Context())
	form.Body = io.NopCloser(bytes.NewReader(body))
	_ = form.ParseMultipartForm(1 << 20)
	chat, _ := strconv.ParseInt(form.FormValue("chat_id"), 10, 64)
	return chat, form.FormValue("text")
}

// counts returns the getUpdates calls, the sendMessage calls and the
// sendMessage calls in flight so far.
func (t *tgTap) counts() (polls, sends, inflight int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.polls, len(t.sends), t.inflight
}

// sent returns the sendMessage calls so far, in order.
func (t *tgTap) sent() []tapSend {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]tapSend(nil), t.sends...)
}

// answersVia is answers over the sendMessage calls a tap saw.
func answersVia(sends []tapSend, u shopperUpdate) int {
	n := 0
	for _, s := range sends {
		if s.chat == u.chat && strings.Contains(s.text, "("+u.productID+")") {
			n++
		}
	}
	return n
}

// startCrashReplica is startChannelServer for a replica whose store goes
// away under it: its Close may report errors (the store is unreachable),
// so the cleanup only logs them, and a Close that does not return is
// left behind rather than blocking the test's end.
func startCrashReplica(tb testing.TB, configPath, dataDir string, env map[string]string) *Main {
	tb.Helper()
	logs, err := os.Create(filepath.Join(tb.TempDir(), "server.log"))
	if err != nil {
		tb.Fatalf("create server log: %v", err)
	}
	m := NewMain()
	m.Getenv = func(k string) string { return env[k] }
	m.Stdout, m.Stderr = logs, logs
	ctx := context.Background()
	if err := m.ParseFlags(ctx, []string{"-config", configPath, "-listen", "127.0.0.1:0", "-data", dataDir}); err != nil {
		tb.Fatalf("ParseFlags: %v", err)
	}
	tb.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- m.Close() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Logf("Close of the crashed replica: %v", err)
			}
		case <-time.After(crashCloseLimit):
			tb.Errorf("Close of the crashed replica did not return within %s", crashCloseLimit)
		}
		if tb.Failed() {
			b, _ := os.ReadFile(logs.Name())
			tb.Logf("crashed replica's server log:\n%s", b)
		}
		_ = logs.Close()
	})
	if err := m.Run(ctx); err != nil {
		b, _ := os.ReadFile(logs.Name())
		tb.Fatalf("Run: %v\nserver log:\n%s", err, b)
	}
	return m
}

// crashCloseLimit bounds Close of a replica whose Redis and Telegram are
// gone: its own timeouts (HTTP shutdown, send drain, outbox finish) are
// all shorter.
const crashCloseLimit = 45 * time.Second

// The polling leader does not shut down but vanishes: both its Redis and
// its Telegram connections are cut at once (a crash, or a partition that
// isolates it) while shoppers in several chats keep writing. The other
// replica takes the lead once the dead leader's lease (leader.ttl) runs
// out, and in the end every update was handled by the engine once and
// answered at least once. Telegram may show a few answers twice: only
// those a dead replica had in flight at the cut (Telegram accepted the
// send, but its "sent" mark never reached Redis), at most one per chat,
// each the last answer the dead leader sent into that chat.
func TestChannelTelegramLeaderCrash(t *testing.T) {
	redis := redistest.Start(t)
	tg := tgfake.Start(tgfake.Config{})
	t.Cleanup(tg.Close)

	const ttl = 2 * time.Second
	withPolling := func(apiURL string) func(c map[string]any) {
		return func(c map[string]any) {
			yamlSet(c, "telegram.api_url", apiURL)
			yamlSet(c, "telegram.mode", "polling")
			yamlSet(c, "leader.ttl", ttl.String())
		}
	}

	// Replica A reaches Redis and Telegram only through proxies that the
	// test cuts; replica B talks to both directly (through a tap).
	tapA, tapB := newTGTap(t, tg.URL()), newTGTap(t, tg.URL())
	redisA := startCutProxy(t, redis.Addr())
	tapAURL, err := url.Parse(tapA.url)
	if err != nil {
		t.Fatal(err)
	}
	tgA := startCutProxy(t, tapAURL.Host)

	envA := map[string]string{"TIER0_REDIS_ADDR": redisA.Addr(), "TIER0_TELEGRAM_TOKEN": tg.Token()}
	a := startCrashReplica(t, writeChannelConfig(t, shopSampleConfig, withPolling("http://"+tgA.Addr())), t.TempDir(), envA)
	if a.Config.Store.Driver != "redis" || a.Config.Leader.TTL != ttl {
		t.Fatalf("replica A: store %q, leader ttl %s; want redis, %s", a.Config.Store.Driver, a.Config.Leader.TTL, ttl)
	}
	// A started alone, so it leads; B starts once A polls.
	waitFor(t, "replica A polls", failoverWait, func() error { return polled(tapA) })
	envB := map[string]string{"TIER0_REDIS_ADDR": redis.Addr(), "TIER0_TELEGRAM_TOKEN": tg.Token()}
	b, _ := startChannelServer(t, writeChannelConfig(t, shopSampleConfig, withPolling(tapB.url)), t.TempDir(), envB)

	// Seven chats, six price questions each: every (chat, product) pair
	// is distinct, so each answer names the question it answers.
	const chats = 7
	var updates []shopperUpdate
	for i := range 6 * chats {
		p := priceQuestions[i%len(priceQuestions)]
		updates = append(updates, shopperUpdate{chat: 7101 + int64(i%chats), productID: p[0], text: fmt.Sprintf("How much does the %s cost?", p[1])})
	}
	send := func(u shopperUpdate) {
		from := models.User{ID: u.chat, FirstName: fmt.Sprintf("Shopper %d", u.chat)}
		tg.EnqueueMessage(models.Message{Chat: models.Chat{ID: u.chat, Type: models.ChatTypePrivate, FirstName: from.FirstName}, From: &from, Text: u.text})
	}
	unanswered := func(us []shopperUpdate) error {
		sent := tg.Sent()
		var missing []string
		for _, u := range us {
			if answers(sent, u) == 0 {
				missing = append(missing, fmt.Sprintf("%d:%s", u.chat, u.productID))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no answer yet to %v (%d messages sent)", missing, len(sent))
		}
		return nil
	}

	// 1. A leads and answers the first question of every chat.
	first, rest := updates[:chats], updates[chats:]
	for _, u := range first {
		send(u)
	}
	waitFor(t, "answers before the crash", failoverWait, func() error { return unanswered(first) })
	if p, _, _ := tapB.counts(); p != 0 {
		t.Fatalf("replica B polled %d times while A led", p)
	}

	// 2. Shoppers keep writing, one message every 40 ms. After the first
	// cutAfter of them, both of A's connections are cut at once, at the
	// first moment A has a send in flight (Telegram has accepted a message
	// whose answer A never gets); Telegram first, so a send A saw accepted
	// just before still gets its "sent" mark into Redis or is A's last.
	const (
		cutAfter = 10
		interval = 40 * time.Millisecond
	)
	var (
		cutAt         time.Time
		cutIndex      int // updates of rest sent before the cut
		inflightAtCut int // sendMessage calls of A at its tap just before
	)
	cut := func(i int) {
		_, _, inflightAtCut = tapA.counts()
		tgA.Cut()
		redisA.Cut()
		cutAt, cutIndex = time.Now(), i
	}
	for i, u := range rest {
		send(u)
		next := time.Now().Add(interval)
		for cutAt.IsZero() && i+1 >= cutAfter && time.Now().Before(next) {
			if _, _, n := tapA.counts(); n > 0 {
				cut(i + 1)
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Until(next))
	}
	if cutAt.IsZero() { // A never had a send in flight: cut all the same
		cut(len(rest))
	}
	after := rest[cutIndex:]

	// 3. B takes the lead once A's lease runs out: within ttl plus a
	// renew interval of the campaign, plus whatever A's lease had left.
	waitFor(t, "replica B polls", failoverWait, func() error { return polled(tapB) })
	takeover := time.Since(cutAt)
	pollsA, sendsA, _ := tapA.counts()

	// 4. Every message is answered; what A could not deliver, B does.
	waitFor(t, "every question answered", failoverWait, func() error { return unanswered(updates) })
	answeredAt := time.Since(cutAt)

	// Nothing is left to deliver: every outbox is empty (read through B),
	// so no retry can add a message later.
	ctx, cancel := context.WithTimeout(context.Background(), failoverWait)
	defer cancel()
	received := map[int64]int{}
	for chat := int64(7101); chat < 7101+chats; chat++ {
		key := tgadapter.ConversationKey(chat, 0)
		waitFor(t, "outbox of "+key+" drained", failoverWait, func() error {
			pending, err := b.store.Pending(ctx, key, 10)
			if err == nil && len(pending) > 0 {
				err = fmt.Errorf("%d pending", len(pending))
			}
			return err
		})
		evs, err := b.store.Events(ctx, key, 1000)
		if err != nil {
			t.Fatalf("events of chat %d: %v", chat, err)
		}
		for _, e := range evs {
			if e.Type == conversation.EventMessageReceived {
				received[chat]++
			}
		}
	}

	// 5. A is closed although its Redis and Telegram are gone: Close
	// returns in bounded time (errors are expected).
	closeStart := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close of the crashed replica took %s (err: %v)", time.Since(closeStart).Round(time.Millisecond), err)
	case <-time.After(crashCloseLimit):
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("Close of the crashed replica did not return within %s; goroutines:\n%s", crashCloseLimit, buf)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close of replica B: %v", err)
	}

	// What the fake recorded is final now.
	if p, s, _ := tapA.counts(); p != pollsA || s != sendsA {
		t.Errorf("replica A reached Telegram after B took over: %d more getUpdates, %d more sendMessage", p-pollsA, s-sendsA)
	}
	sent, viaA, viaB := tg.Sent(), tapA.sent(), tapB.sent()
	lastA := map[int64]string{} // chat → text of A's last sendMessage into it
	for _, s := range viaA {
		lastA[s.chat] = s.text
	}
	perChat := map[int64]int{}
	duplicates := 0
	dupChats := map[int64]int{}
	for _, u := range updates {
		perChat[u.chat]++
		n := answers(sent, u)
		switch {
		case n == 0:
			t.Errorf("chat %d, %s: never answered", u.chat, u.productID)
		case n > 1:
			duplicates += n - 1
			dupChats[u.chat]++
			if n > 2 {
				t.Errorf("chat %d, %s: answered %d times; a dead replica can leave at most one copy behind", u.chat, u.productID, n)
			}
			if !strings.Contains(lastA[u.chat], "("+u.productID+")") {
				t.Errorf("chat %d, %s: answered twice, but it was not the last answer A sent into the chat (A's last: %q)", u.chat, u.productID, lastA[u.chat])
			}
		}
	}
	for _, u := range after {
		if answersVia(viaB, u) == 0 {
			t.Errorf("chat %d, %s (asked after the cut): B never sent its answer", u.chat, u.productID)
		}
	}
	for chat, want := range perChat {
		if received[chat] != want {
			t.Errorf("chat %d: the engine took %d messages, want %d (each update once)", chat, received[chat], want)
		}
		if dupChats[chat] > 1 {
			t.Errorf("chat %d: %d answers sent twice; a dead replica has at most one send per chat in flight", chat, dupChats[chat])
		}
	}
	if duplicates > chats {
		t.Errorf("%d answers sent twice; at most %d (one per chat) could be in flight at the cut", duplicates, chats)
	}
	t.Logf("cut after %d of %d messages with %d sends of A in flight at its tap; B polled %s after the cut (ttl %s); all answered %s after the cut; %d messages sent, %d answers duplicated (A sent %d, B sent %d)",
		chats+cutIndex, len(updates), inflightAtCut, takeover.Round(time.Millisecond), ttl, answeredAt.Round(time.Millisecond), len(sent), duplicates, len(viaA), len(viaB))
}

// waitFor polls cond every 20 ms until it returns nil, failing the test
// with cond's last answer after limit (a safety net, not a speed
// assertion).
func waitFor(tb testing.TB, what string, limit time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// polled is nil once the replica behind t has called getUpdates.
func polled(t *tgTap) error {
	if p, _, _ := t.counts(); p == 0 {
		return errors.New("no getUpdates call yet")
	}
	return nil
}
