package textproc_test

import (
	"testing"

	"github.com/tier0/tier0/conversation/textproc"
)

func TestGermanStem(t *testing.T) {
	tests := []struct{ word, want string }{
		{"katzen", "katz"},
		{"häuser", "haus"},
		{"möglichkeiten", "moglich"},
		{"erinnerungen", "erinner"},
		{"kenntnisse", "kenntnis"},
		{"ergebnisse", "ergebnis"},
		{"aufeinanderfolgenden", "aufeinanderfolg"},
		{"freundlichkeit", "freundlich"},
		{"bauen", "bau"},
		{"queue", "queu"},
		{"ab", "ab"},
		{"vpn2", "vpn2"},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			if got := textproc.GermanStem(textproc.Fold(tt.word)); got != tt.want {
				t.Errorf("GermanStem(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

// Umlauts, their "ae"/"oe"/"ue" spellings and ß all meet in one stem.
func TestGermanStemFoldsSpellings(t *testing.T) {
	groups := [][]string{
		{"Passwörter", "Passwoerter", "Passwort", "passworts"},
		{"Drucker", "Druckers", "drucker"},
		{"löschen", "loeschen", "lösche", "Lösche"},
		{"heiß", "heiss", "HEISS"},
		{"Störung", "Stoerung", "Störungen"},
	}
	for _, g := range groups {
		want := textproc.GermanStem(textproc.Fold(g[0]))
		for _, w := range g[1:] {
			if got := textproc.GermanStem(textproc.Fold(w)); got != want {
				t.Errorf("GermanStem(%q) = %q, want %q (as %q)", w, got, want, g[0])
			}
		}
	}
}

func TestContainsKeyword(t *testing.T) {
	tests := []struct {
		text, keyword string
		want          bool
	}{
		{"Stromausfall im ganzen Gebäude!", "ausfall", true},
		{"Totalausfall seit heute früh", "Ausfall", true},
		{"Die Druckerwarteschlange hängt", "drucker", true},
		{"Netzwerkstörung im 3. Stock", "störung", true},
		{"Netzwerkstoerung im 3. Stock", "störung", true},
		{"mein Drucker druckt nicht", "drucker", true},
		{"wie installiere ich den VPN-Client", "vpn", true},
		{"my WiFi is down", "wi-fi", true},
		{"Wi-Fi keeps dropping", "wifi", true},
		{"Outlook zeigt keine E-Mail an", "mail", true},
		{"the printer is down for everyone", "down for everyone", true},
		{"the server is down for maintenance", "down for everyone", false},
		{"Ausfälle im Rechenzentrum", "ausfall", true},
		{"outages across the EU", "outage", true},
		{"please check the version", "ion", false},
		{"meeting with the board at 3", "board meeting", false},
		{"Ich habe einen Fall", "ausfall", false},
		{"anything", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.text+"/"+tt.keyword, func(t *testing.T) {
			if got := textproc.ContainsKeyword(tt.text, tt.keyword); got != tt.want {
				t.Errorf("ContainsKeyword(%q, %q) = %v, want %v", tt.text, tt.keyword, got, tt.want)
			}
		})
	}
}

func TestWords(t *testing.T) {
	if got := textproc.Words("Wi-Fi im Büro, Straße 5", true); len(got) != 5 || got[0] != "wifi" || got[2] != "buro" || got[3] != "strasse" {
		t.Errorf("Words joined = %q", got)
	}
	if got := textproc.Words("VPN-Client", false); len(got) != 2 || got[0] != "vpn" || got[1] != "client" {
		t.Errorf("Words split = %q", got)
	}
}
