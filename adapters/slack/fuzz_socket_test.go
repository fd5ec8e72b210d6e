package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackfake "github.com/tier0/tier0/adapters/fakes/slack"
)

// socketSeeds returns the frames the fake Slack sends a Socket Mode
// client: hello, an events_api message, an interactive block action (a
// click on a button the bot posted), a slash command and a disconnect.
func socketSeeds(tb testing.TB, sf *slackFuzz) [][]byte {
	tb.Helper()
	frame := func(typ string, payload []byte) []byte {
		_, b, err := sf.fake.EnvelopeFrame(typ, payload)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	click := helpfulClick(tb, sf.a, sf.fake, "o-seed")
	return [][]byte{
		sf.fake.HelloFrame(),
		frame(slackfake.EnvelopeEventsAPI, sf.fake.EventCallback("EvSeed1", slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "hello over socket", TS: "1700000001.000100"})),
		frame(slackfake.EnvelopeEventsAPI, sf.fake.EventCallback("EvSeed2", json.RawMessage(`{"type":"reaction_added","user":"UEMP","reaction":"tada","event_ts":"1700000002.000100"}`))),
		frame(slackfake.EnvelopeInteractive, click),
		frame(slackfake.EnvelopeSlash, []byte(`{"command":"/it","text":"help","user_id":"UEMP","channel_id":"C1","team_id":"T0FAKE"}`)),
		slackfake.DisconnectFrame(),
	}
}

// FuzzSocketFrame sends arbitrary frames over the fake Slack's Socket
// Mode websocket to a connected adapter (one connection for the whole
// run; slack-go parses the frames), each followed by a valid events_api
// message. Properties: no panic (none caught by the adapter's guards
// either); the adapter keeps running: the message after the fuzzed frame
// is acknowledged once committed, if need be over the connection the
// client opened again (a frame may be a disconnect request); whatever
// reaches the engine validates; a frame that is not JSON is logged and
// ignored: it gets no ack, and nothing but the valid message reaches the
// engine. (A JSON envelope with an envelope_id that the adapter does not
// handle is acknowledged, so Slack does not send it again.)
func FuzzSocketFrame(f *testing.F) {
	sf := newSlackFuzz(f)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sf.a.RunSocketMode(runCtx) }()
	f.Cleanup(func() {
		stop()
		<-done
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	if err := sf.fake.WaitSocket(ctx); err != nil {
		f.Fatal(err)
	}
	cancel()
	for _, s := range socketSeeds(f, sf) {
		f.Add(s)
		f.Add(s[:len(s)/2]) // cut off mid-frame
	}
	f.Add([]byte(`{"type":"events_api","envelope_id":"e1","payload":{"type":"event_callback","event":{"type":"message"}}}`))
	f.Add([]byte(`{"type":"interactive","envelope_id":"e2","payload":{"type":"block_actions","actions":[{}]}}`))
	f.Add([]byte(`{"type":"events_api","envelope_id":"e3","payload":"x"}`))
	f.Add([]byte(`{"envelope_id":"e4"}`))
	f.Add([]byte(`{"type":"hello","num_connections":-1}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte{})

	var n atomic.Int64
	var issued sync.Map // every follow-up envelope id: one may be acknowledged late, during a later input
	// Envelope ids of earlier fuzzed frames that were JSON, with how often
	// each was sent: the adapter acknowledges one after its commit, which
	// may come during a later input. A malformed frame's ack is told from
	// such a late one by the count: an id acknowledged more often than it
	// was sent as JSON was acknowledged for a malformed frame too.
	var sentMu sync.Mutex
	sentJSON := map[string]int{}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > maxFuzzBody {
			return
		}
		i := n.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		var env struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(frame, &env) == nil && env.EnvelopeID != "" {
			sentMu.Lock()
			sentJSON[env.EnvelopeID]++
			sentMu.Unlock()
			// Its work runs beside the follow-up's: let it finish (its ack
			// comes after its commit) before the next input is judged, up
			// to a bound, since some envelopes are never acknowledged.
			defer func() {
				sctx, scancel := context.WithTimeout(ctx, settleWait)
				defer scancel()
				_ = sf.fake.WaitAck(sctx, env.EnvelopeID)
			}()
		}
		acksBefore := len(sf.fake.Acks())
		sf.eng.mu.Lock()
		handedBefore := sf.eng.n
		sf.eng.mu.Unlock()
		if err := sf.fake.SendRawEnvelope(frame); err != nil {
			// The client hung up after the previous frame and is
			// reconnecting: wait for it, the frame goes over the new one.
			if err := sf.fake.WaitSocket(ctx); err != nil {
				t.Fatalf("no Socket Mode connection came back: %v", err)
			}
			if err := sf.fake.SendRawEnvelope(frame); err != nil {
				t.Fatal(err)
			}
		}
		// The valid message after it, sent again (a new envelope, the
		// same event) over the newest connection until it is
		// acknowledged: a disconnect frame makes the client reconnect,
		// and what the old connection still carried is lost.
		ev := slackfake.Event{Type: "message", ChannelType: "im", Channel: "D1", User: "UEMP", Text: "after the fuzzed frame", TS: fmt.Sprintf("1800000000.%06d", i)}
		payload := sf.fake.EventCallback(fmt.Sprintf("EvF%d", i), ev)
		var followIDs []string
		wait := 100 * time.Millisecond // doubled per resend: a slow ack only costs a duplicate envelope
		for acked := false; !acked; wait = min(2*wait, 5*time.Second) {
			if ctx.Err() != nil {
				t.Fatalf("the message after %q was not acknowledged (envelopes %v): the adapter stopped reading", frame, followIDs)
			}
			_ = sf.fake.WaitSocket(ctx)
			id, err := sf.fake.SendEnvelope(slackfake.EnvelopeEventsAPI, payload)
			if err != nil {
				continue // the connection closed under us; wait for the next
			}
			followIDs = append(followIDs, id)
			issued.Store(id, true)
			actx, acancel := context.WithTimeout(ctx, wait)
			acked = sf.fake.WaitAck(actx, id) == nil
			acancel()
		}
		sf.check(t, frame)
		sf.eng.mu.Lock()
		handed := sf.eng.n - handedBefore
		sf.eng.mu.Unlock()
		if handed < 1 {
			t.Fatalf("the message after %q was acknowledged but never reached the engine", frame)
		}
		if !json.Valid(frame) {
			if handed > len(followIDs) {
				t.Fatalf("%d inputs reached the engine around the malformed frame %q, want only the valid message (sent %d times)", handed, frame, len(followIDs))
			}
			acks := sf.fake.Acks()
			for _, id := range acks[acksBefore:] {
				if _, ok := issued.Load(id); ok {
					continue
				}
				sentMu.Lock()
				sent := sentJSON[id]
				sentMu.Unlock()
				if got := countOf(acks, id); sent == 0 || got > sent {
					t.Fatalf("the malformed frame %q was acknowledged as envelope %q (acknowledged %d times, sent as JSON %d times)", frame, id, got, sent)
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("RunSocketMode returned %v after %q", err, frame)
		default:
		}
	})
}

// settleWait bounds how long FuzzSocketFrame waits for a fuzzed JSON
// envelope's own ack before the next input.
const settleWait = time.Second

// countOf returns how many times id occurs in ids.
func countOf(ids []string, id string) int {
	n := 0
	for _, v := range ids {
		if v == id {
			n++
		}
	}
	return n
}
