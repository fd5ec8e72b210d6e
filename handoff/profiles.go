package handoff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tier0/tier0/conversation"
)

// Profile is what the organisation knows about a customer: shown on the
// handoff card and used by routing (Tier).
type Profile struct {
	Name    string            `json:"name,omitempty" yaml:"name"`
	Email   string            `json:"email,omitempty" yaml:"email"`
	Company string            `json:"company,omitempty" yaml:"company"`
	Tier    string            `json:"tier,omitempty" yaml:"tier"` // e.g. vip, gold, standard
	Notes   map[string]string `json:"notes,omitempty" yaml:"notes"`
}

// Profiles looks customers up by their channel identity. A customer
// nobody knows is a zero Profile and no error.
type Profiles interface {
	// Profile returns the customer's profile. Errors: Unavailable (the
	// source is down); the desk then opens the ticket without a profile.
	Profile(ctx context.Context, ch conversation.Channel, user conversation.Identity) (Profile, error)
}

// profileKey is how profiles are keyed: "<channel>:<user id>", or the
// e-mail address when the platform tells it.
func profileKey(ch conversation.Channel, id string) string { return string(ch) + ":" + id }

// FileProfiles are profiles from a YAML or JSON file: a map from
// "<channel>:<user id>" or an e-mail address to a Profile.
type FileProfiles map[string]Profile

// maxProfileFile bounds a profile file.
const maxProfileFile = 16 << 20

// LoadProfiles reads a profile file. Errors: Invalid (unreadable, too
// large, malformed).
func LoadProfiles(path string) (FileProfiles, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "profiles: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProfileFile+1))
	if err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "profiles: read %s: %w", path, err)
	}
	if len(b) > maxProfileFile {
		return nil, conversation.Errorf(conversation.Invalid, "profiles: %s is larger than %d bytes", path, maxProfileFile)
	}
	var p FileProfiles
	dec := yaml.NewDecoder(bytes.NewReader(b)) // YAML is a superset of JSON
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && err != io.EOF {
		return nil, conversation.Errorf(conversation.Invalid, "profiles: parse %s: %w", path, err)
	}
	return p, nil
}

// Profile looks the customer up by channel identity, then by e-mail.
func (p FileProfiles) Profile(_ context.Context, ch conversation.Channel, user conversation.Identity) (Profile, error) {
	if pr, ok := p[profileKey(ch, user.ID)]; ok {
		return pr, nil
	}
	if user.Email != "" {
		if pr, ok := p[strings.ToLower(user.Email)]; ok {
			return pr, nil
		}
	}
	return Profile{}, nil
}

// HTTPProfiles asks a JSON endpoint (a CRM, an HR system):
// GET URL?channel=…&user=…&email=… answering 200 with a Profile, or 404
// for an unknown customer.
type HTTPProfiles struct {
	URL     string
	Header  http.Header // e.g. Authorization, from the environment
	Client  *http.Client
	Timeout time.Duration // default 2s: a handoff must not wait long
}

// maxProfileBody bounds a profile response.
const maxProfileBody = 64 << 10

// Profile fetches the customer's profile. Errors: Unavailable (network,
// timeout, 5xx, malformed body); 404 is an unknown customer, not an error.
func (h HTTPProfiles) Profile(ctx context.Context, ch conversation.Channel, user conversation.Identity) (Profile, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	q := url.Values{"channel": {string(ch)}, "user": {user.ID}}
	if user.Email != "" {
		q.Set("email", user.Email)
	}
	sep := "?"
	if strings.Contains(h.URL, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+sep+q.Encode(), nil)
	if err != nil {
		return Profile{}, conversation.Errorf(conversation.Invalid, "profiles: %w", err)
	}
	for k, vs := range h.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Profile{}, conversation.Errorf(conversation.Unavailable, "profiles: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProfileBody+1))
	switch {
	case err != nil:
		return Profile{}, conversation.Errorf(conversation.Unavailable, "profiles: read response: %w", err)
	case resp.StatusCode == http.StatusNotFound:
		return Profile{}, nil
	case resp.StatusCode != http.StatusOK:
		return Profile{}, conversation.Errorf(conversation.Unavailable, "profiles: HTTP %d", resp.StatusCode)
	case len(body) > maxProfileBody:
		return Profile{}, conversation.Errorf(conversation.Unavailable, "profiles: response larger than %d bytes", maxProfileBody)
	}
	var p Profile
	if err := json.Unmarshal(body, &p); err != nil {
		return Profile{}, conversation.Errorf(conversation.Unavailable, "profiles: malformed response: %w", err)
	}
	return p, nil
}

// profileLines renders a profile for the handoff card.
func profileLines(p Profile) string {
	var parts []string
	for _, kv := range [][2]string{{"name", p.Name}, {"email", p.Email}, {"company", p.Company}, {"tier", p.Tier}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("Customer: %s\n", strings.Join(parts, " · "))
}
