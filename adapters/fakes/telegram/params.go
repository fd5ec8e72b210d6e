package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// params are a request's parameters as Telegram reads them: every value
// a string; objects and arrays (reply_markup, reply_parameters,
// allowed_updates) are JSON text.
type params map[string]string

// readParams reads the query string and the body in any of the formats
// the Bot API accepts: multipart/form-data (what go-telegram/bot sends),
// application/x-www-form-urlencoded and application/json.
func readParams(w http.ResponseWriter, r *http.Request) (params, *apiError) {
	p := params{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		// A body without a type is ignored, as Telegram does.
		return p, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, badRequest("invalid Content-Type")
	}
	switch mt {
	case "multipart/form-data":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyError(err)
		}
		if len(body) == 0 {
			// go-telegram/bot sends an empty body for methods without
			// parameters (getMe); Telegram accepts that.
			return p, nil
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return nil, bodyError(err)
		}
		for k, v := range r.MultipartForm.Value {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, bodyError(err)
		}
		for k, v := range r.PostForm {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyError(err)
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			return p, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, badRequest("can't parse JSON object")
		}
		for k, raw := range obj {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p[k] = s
				continue
			}
			if string(raw) != "null" {
				p[k] = string(raw)
			}
		}
	default:
		return nil, badRequest("unsupported Content-Type %q", mt)
	}
	return p, nil
}

func bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apiError{code: http.StatusRequestEntityTooLarge, desc: "Request Entity Too Large"}
	}
	return badRequest("can't parse request body")
}

// str returns a parameter, "" when absent.
func (p params) str(name string) string { return p[name] }

// required returns a non-empty parameter or the 400 Telegram answers
// when one is missing.
func (p params) required(name string) (string, *apiError) {
	v := p[name]
	if v == "" {
		return "", badRequest("parameter \"%s\" is required", name)
	}
	return v, nil
}

// int64 parses an integer parameter; absent is 0.
func (p params) int64(name string) (int64, *apiError) {
	v := strings.TrimSpace(p[name])
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("field \"%s\" must be a valid Number", name)
	}
	return n, nil
}

func (p params) int(name string) (int, *apiError) {
	n, err := p.int64(name)
	return int(n), err
}

// bool parses a boolean parameter ("true"/"false", as JSON or form text).
func (p params) bool(name string) bool {
	v := strings.TrimSpace(p[name])
	return v == "true" || v == "1" || v == "True"
}

// json decodes a parameter holding JSON (an object or array); absent
// leaves v alone.
func (p params) json(name string, v any) *apiError {
	raw := strings.TrimSpace(p[name])
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return badRequest("can't parse %s JSON object", name)
	}
	return nil
}
