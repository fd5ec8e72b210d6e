package webchat

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"time"

	"github.com/tier0/tier0/conversation"
)

//go:embed static/index.html static/widget.js static/widget.css
var staticFS embed.FS

// asset is one file the adapter serves, prepared once at New.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

func newAsset(body []byte, ctype string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// loadAssets reads the embedded files and renders the page with title.
func loadAssets(title string) (map[string]asset, error) {
	page, err := template.ParseFS(staticFS, "static/index.html")
	if err != nil {
		return nil, conversation.Errorf(conversation.Internal, "parse chat page: %w", err)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Title string }{title}); err != nil {
		return nil, conversation.Errorf(conversation.Internal, "render chat page: %w", err)
	}
	js, err := staticFS.ReadFile("static/widget.js")
	if err != nil {
		return nil, conversation.Errorf(conversation.Internal, "read widget.js: %w", err)
	}
	css, err := staticFS.ReadFile("static/widget.css")
	if err != nil {
		return nil, conversation.Errorf(conversation.Internal, "read widget.css: %w", err)
	}
	return map[string]asset{
		"/":           newAsset(buf.Bytes(), "text/html; charset=utf-8"),
		"/widget.js":  newAsset(js, "text/javascript; charset=utf-8"),
		"/widget.css": newAsset(css, "text/css; charset=utf-8"),
	}, nil
}

// serveAsset serves the page or a widget file with caching validators. The
// widget files may be loaded by any site (that is what embedding means);
// the page carries the strict CSP.
func (a *Adapter) serveAsset(w http.ResponseWriter, r *http.Request, _ string) error {
	f := a.assets[r.URL.Path]
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	if r.URL.Path == "/" {
		h.Set("Content-Security-Policy", a.pageCSP)
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	return nil
}
