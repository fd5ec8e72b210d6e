package whatsapp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/tier0/tier0/adapters/whatsapp"
	"github.com/tier0/tier0/conversation"
)

// waitLimit bounds every wait so a bug fails the test instead of hanging
// it; it is a safety net, not a speed assertion.
const waitLimit = 20 * time.Second

// Fixture addresses.
var (
	shopPN     = types.NewJID("4930111111", types.DefaultUserServer)
	shopperPN  = types.NewJID("4915112345678", types.DefaultUserServer)
	shopperLID = types.NewJID("123456789012345", types.HiddenUserServer)
	otherPN    = types.NewJID("4917699999999", types.DefaultUserServer)
	groupJID   = types.NewJID("120363000000000001", types.GroupServer)
)

// sentMessage is one SendMessage call of the fake client.
type sentMessage struct {
	to  types.JID
	msg *waE2E.Message
	id  types.MessageID
}

// text returns the message's text, whichever field carries it.
func (s sentMessage) text() string {
	if t := s.msg.GetConversation(); t != "" {
		return t
	}
	return s.msg.GetExtendedTextMessage().GetText()
}

type chatPresence struct {
	chat  types.JID
	state types.ChatPresence
}

type readReceipt struct {
	ids          []types.MessageID
	chat, sender types.JID
}

// fakeClient stands in for *whatsmeow.Client: tests emit event fixtures
// into the adapter's handlers and look at what it sent.
type fakeClient struct {
	mu        sync.Mutex
	handlers  map[uint32]func(any)
	nextID    uint32
	paired    bool
	loggedIn  bool
	connects  int
	connectFn func(n int) error // called on each Connect (1-based count); nil: succeed
	sendErr   func(to types.JID, id types.MessageID) error
	sent      []sentMessage
	presence  []types.Presence
	chatPres  []chatPresence
	reads     []readReceipt
	lidToPN   map[types.JID]types.JID
	votes     map[types.MessageID][]string // vote message id → option names voted for
	qr        chan whatsmeow.QRChannelItem
	pairCode  string
	pairPhone string

	connectCh  chan int         // gets the count after each Connect
	sentCh     chan sentMessage // gets each sent message
	composing  chan types.JID   // gets the chat of each "composing"
	readCh     chan readReceipt // gets each read receipt
	disconnect chan struct{}    // gets a value on each Disconnect
}

var _ whatsapp.Client = (*fakeClient)(nil)

func newFakeClient() *fakeClient {
	return &fakeClient{
		handlers:   make(map[uint32]func(any)),
		paired:     true,
		lidToPN:    make(map[types.JID]types.JID),
		votes:      make(map[types.MessageID][]string),
		connectCh:  make(chan int, 64),
		sentCh:     make(chan sentMessage, 256),
		composing:  make(chan types.JID, 64),
		readCh:     make(chan readReceipt, 256),
		disconnect: make(chan struct{}, 64),
	}
}

// emit delivers an event to every registered handler, as whatsmeow does.
func (f *fakeClient) emit(evt any) {
	f.mu.Lock()
	hs := make([]func(any), 0, len(f.handlers))
	for _, h := range f.handlers {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}

func (f *fakeClient) setLoggedIn(v bool) {
	f.mu.Lock()
	f.loggedIn = v
	f.mu.Unlock()
}

func (f *fakeClient) Connect(ctx context.Context) error {
	f.mu.Lock()
	f.connects++
	n, fn := f.connects, f.connectFn
	f.mu.Unlock()
	var err error
	if fn != nil {
		err = fn(n)
	}
	f.connectCh <- n
	return err
}

func (f *fakeClient) Disconnect() {
	f.setLoggedIn(false)
	f.disconnect <- struct{}{}
}

func (f *fakeClient) IsLoggedIn() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loggedIn
}

func (f *fakeClient) Paired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paired
}

func (f *fakeClient) AddEventHandler(h func(any)) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.handlers[f.nextID] = h
	return f.nextID
}

func (f *fakeClient) RemoveEventHandler(id uint32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.handlers[id]
	delete(f.handlers, id)
	return ok
}

func (f *fakeClient) SendMessage(_ context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) error {
	f.mu.Lock()
	fn := f.sendErr
	f.mu.Unlock()
	if fn != nil {
		if err := fn(to, id); err != nil {
			return err
		}
	}
	s := sentMessage{to: to, msg: proto.Clone(msg).(*waE2E.Message), id: id}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	f.mu.Unlock()
	f.sentCh <- s
	return nil
}

func (f *fakeClient) SendPresence(_ context.Context, state types.Presence) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.presence = append(f.presence, state)
	return nil
}

func (f *fakeClient) SendChatPresence(_ context.Context, chat types.JID, state types.ChatPresence) error {
	f.mu.Lock()
	f.chatPres = append(f.chatPres, chatPresence{chat: chat, state: state})
	f.mu.Unlock()
	if state == types.ChatPresenceComposing {
		select {
		case f.composing <- chat:
		default:
		}
	}
	return nil
}

func (f *fakeClient) MarkRead(_ context.Context, ids []types.MessageID, _ time.Time, chat, sender types.JID) error {
	r := readReceipt{ids: ids, chat: chat, sender: sender}
	f.mu.Lock()
	f.reads = append(f.reads, r)
	f.mu.Unlock()
	f.readCh <- r
	return nil
}

func (f *fakeClient) DecryptPollVote(_ context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	f.mu.Lock()
	names, ok := f.votes[vote.Info.ID]
	f.mu.Unlock()
	if !ok {
		return nil, errors.New("original message secret key not found")
	}
	out := &waE2E.PollVoteMessage{}
	for _, n := range names {
		h := sha256.Sum256([]byte(n))
		out.SelectedOptions = append(out.SelectedOptions, h[:])
	}
	return out, nil
}

