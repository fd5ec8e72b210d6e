package knowledge_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tier0/tier0/knowledge"
)

func embed(tb testing.TB, text string) []float32 {
	tb.Helper()
	v, err := knowledge.NewHashEmbedder().Embed(context.Background(), text)
	if err != nil {
		tb.Fatalf("embed %q: %v", text, err)
	}
	return v
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

func norm(v []float32) float64 { return math.Sqrt(cosineDot(v, v)) }

func cosineDot(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

func TestHashEmbedderDeterministic(t *testing.T) {
	texts := []string{
		"How do I reset my password?",
		"Passwort zurücksetzen",
		"パスワードをリセットする方法",
		"the and of", // stop words only
		"🙂👍",         // no words
		strings.Repeat("long text with many words ", 5000),
	}
	for _, text := range texts {
		t.Run(head(text, 20), func(t *testing.T) {
			a, b := embed(t, text), embed(t, text)
			if len(a) != knowledge.HashDimensions {
				t.Fatalf("got %d dimensions, want %d", len(a), knowledge.HashDimensions)
			}
			if !reflect.DeepEqual(a, b) {
				t.Error("got different vectors for the same text")
			}
			if n := norm(a); math.Abs(n-1) > 1e-5 {
				t.Errorf("got norm %v, want 1", n)
			}
			if c := cosine(a, b); math.Abs(c-1) > 1e-6 {
				t.Errorf("got cosine %v of a text with itself, want 1", c)
			}
		})
	}
}

func TestHashEmbedderBlank(t *testing.T) {
	for _, text := range []string{"", "  \n\t"} {
		if n := norm(embed(t, text)); n != 0 {
			t.Errorf("%q: got norm %v, want the zero vector", text, n)
		}
	}
}

func TestHashEmbedderRelatedForms(t *testing.T) {
	tests := []struct {
		text, related, unrelated string
	}{
		{"Passwort zurücksetzen", "Passwörter zurückgesetzt", "Drucker einrichten"},
		{"reset my password", "resetting passwords", "configure the printer"},
		{"Wi-Fi keeps dropping", "wifi dropped again", "order a new laptop"},
		{"E-Mail Postfach voll", "Email-Postfächer", "Bildschirm flackert"},
		{"Multi-Faktor-Authentifizierung einrichten", "Authentifizierung mit mehreren Faktoren", "Urlaub beantragen"},
		{"パスワードをリセットする", "パスワードのリセット", "プリンターを設定する"},
		{"Café menu", "cafe menus", "VPN gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			v := embed(t, tt.text)
			rel, unrel := cosine(v, embed(t, tt.related)), cosine(v, embed(t, tt.unrelated))
			t.Logf("related %.3f, unrelated %.3f", rel, unrel)
			if rel <= unrel+0.1 {
				t.Errorf("got cosine %.3f with %q and %.3f with %q, want the related form clearly closer", rel, tt.related, unrel, tt.unrelated)
			}
		})
	}
}

func TestHashEmbedderName(t *testing.T) {
	if got, want := knowledge.NewHashEmbedder().Name(), "tier0-hash-v2-1024"; got != want {
		t.Errorf("got name %q, want %q (change it only together with the vectors)", got, want)
	}
}

func TestHashEmbedderCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := knowledge.NewHashEmbedder().Embed(ctx, "text"); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
}

func TestEmbeddingFunc(t *testing.T) {
	f := knowledge.EmbeddingFunc(knowledge.NewHashEmbedder())
	got, err := f(context.Background(), "VPN does not connect")
	if err != nil {
		t.Fatal(err)
	}
	if want := embed(t, "VPN does not connect"); !reflect.DeepEqual(got, want) {
		t.Error("got a different vector through chromem's EmbeddingFunc than from Embed")
	}
}
