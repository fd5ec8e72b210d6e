package webchat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tier0/tier0/adapters/webchat"
	"github.com/tier0/tier0/conversation"
)

func outbound(id string) conversation.Outbound {
	return conversation.Outbound{ID: id, Channel: conversation.ChannelWebChat, Kind: conversation.KindAnswer, Text: id}
}

// drain reads ch until it is closed and returns the ids it held.
func drain(ch <-chan conversation.Outbound) []string {
	var ids []string
	for o := range ch {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestHubDropsSlowSubscriberWithoutBlocking(t *testing.T) {
	hub := webchat.NewMemoryHub(webchat.HubConfig{Buffer: 2})
	slow, cancelSlow := hub.Subscribe("k")
	defer cancelSlow()
	ctx := context.Background()

	// Nobody reads slow: if Publish blocked, this loop would never end.
	for i := range 5 {
		if err := hub.Publish(ctx, "k", outbound(fmt.Sprintf("o_%d", i))); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	if got := fmt.Sprint(drain(slow)); got != "[o_0 o_1]" {
		t.Errorf("slow subscriber got %s then its channel should close; want [o_0 o_1]", got)
	}
	if n := hub.Subscribers("k"); n != 0 {
		t.Errorf("subscribers after the drop = %d, want 0", n)
	}

	// A fresh subscriber (the reconnected client) receives new messages.
	fresh, cancelFresh := hub.Subscribe("k")
	defer cancelFresh()
	if err := hub.Publish(ctx, "k", outbound("o_9")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got := (<-fresh).ID; got != "o_9" {
		t.Errorf("fresh subscriber got %q, want o_9", got)
	}
}

func TestHubSubscriptions(t *testing.T) {
	ctx := context.Background()

	t.Run("fan out to every stream of a key", func(t *testing.T) {
		hub := webchat.NewMemoryHub(webchat.HubConfig{})
		a, ca := hub.Subscribe("k")
		defer ca()
		b, cb := hub.Subscribe("k")
		defer cb()
		if err := hub.Publish(ctx, "k", outbound("o_1")); err != nil {
			t.Fatal(err)
		}
		if ga, gb := (<-a).ID, (<-b).ID; ga != "o_1" || gb != "o_1" {
			t.Errorf("got %q and %q, want o_1 twice", ga, gb)
		}
	})

	t.Run("too many streams drop the oldest", func(t *testing.T) {
		hub := webchat.NewMemoryHub(webchat.HubConfig{MaxSubscribers: 2})
		first, c1 := hub.Subscribe("k")
		defer c1()
		_, c2 := hub.Subscribe("k")
		defer c2()
		_, c3 := hub.Subscribe("k")
		defer c3()
		if ids := drain(first); len(ids) != 0 {
			t.Errorf("oldest stream got %v before closing", ids)
		}
		if n := hub.Subscribers("k"); n != 2 {
			t.Errorf("subscribers = %d, want 2", n)
		}
	})

	t.Run("cancel closes once", func(t *testing.T) {
		hub := webchat.NewMemoryHub(webchat.HubConfig{})
		ch, cancel := hub.Subscribe("k")
		cancel()
		cancel()
		if _, open := <-ch; open {
			t.Error("channel still open after cancel")
		}
		if err := hub.Publish(ctx, "k", outbound("o_1")); err != nil {
			t.Errorf("Publish without subscribers = %v, want nil", err)
		}
	})

	t.Run("recent ids are bounded", func(t *testing.T) {
		hub := webchat.NewMemoryHub(webchat.HubConfig{RecentIDs: 2})
		ch, cancel := hub.Subscribe("k")
		defer cancel()
		for _, id := range []string{"o_1", "o_2", "o_1", "o_3", "o_1"} {
			if err := hub.Publish(ctx, "k", outbound(id)); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		// o_1 repeats while remembered, and is new again once it fell out
		// of the two remembered ids.
		if got := fmt.Sprint(drain(ch)); got != "[o_1 o_2 o_3 o_1]" {
			t.Errorf("got %s, want [o_1 o_2 o_3 o_1]", got)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		hub := webchat.NewMemoryHub(webchat.HubConfig{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := hub.Publish(cctx, "k", outbound("o_1")); err == nil {
			t.Error("Publish with a cancelled context = nil, want an error")
		}
	})
}
