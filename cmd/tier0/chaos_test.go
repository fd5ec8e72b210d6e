package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// runAsTier0 makes the test binary act as the tier0 binary (its
// arguments are tier0's), so the chaos test can start real serve
// processes without building one first.
const runAsTier0 = "TIER0_TEST_RUN_AS_TIER0"

func TestMain(m *testing.M) {
	if os.Getenv(runAsTier0) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A short chaos run: two real serve processes (this test binary) on a
// persistent redis-server, two SIGKILLs and one Redis restart under web
// chat and signed Slack load; every accepted message answered exactly
// once, in order, in its own conversation, and delivered. The full run
// with its latency figures is make bench-chaos.
func TestChaosShort(t *testing.T) {
	t.Setenv(runAsTier0, "1") // inherited by the replicas, not read again here
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := benchChaos(ctx, chaosOptions{
		binary: os.Args[0], config: sampleConfig, replicas: 2, duration: 11 * time.Second,
		sessions: 6, slackUsers: 3, think: 300 * time.Millisecond, perConv: 5,
		killEvery: 4 * time.Second, minKills: 2, downFor: 500 * time.Millisecond, redis: true,
		quiet: 3 * time.Second, drain: 30 * time.Second, seed: 7,
	}, &log)
	if err != nil {
		t.Fatalf("chaos run: %v\n%s", err, log.String())
	}
	t.Log(res.line())
	switch {
	case res.kills < 2 || res.redisRestarts != 1:
		t.Errorf("%d kills and %d Redis restarts, want 2 and 1", res.kills, res.redisRestarts)
	case res.accepted == 0 || res.answered == 0:
		t.Errorf("nothing accepted or answered: %s", res.line())
	}
	if res.lost+res.duplicated+res.reordered+res.misrouted+res.undelivered+res.duplicatesOutsideWindow != 0 {
		t.Errorf("guarantees broken: %s\n%s", res.line(), log.String())
	}
}
