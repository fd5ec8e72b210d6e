package knowledge_test

import (
	"testing"

	"github.com/tier0/tier0/knowledge"
)

func TestLinkListSectionsAreNotIndexed(t *testing.T) {
	tests := []struct {
		name, section string
		indexed       bool
	}{
		{"links only", "- [VPN](https://x.example/vpn)\n- [Wi-Fi](https://x.example/wifi) – guest access\n", false},
		{"numbered links", "1. [VPN](https://x.example/vpn)\n2) [MFA](https://x.example/mfa)\n", false},
		{"links with prose", "Read these first:\n\n- [VPN](https://x.example/vpn)\n", true},
		{"steps with links", "1. Open [the portal](https://x.example) and sign in.\n2. Click Reset.\n", true},
		{"plain text", "Call the service desk.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := knowledge.ParseMarkdown("a.md", []byte("# A\n\nIntro.\n\n## Section\n\n"+tt.section))
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, c := range doc.Chunks {
				if c.Section == "Section" {
					got = true
				}
			}
			if got != tt.indexed {
				t.Errorf("section indexed = %v, want %v", got, tt.indexed)
			}
		})
	}
}
