package teams

import (
	"context"
	"time"
)

// SetSleep replaces the connector's wait between retries, so tests see
// the delays it chose instead of waiting them out.
func SetSleep(a *Adapter, sleep func(ctx context.Context, d time.Duration) error) {
	a.conn.sleep = sleep
}
