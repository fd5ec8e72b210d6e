package agentconsole

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/tier0/tier0/conversation"
)

//go:embed static/index.html static/console.js static/console.css static/analytics.html static/analytics.js
var staticFS embed.FS

// asset is one embedded file, prepared once at New.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// loadAssets reads the embedded pages, scripts and style sheet.
func loadAssets() (map[string]asset, error) {
	files := map[string]struct{ name, ctype string }{
		Prefix:                  {"static/index.html", "text/html; charset=utf-8"},
		Prefix + "console.js":   {"static/console.js", "text/javascript; charset=utf-8"},
		Prefix + "console.css":  {"static/console.css", "text/css; charset=utf-8"},
		Prefix + "analytics":    {"static/analytics.html", "text/html; charset=utf-8"},
		Prefix + "analytics.js": {"static/analytics.js", "text/javascript; charset=utf-8"},
	}
	out := make(map[string]asset, len(files))
	for path, f := range files {
		b, err := staticFS.ReadFile(f.name)
		if err != nil {
			return nil, conversation.Errorf(conversation.Internal, "read %s: %w", f.name, err)
		}
		sum := sha256.Sum256(b)
		out[path] = asset{body: b, ctype: f.ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out, nil
}

// serveAsset serves a page, a script or the style sheet.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request, _ *session, _ string) error {
	f := c.assets[r.URL.Path]
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return nil
}
