package main

import (
	"context"
	"fmt"

	"github.com/tier0/tier0/conversation"
)

// missingReplies sorts the accepted messages that got no reply by the end
// of a bench run: late when the reply is committed and still waits in the
// store's outbox (delivery fell behind), lost when it is nowhere (the
// reply never was committed or was dropped).
type missingReplies struct {
	late, lost int
}

// classifyMissing looks up each unanswered dedupe key (with its
// conversation key) in the store's outbox.
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
		for _, d := range dedupes {
			if waiting[d] {
				m.late++
			} else {
				m.lost++
			}
		}
	}
	return m, nil
}
