package main

import (
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation/redisstore/redistest"
)

// Two replicas behind a load balancer share one Redis: the visitor's
// event stream is held by replica A while its message lands on replica B;
// the reply still reaches the stream.
func TestServeTwoReplicasShareLiveReplies(t *testing.T) {
	srv := redistest.Start(t)
	env := map[string]string{"TIER0_REDIS_ADDR": srv.Addr(), "TIER0_WEBCHAT_SECRET": strings.Repeat("s", 40)}
	a, _ := startMain(t, t.TempDir(), env)
	b, _ := startMain(t, t.TempDir(), env)
	v := newVisitor(t, a)
	stream := v.events(t) // held by A
	onB := *v
	onB.base = baseURL(b) // the load balancer sends the message to B
	askPassword(t, b, &onB, stream, "lb-1")
	if got := len(v.history(t)); got != 2 {
		t.Errorf("history on A has %d messages, want question and answer", got)
	}
}
