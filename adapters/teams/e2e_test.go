package teams_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tier0/tier0/adapters/fakes/botframework"
	"github.com/tier0/tier0/adapters/teams"
	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/handoff"
)

// itKnowledge knows one thing: how to reset the VPN.
type itKnowledge struct{}

func (itKnowledge) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	if strings.Contains(strings.ToLower(q.Text), "vpn") {
		return conversation.Answer{
			Text:      "Open the VPN portal and choose Reset token.",
			Citations: []conversation.Citation{{Title: "VPN guide", Source: "it/vpn.md", URL: "https://intranet.example/it/vpn", Section: "Reset"}},
			Score:     0.92, Confident: true,
		}, nil
	}
	return conversation.Answer{Score: 0.05}, nil
}

// TestEndToEnd runs the real engine, store, handoff desk and dispatcher
// with the adapter against the fake Bot Framework: an employee asks in
// Teams, asks for a person, an agent works the ticket in the staff
// channel, and the reply reaches the employee proactively.
func TestEndToEnd(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake, err := botframework.Start(botframework.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	fc := fake.Config()

	store, err := boltstore.Open(filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	desk, err := handoff.NewDesk(store, handoff.Config{TicketPrefix: "IT", Team: "IT Support", StaffChannel: teams.StaffChannel})
	if err != nil {
		t.Fatal(err)
	}
	engine := conversation.NewEngine(store, itKnowledge{}, desk, conversation.EngineConfig{Logger: quiet})
	disp := conversation.NewDispatcher(store, conversation.DispatcherConfig{PollInterval: 50 * time.Millisecond, Grace: 50 * time.Millisecond, BaseBackoff: 10 * time.Millisecond, Logger: quiet})
	engine.DeliverWith(disp)

	adapter, err := teams.New(teams.Config{
		AppID:             fc.AppID,
		AppPassword:       fc.AppPassword,
		TenantID:          fc.TenantID,
		OpenIDMetadataURL: fake.MetadataURL(),
		TokenURL:          fake.TokenURL(),
		StaffServiceURL:   fake.ServiceURL(),
		StaffChannelID:    staffChannelID,
		TypingDelay:       -1,
		Logger:            quiet,
	}, engine, store)
	if err != nil {
		t.Fatal(err)
	}
	disp.Register(conversation.ChannelTeams, adapter.Sender())
	disp.Register(teams.StaffChannel, adapter.StaffSender())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = disp.Run(ctx); close(done) }()
	srv := httptest.NewServer(adapter.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = adapter.Close()
		cancel()
		<-done
	})
	endpoint := srv.URL + "/api/messages"
	deliver := func(a botframework.Activity) {
		t.Helper()
		dctx, dcancel := context.WithTimeout(context.Background(), waitLimit)
		defer dcancel()
		status, err := fake.Deliver(dctx, endpoint, a)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("deliver %q: status %d, %v; want 202", a.Text, status, err)
		}
	}
	wait := func(what string, match func(botframework.Recorded) bool) botframework.Recorded {
		t.Helper()
		wctx, wcancel := context.WithTimeout(context.Background(), waitLimit)
		defer wcancel()
		r, err := fake.WaitActivity(wctx, match)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return r
	}
	aliceConv := botframework.PersonalConversationID(alice)
	toAlice := func(substr string) func(botframework.Recorded) bool {
		return func(r botframework.Recorded) bool {
			return r.ConversationID == aliceConv && strings.Contains(r.Text(), substr)
		}
	}

	// 1. Alice asks in her personal chat and is answered with a card.
	deliver(fake.PersonalMessage(alice, "How do I reset my VPN token?"))
	ans := wait("the answer", toAlice("Open the VPN portal"))
	if c := ans.Card(); c == nil {
		t.Fatalf("answer is not a card: %s", ans.Raw)
	} else if _, ok := c.Action("Talk to a person"); !ok {
		t.Fatalf("answer card has no 'Talk to a person' button")
	}

	// 2. She asks for a person: a ticket, and its chain in the staff channel.
	deliver(fake.PersonalMessage(alice, "I want to talk to a human please"))
	wait("the handoff notice", toAlice("as ticket IT-"))
	root := wait("the ticket chain", func(r botframework.Recorded) bool {
		return r.Created && r.ChannelID == staffChannelID && strings.Contains(r.Text(), "New ticket IT-")
	})
	chain := root.ConversationID
	// The card is visible a moment before the adapter has stored which
	// conversation the chain belongs to; an agent is never that fast.
	waitRef(t, store, "teams.staff.chain", chain)
	waitRef(t, store, "teams.staff", teams.ConversationKey(fc.TenantID, aliceConv))
	card := root.Card()
	if card == nil {
		t.Fatalf("ticket chain root is not a card: %s", root.Raw)
	}

	// 3. Bob claims it with the card's button; Alice hears he joined.
	claim, ok := card.Action("Claim")
	if !ok {
		t.Fatal("the handoff card has no Claim button")
	}
	deliver(fake.Submit(chain, root.ID, bob, claim.Data))
	wait("the agent-joined notice", toAlice("Bob Agent has joined"))

	// 4. A forged Claim naming Alice's conversation, from a thread that is
	// not hers, does nothing.
	stranger := fake.ChannelMessage(staffChannelID, "", bob, "unrelated")
	forged := fake.Submit(stranger.Conversation.ID, stranger.ID, bob, claim.Data)
	fctx, fcancel := context.WithTimeout(context.Background(), waitLimit)
	if status, err := fake.Deliver(fctx, endpoint, forged); err != nil || status != http.StatusOK {
		t.Fatalf("forged submit: status %d, %v; want 200 (ignored)", status, err)
	}
	fcancel()
	wait("the refusal of the forged submit", func(r botframework.Recorded) bool {
		return r.ConversationID == stranger.Conversation.ID && strings.Contains(r.Activity.Text, "not a ticket")
	})

	// 5. An internal note in the chain, then a reply.
	deliver(fake.ChannelMessage(staffChannelID, root.ID, bob, "checking the token server logs"))
	wait("the note confirmation", func(r botframework.Recorded) bool {
		return r.ConversationID == chain && strings.Contains(r.Activity.Text, "Internal note saved")
	})
	deliver(fake.ChannelMessage(staffChannelID, root.ID, bob, "reply: I reset your token, please try again."))
	got := wait("the agent's reply", toAlice("I reset your token"))
	if got.ReplyTo != "" {
		t.Errorf("the agent's reply was sent as a reply to %q; want a proactive message", got.ReplyTo)
	}

	// 6. Alice answers; her message is relayed into the chain, and the bot
	// stays silent towards her.
	deliver(fake.PersonalMessage(alice, "works now, thanks"))
	wait("the relay into the chain", func(r botframework.Recorded) bool {
		return r.ConversationID == chain && strings.Contains(r.Activity.Text, "works now, thanks")
	})

	// 7. Bob resolves; Alice gets the satisfaction question. Delivery to
	// her is in order, so everything sent to her is known by now.
	resolve, _ := card.Action("Resolve")
	deliver(fake.Submit(chain, root.ID, bob, resolve.Data))
	csat := wait("the satisfaction question", toAlice("is resolved"))
	if c := csat.Card(); c == nil || len(c.AllActions()) != 5 {
		t.Fatalf("CSAT is not a card with 5 buttons: %s", csat.Raw)
	}
	var seen []string
	for _, r := range fake.InConversation(aliceConv) {
		seen = append(seen, r.Text())
		if strings.Contains(r.Text(), "token server logs") {
			t.Fatalf("the internal note reached the employee: %s", r.Raw)
		}
	}
	if len(seen) != 5 {
		t.Errorf("the employee got %d messages, want 5 (answer, handoff, joined, reply, CSAT):\n%s", len(seen), strings.Join(seen, "\n---\n"))
	}
	conv, err := store.Load(context.Background(), teams.ConversationKey(fc.TenantID, aliceConv))
	if err != nil {
		t.Fatal(err)
	}
	noted := false
	for _, tn := range conv.History {
		if tn.Kind == conversation.KindNote && tn.Internal && strings.Contains(tn.Text, "token server logs") {
			noted = true
		}
	}
	if !noted || conv.TicketState == nil || conv.TicketState.Status != conversation.TicketResolved || conv.TicketState.Assignee != "teams:"+bob.AADObjectID {
		t.Fatalf("conversation state: noted=%v ticket=%+v", noted, conv.TicketState)
	}
}

// waitRef polls the store until (ns, key) exists.
func waitRef(tb testing.TB, store *boltstore.Store, ns, key string) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		_, err := store.GetRef(context.Background(), ns, key)
		if err == nil {
			return
		}
		if conversation.ErrorCode(err) != conversation.NotFound || time.Now().After(deadline) {
			tb.Fatalf("ref %s/%s: %v", ns, key, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
