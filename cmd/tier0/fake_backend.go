package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tier0/tier0/conversation/actions/fakebackend"
)

// `tier0 fake shop-api` and `tier0 fake it-api` run the sample back ends
// of the shop's and the IT desk's actions (conversation/actions/fakebackend)
// so `make run` can show actions by hand. Every request is printed with
// its Idempotency-Key; a repeated key changes nothing.

// fakeBackends are the back ends `tier0 fake` knows, with their default
// address and the environment variables the sample configs read.
var fakeBackends = map[string]struct {
	listen, urlEnv, tokenEnv, token string
	open                            func(fakebackend.Config) *fakebackend.Server
}{
	"shop-api": {"127.0.0.1:18091", "TIER0_SHOP_API_URL", "TIER0_SHOP_API_TOKEN", "fake-shop-api-token", fakebackend.NewShop},
	"it-api":   {"127.0.0.1:18092", "TIER0_IT_API_URL", "TIER0_IT_API_TOKEN", "fake-it-api-token", fakebackend.NewIT},
}

// runFakeBackend runs `tier0 fake shop-api|it-api` until ctx ends.
func runFakeBackend(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	spec := fakeBackends[name]
	fs := flag.NewFlagSet("fake "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", spec.listen, "loopback address the fake listens on")
	token := fs.String("token", spec.token, "bearer token the fake requires (\"\" for none)")
	latency := fs.Duration("latency", 0, "added to every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("fake %s: unexpected argument %q", name, fs.Arg(0))
	}
	ln, url, err := listenLoopback(*listen)
	if err != nil {
		return err
	}
	srv := spec.open(fakebackend.Config{Token: *token, Latency: *latency})
	var mu sync.Mutex
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		srv.ServeHTTP(rec, r)
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(stdout, "%s %s %s → %d (Idempotency-Key %s)\n", time.Now().Format("15:04:05"), r.Method, r.URL.Path, rec.status, key)
	})
	f := serveFake(ln, logged)
	defer f.close()
	fmt.Fprintf(stdout, "Fake %s listening on %s.\n\n# In a second terminal, set these variables and start the server:\nexport %s=%s\nexport %s=%s\n",
		name, url, spec.urlEnv, url, spec.tokenEnv, shellQuote(*token))
	fmt.Fprintf(stdout, "go run ./cmd/tier0 serve -config %s\n\nCounts: %s/_fake/stats. Ctrl-C ends.\n", sampleConfigFor(name), url)
	<-ctx.Done()
	st := srv.Stats()
	fmt.Fprintf(stdout, "%d side-effecting requests, %d effects applied, %d idempotency keys repeated\n", st.Posts, st.Effects, st.DuplicateKeys)
	return nil
}

func sampleConfigFor(name string) string {
	if name == "shop-api" {
		return "configs/shop/tier0.yaml"
	}
	return DefaultConfigPath
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
