package main

import (
	"context"
	"fmt"

	"github.com/tier0/tier0/conversation"
)

// missingReplies sorts the accepted messages that got no reply by the end
// of a bench run: late when the reply is committed and still waits in the
// store's outbox (delivery fell behind), lost when it is nowhere (the
// reply never was committed or was dropped). Messages sent to a
// conversation after it was handed to a person (before the bench saw
// the handoff reply) are owed no bot reply: relayed.
type missingReplies struct {
	late, lost, relayed int
}

// classifyMissing looks up each unanswered dedupe key (with its
// conversation key) in the store's outbox and the conversation's phase.
func classifyMissing(ctx context.Context, store conversation.Store, unanswered map[string]string) (missingReplies, error) {
	var m missingReplies
	byConv := map[string][]string{}
	for dedupe, key := range unanswered {
		byConv[key] = append(byConv[key], dedupe)
	}
	for key, dedupes := range byConv {
		pending, err := store.Pending(ctx, key, 1000)
		if err != nil {
			return m, fmt.Errorf("bench: read the outbox of %s: %w", key, err)
		}
		waiting := map[string]bool{}
		for _, o := range pending {
			waiting[o.InReplyTo] = true
		}
		handedOff := false
		if len(pending) < len(dedupes) {
			c, err := store.Load(ctx, key)
			if err != nil && conversation.ErrorCode(err) != conversation.NotFound {
				return m, fmt.Errorf("bench: load %s: %w", key, err)
			}
			handedOff = c != nil && (c.Phase == conversation.PhaseAwaitingAgent || c.Phase == conversation.PhaseAgentActive)
		}
		for _, d := range dedupes {
			switch {
			case waiting[d]:
				m.late++
			case handedOff:
				m.relayed++
			default:
				m.lost++
			}
		}
	}
	return m, nil
}