func (f *fakeClient) PNForLID(_ context.Context, lid types.JID) (types.JID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lidToPN[lid], nil
}

func (f *fakeClient) LIDForPN(_ context.Context, pn types.JID) (types.JID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for l, p := range f.lidToPN {
		if p == pn {
			return l, nil
		}
	}
	return types.EmptyJID, nil
}

func (f *fakeClient) Download(_ context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return []byte("file of " + msg.GetDirectPath()), nil
}

func (f *fakeClient) GetQRChannel(context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return f.qr, nil
}

func (f *fakeClient) PairPhone(_ context.Context, phone string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairPhone = phone
	return f.pairCode, nil
}

func (f *fakeClient) sentMessages() []sentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMessage(nil), f.sent...)
}

func (f *fakeClient) chatPresences() []chatPresence {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatPresence(nil), f.chatPres...)
}

// nextSent returns the next message the adapter sent.
func (f *fakeClient) nextSent(tb testing.TB) sentMessage {
	tb.Helper()
	select {
	case s := <-f.sentCh:
		return s
	case <-time.After(waitLimit):
		tb.Fatal("the adapter sent nothing")
		return sentMessage{}
	}
}

// waitConnect waits for the n-th Connect call.
func (f *fakeClient) waitConnect(tb testing.TB, n int) {
	tb.Helper()
	for {
		select {
		case got := <-f.connectCh:
			if got >= n {
				return
			}
		case <-time.After(waitLimit):
			tb.Fatalf("Connect was not called %d times", n)
		}
	}
}

// recordingHandler stands in for the engine: it records the messages it
// is handed and can hold them up.
type recordingHandler struct {
	got   chan conversation.Message
	hold  func(m conversation.Message) // called before returning, when set
	mu    sync.Mutex
	count int
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{got: make(chan conversation.Message, 256)}
}

func (r *recordingHandler) Handle(_ context.Context, m conversation.Message) (conversation.Result, error) {
	r.mu.Lock()
	r.count++
	hold := r.hold
	r.mu.Unlock()
	r.got <- m
	if hold != nil {
		hold(m)
	}
	return conversation.Result{Phase: conversation.PhaseBot}, nil
}

// setHold makes every later Handle call hold(m) before returning.
func (r *recordingHandler) setHold(hold func(conversation.Message)) {
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
}

func (r *recordingHandler) next(tb testing.TB) conversation.Message {
	tb.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(waitLimit):
		tb.Fatal("the handler received no message")
		return conversation.Message{}
	}
}

// mapRefs is a conversation.Refs in memory.
type mapRefs struct {
	mu sync.Mutex
	m  map[string]string
}

func newMapRefs() *mapRefs { return &mapRefs{m: make(map[string]string)} }

func (r *mapRefs) PutRef(_ context.Context, ns, key, value string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[ns+"\x00"+key] = value
	return nil
}

func (r *mapRefs) GetRef(_ context.Context, ns, key string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[ns+"\x00"+key]
	if !ok {
		return "", conversation.ErrNotFound
	}
	return v, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is an adapter running on a fake client.
type harness struct {
	a       *whatsapp.Adapter
	handler *recordingHandler // when Run was given one
	cli     *fakeClient
	logs    *syncBuffer
	done    chan error
	stop    context.CancelFunc
}

// newAdapter builds an adapter on a fresh fake client without running it.
func newAdapter(tb testing.TB, cfg whatsapp.Config, h whatsapp.Handler) (*whatsapp.Adapter, *fakeClient, *syncBuffer) {
	tb.Helper()
	cli := newFakeClient()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.TypingDelay == 0 {
		cfg.TypingDelay = -1
	}
	a, err := whatsapp.NewWithClient(cfg, cli, h, log)
	if err != nil {
		tb.Fatalf("NewWithClient: %v", err)
	}
	return a, cli, logs
}

// run starts Run on a fake client and waits until it connected; connected
// also emits events.Connected.
func run(tb testing.TB, cfg whatsapp.Config, h whatsapp.Handler, connected bool) *harness {
	tb.Helper()
	a, cli, logs := newAdapter(tb, cfg, h)
	hs := runAdapter(tb, a, cli, logs, connected)
	hs.handler, _ = h.(*recordingHandler)
	return hs
}

func runAdapter(tb testing.TB, a *whatsapp.Adapter, cli *fakeClient, logs *syncBuffer, connected bool) *harness {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{a: a, cli: cli, logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { h.done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			tb.Error("Run did not return after cancel")
		}
	})
	cli.waitConnect(tb, 1)
	if connected {
		cli.setLoggedIn(true)
		cli.emit(&events.Connected{})
	}
	return h
}

// wait returns Run's result.
func (h *harness) wait(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for Cleanup
		return err
	case <-time.After(waitLimit):
		tb.Fatal("Run did not return")
		return nil
	}
}

// Event fixtures.

var fixtureTime = time.Now()

func info(chat, sender types.JID, id string) types.MessageInfo {
	return types.MessageInfo{
		MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsGroup: chat.Server == types.GroupServer},
		ID:            id,
		PushName:      "Sam Shopper",
		Timestamp:     fixtureTime,
		Type:          "text",
	}
}

func textEvent(chat, sender types.JID, id, text string) *events.Message {
	return &events.Message{Info: info(chat, sender, id), Message: &waE2E.Message{Conversation: proto.String(text)}}
}

func dm(id, text string) *events.Message { return textEvent(shopperPN, shopperPN, id, text) }
