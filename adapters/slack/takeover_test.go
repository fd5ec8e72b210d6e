package slack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
	"github.com/tier0/tier0/adapters/slack"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/redisstore"
	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// watchedRefs is the shared store as one replica sees it, telling the
// test when that replica has looked up a message's placeholder.
type watchedRefs struct {
	*redisstore.Store
	lookedUp chan struct{} // closed after the first placeholder lookup
}

func (r *watchedRefs) GetRef(ctx context.Context, ns, key string) (string, error) {
	v, err := r.Store.GetRef(ctx, ns, key)
	if ns == "slack:placeholder" {
		select {
		case <-r.lookedUp:
		default:
			close(r.lookedUp)
		}
	}
	return v, err
}

// A retry that takes over an earlier attempt's placeholder never deletes
// it (nor turns it into an apology): the earlier attempt's reply,
// delivered by that attempt's replica, may stand in it already. Two
// replicas share one Redis store: replica A's attempt is slower than
// CommitWait (503), posts the placeholder and commits a reply; Slack's
// retry reaches replica B, whose slow duplicate turn takes the
// placeholder over; A delivers its reply into the placeholder; then B's
// turn ends with nothing to say. The customer must see the answer, once.
func TestRetryTakesOverEarlierPlaceholder(t *testing.T) {
	rs, err := redisstore.New(redistest.Start(t).NewClient(), redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	f := startFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	body := f.EventCallback("EvT1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "slow question", TS: thread1})

	// replica starts an adapter on the shared store and returns it with
	// a function delivering the event to it as Slack's attempt n.
	replica := func(eng *recorder, refs conversation.Refs, commitWait time.Duration) (*slack.Adapter, func(n int) int) {
		t.Helper()
		cfg := testConfig(f)
		cfg.PlaceholderAfter = time.Millisecond
		cfg.CommitWait = commitWait
		a, err := slack.New(cfg, eng, refs)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		srv := serve(a)
		t.Cleanup(srv.Close)
		return a, func(n int) int {
			res, err := f.RetryEvent(ctx, srv.URL+"/slack/events", body, n)
			if err != nil {
				t.Error(err)
				return 0
			}
			res.Body.Close()
			return res.StatusCode
		}
	}

	// Replica A: the turn waits until the test lets it commit its reply.
	engA := newRecorder()
	releaseA := make(chan struct{})
	var reply conversation.Outbound
	engA.handle = func(_ context.Context, m conversation.Message) (conversation.Result, error) {
		<-releaseA
		reply = conversation.Outbound{ID: "o1", ConversationKey: m.ConversationKey, Channel: conversation.ChannelSlack, ThreadKey: m.ThreadKey,
			Kind: conversation.KindAnswer, Text: "Here is how.", InReplyTo: m.DedupeKey}
		return conversation.Result{Outbound: []conversation.Outbound{reply}}, nil
	}
	a, deliverA := replica(engA, rs, 50*time.Millisecond)

	// Replica B: its turn (a duplicate: A committed the message) ends
	// only once A's reply stands in the placeholder.
	engB := newRecorder()
	refsB := &watchedRefs{Store: rs, lookedUp: make(chan struct{})}
	replied := make(chan struct{})
	engB.handle = func(context.Context, conversation.Message) (conversation.Result, error) {
		select {
		case <-refsB.lookedUp: // B took the placeholder over
		case <-ctx.Done():
		}
		select {
		case <-replied:
		case <-ctx.Done():
		}
		return conversation.Result{Duplicate: true}, nil
	}
	b, deliverB := replica(engB, refsB, 1500*time.Millisecond)

	if got := deliverA(0); got != http.StatusServiceUnavailable {
		t.Fatalf("attempt on A: status %d, want 503 (slower than CommitWait)", got)
	}
	placeholder := waitMessage(t, f, "A's placeholder", func(m slackfake.Message) bool { return m.Channel == "D1" })
	close(releaseA)
	engA.waitFor(t, "A's turn", func(m []conversation.Message, _ []conversation.AgentAction) bool { return len(m) == 1 })

	retried := make(chan int, 1)
	go func() { retried <- deliverB(1) }()
	select {
	case <-refsB.lookedUp:
	case <-ctx.Done():
		t.Fatal("B never looked for the earlier placeholder")
	}
	// A's turn has returned its reply (it closed releaseA's wait before
	// B's retry): A's sender replaces the placeholder with it.
	if err := a.Close(ctx); err != nil { // A's turn is over
		t.Fatal(err)
	}
	if err := a.Sender().Send(ctx, reply); err != nil {
		t.Fatalf("send the reply: %v", err)
	}
	close(replied)
	if got := <-retried; got != http.StatusOK {
		t.Errorf("retry on B: status %d, want 200", got)
	}
	if err := b.Close(ctx); err != nil { // B's turn is settled
		t.Fatal(err)
	}

	msgs := f.Messages()
	if len(msgs) != 1 || msgs[0].TS != placeholder.TS || msgs[0].Text != "Here is how." {
		t.Fatalf("messages = %+v, want one: A's placeholder replaced by the answer", msgs)
	}
	if n := len(f.Calls("chat.delete")); n != 0 {
		t.Errorf("%d chat.delete calls, want 0 (B must not remove the placeholder it took over)", n)
	}
	if n := len(f.Calls("chat.postMessage")); n != 1 {
		t.Errorf("%d posts, want 1 (A's placeholder, reused)", n)
	}
}
