package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoadConfig loads arbitrary YAML configurations: an error, or a
// validated configuration that survives a YAML round trip: what LoadConfig
// accepted, re-encoded, loads again and encodes to the same YAML (its
// paths are resolved by then).
func FuzzLoadConfig(f *testing.F) {
	for _, p := range []string{"../../configs/it-helpdesk/tier0.yaml", "../../configs/shop/tier0.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "name: x\n", "store: {driver: redis}\n", "log_level: loud\n", "nmae: typo\n", "listen: [1]\n",
		"knowledge: {path: ../k}\nhandoff: {profiles: {file: p.yaml}}\n", "a: &x [*x]\n", "--- \n...\n---\nname: second\n",
		"webchat: {session_ttl: -1h}\n", "admission: {budget: 1y}\n"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "tier0.yaml")
	none := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path, none)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("encode the loaded configuration: %v", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := LoadConfig(path, none)
		if err != nil {
			t.Fatalf("%q loaded, but its re-encoding does not: %v\n%s", data, err, out)
		}
		// whatsapp.store is relative to data_dir, so a resolved relative
		// store path is resolved once more when read back; every other
		// setting must come back as it was.
		back.WhatsApp.Store = c.WhatsApp.Store
		again, err := yaml.Marshal(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("YAML round trip of %q changed the configuration (%v):\n%s\nthen\n%s", data, err, out, again)
		}
	})
}
