package teams

import (
	"context"
	"net/http"
	"time"
)

// SetSleep replaces the connector's wait between retries, so tests see
// the delays it chose instead of waiting them out.
func SetSleep(a *Adapter, sleep func(ctx context.Context, d time.Duration) error) {
	a.conn.sleep = sleep
}

// SetTransport makes the adapter's HTTP client (token endpoint,
// connector, OpenID metadata and keys) carry its requests over rt. Call
// it before the adapter's first request.
func SetTransport(a *Adapter, rt http.RoundTripper) {
	a.conn.http.Transport = rt
}

// ForgetToken drops the cached access token: the next connector call
// fetches one.
func ForgetToken(a *Adapter) {
	ts := a.conn.tokens
	ts.mu.Lock()
	ts.tok, ts.until = "", time.Time{}
	ts.mu.Unlock()
}

// KeyInfo describes one cached signing key.
type KeyInfo struct {
	Bits, E int
}

// FetchSigningKeys forgets the cached signing keys and fetches them
// again, as the first token after a start does; it returns the fetch's
// error and the keys cached afterwards by kid. A later Verify does not
// fetch again on its own.
func FetchSigningKeys(a *Adapter, ctx context.Context) (map[string]KeyInfo, error) {
	v := a.auth
	v.mu.Lock()
	v.keys, v.fetched, v.tried = nil, time.Time{}, v.cfg.now()
	v.mu.Unlock()
	err := v.fetch(ctx)
	v.mu.RLock()
	defer v.mu.RUnlock()
	keys := make(map[string]KeyInfo, len(v.keys))
	for kid, k := range v.keys {
		keys[kid] = KeyInfo{Bits: k.pub.N.BitLen(), E: k.pub.E}
	}
	return keys, err
}

// Verify checks an Authorization header as the messaging endpoint does.
func Verify(a *Adapter, ctx context.Context, authorization string) error {
	_, err := a.auth.verify(ctx, authorization)
	return err
}
