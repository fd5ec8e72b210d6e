package handoff_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tier0/tier0/handoff"
)

// scoreRange says where a score must fall.
type scoreRange struct{ lo, hi float64 }

var (
	neutral  = scoreRange{-0.1, 0.1}
	positive = scoreRange{0.2, 1}
	mildPos  = scoreRange{0.01, 0.5}
	negative = scoreRange{-1, -0.2}
	veryNeg  = scoreRange{-1, handoff.FrustratedBelow}
)

func TestLexiconScorer(t *testing.T) {
	s := handoff.NewLexiconScorer()
	tests := []struct {
		text       string
		want       scoreRange
		frustrated bool
		signal     string // one signal that must be present, if set
	}{
		// Neutral questions.
		{"How do I reset my password?", neutral, false, ""},
		{"Wie verbinde ich mich mit dem VPN?", neutral, false, ""},
		{"Where can I download the VPN client for my Mac?", neutral, false, ""},
		{"Wie geht das mit dem Drucker im 3. Stock?", neutral, false, ""},
		{"Can you help me set up Outlook on my phone?", neutral, false, ""},
		{"Welche Größe brauche ich für die Skischuhe?", neutral, false, ""},
		{"", neutral, false, ""},
		{"!!!???", neutral, false, ""},

		// Plain positive and negative.
		{"Thanks, that fixed it!", positive, false, "positive:thanks"},
		{"Super, vielen Dank, das hat geholfen", positive, false, "positive:super"},
		{"Perfekt, jetzt funktioniert es", positive, false, "positive:perfekt"},
		{"The new laptop is great", positive, false, "positive:great"},
		{"The answer was bad", negative, false, "negative:bad"},
		{"Das ist eine schlechte Antwort", negative, false, "negative:schlechte"},
		{"This is terrible and useless", veryNeg, true, "negative:terrible"},
		{"Das ist furchtbar und nutzlos", veryNeg, true, "negative:furchtbar"},

		// Negation.
		{"not bad at all", mildPos, false, "negated:bad"},
		{"Das ist nicht schlecht", mildPos, false, "negated:schlecht"},
		{"This is not good", negative, false, "negated:good"},
		{"Das ist nicht gut", negative, false, "negated:gut"},
		{"The VPN doesn't work", negative, false, "negated:work"},
		{"Das Drucken funktioniert nicht", negative, false, "negated:funktioniert"},
		{"Das hilft mir nicht weiter", negative, false, "negated:hilft"},
		{"No problem, thanks", positive, false, "negated:problem"},
		{"Kein Problem, danke", positive, false, "negated:problem"},
		{"The answer wasn't helpful", negative, false, "negated:helpful"},
		{"Good, not bad", positive, false, "positive:good"},

		// Intensifiers, capitals, exclamations, profanity.
		{"This is very bad", veryNeg, true, "negative:bad"},
		{"Das ist sehr schlecht", veryNeg, true, "negative:schlecht"},
		{"This is extremely slow", veryNeg, true, "negative:slow"},
		{"This is a bit slow", negative, false, "negative:slow"},
		{"This is BAD", veryNeg, true, "caps:bad"},
		{"WHY IS THIS SO SLOW", veryNeg, true, "shouting"},
		{"bad answer!!!", veryNeg, true, "exclamations:1"},
		{"This shit is broken", veryNeg, true, "profanity:shit"},
		{"So eine Scheiße", veryNeg, true, "frustration:so eine scheisse"},
		{"Dieses Scheißsystem", veryNeg, true, "profanity:scheisssystem"},
		{"the printer is not fucking working", veryNeg, true, "profanity:fucking"},

		// Frustration phrases.
		{"This is the third time I ask, your bot is useless!!!", veryNeg, true, "frustration:third time"},
		{"Das funktioniert schon wieder nicht, echt unverschämt", veryNeg, true, "frustration:schon wieder"},
		{"this is ridiculous", veryNeg, true, "frustration:this is ridiculous"},
		{"It is still not working", negative, true, "frustration:still not working"},
		{"Useless bot", veryNeg, true, "frustration:useless bot"},
		{"Der Drucker geht immer noch nicht", negative, true, "frustration:immer noch nicht"},
		{"So ein Mist", veryNeg, true, "frustration:so ein mist"},
		{"Wie oft denn noch?", negative, true, "frustration:wie oft denn noch"},
		{"unverschaemt", veryNeg, true, "frustration:unverschaemt"},
		{"UNVERSCHÄMT", veryNeg, true, "frustration:unverschaemt"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := s.Score(tt.text)
			if got.Score < tt.want.lo || got.Score > tt.want.hi {
				t.Errorf("Score(%q) = %.3f (signals %v), want in [%.2f, %.2f]", tt.text, got.Score, got.Signals, tt.want.lo, tt.want.hi)
			}
			if got.Frustrated != tt.frustrated {
				t.Errorf("Score(%q).Frustrated = %v (score %.3f, signals %v), want %v", tt.text, got.Frustrated, got.Score, got.Signals, tt.frustrated)
			}
			if tt.signal != "" && !slices.Contains(got.Signals, tt.signal) {
				t.Errorf("Score(%q).Signals = %v, want it to contain %q", tt.text, got.Signals, tt.signal)
			}
		})
	}
}

func TestLexiconScorerOrdering(t *testing.T) {
	s := handoff.NewLexiconScorer()
	tests := []struct{ weaker, stronger string }{
		{"bad", "very bad"},
		{"schlecht", "sehr schlecht"},
		{"bad", "BAD"},
		{"bad answer", "bad answer!!!"},
		{"bad", "terrible"},
		{"slightly slow", "slow"},
	}
	for _, tt := range tests {
		t.Run(tt.stronger, func(t *testing.T) {
			weak, strong := s.Score(tt.weaker).Score, s.Score(tt.stronger).Score
			if !(strong < weak) {
				t.Errorf("Score(%q) = %.3f, want below Score(%q) = %.3f", tt.stronger, strong, tt.weaker, weak)
			}
		})
	}
}

func TestLexiconScorerTruncates(t *testing.T) {
	s := handoff.NewLexiconScorer()
	head := strings.Repeat("a ", handoff.MaxSentimentRunes/2)
	got := s.Score(head + "this is ridiculous, useless bot, scheiße")
	if got.Score != 0 || got.Frustrated || len(got.Signals) != 0 {
		t.Errorf("Score(long text with insults after %d runes) = %+v, want zero", handoff.MaxSentimentRunes, got)
	}
}

func TestLexiconScorerNil(t *testing.T) {
	var s *handoff.LexiconScorer
	if got := s.Score("useless bot"); !got.Frustrated {
		t.Errorf("nil scorer Score(%q) = %+v, want Frustrated", "useless bot", got)
	}
}

func TestLexiconScorerBoundsSignals(t *testing.T) {
	s := handoff.NewLexiconScorer()
	got := s.Score(strings.Repeat("bad ", 500))
	if len(got.Signals) > 16 {
		t.Errorf("len(Signals) = %d, want at most 16", len(got.Signals))
	}
	if got.Score < -1 || got.Score > -0.99 {
		t.Errorf("Score(500 × bad) = %f, want close to -1", got.Score)
	}
}

func TestTrend(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		want   float64
	}{
		{"empty", nil, 0},
		{"one", []float64{-0.6}, -0.6},
		{"constant", []float64{0.5, 0.5, 0.5}, 0.5},
		{"worsening", []float64{0, -1}, -1 / 1.7},
		{"improving", []float64{-1, 0}, -0.7 / 1.7},
		{"clamped", []float64{-5, 5}, (0.7*-1 + 1) / 1.7},
		{"NaN skipped", []float64{0.4, math.NaN()}, 0.4},
		{"only NaN", []float64{math.NaN()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handoff.Trend(tt.scores); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Trend(%v) = %f, want %f", tt.scores, got, tt.want)
			}
		})
	}
}

// checkSentiment asserts the invariants every score must keep.
func checkSentiment(tb testing.TB, text string, got handoff.Sentiment) {
	tb.Helper()
	if math.IsNaN(got.Score) || got.Score < -1 || got.Score > 1 {
		tb.Fatalf("Score(%q) = %v, want in [-1, 1]", text, got.Score)
	}
	if got.Score <= handoff.FrustratedBelow && !got.Frustrated {
		tb.Fatalf("Score(%q) = %v but not Frustrated", text, got.Score)
	}
	if len(got.Signals) > 16 {
		tb.Fatalf("Score(%q) has %d signals, want at most 16", text, len(got.Signals))
	}
}

func FuzzLexiconScorer(f *testing.F) {
	for _, seed := range []string{
		"", "How do I reset my password?", "Das funktioniert schon wieder nicht, echt unverschämt",
		"NOT BAD!!!???", "nicht", "so so so so very", "\xff\xfe'''", "ẞ Ä Ö Ü don’t", "zum x-ten Mal!!",
	} {
		f.Add(seed)
	}
	s := handoff.NewLexiconScorer()
	f.Fuzz(func(t *testing.T, text string) {
		got := s.Score(text)
		checkSentiment(t, text, got)
		again := s.Score(text)
		if again.Score != got.Score || again.Frustrated != got.Frustrated || !slices.Equal(again.Signals, got.Signals) {
			t.Fatalf("Score(%q) not deterministic: %+v then %+v", text, got, again)
		}
		if utf8.RuneCountInString(text) > handoff.MaxSentimentRunes {
			cut := string([]rune(text)[:handoff.MaxSentimentRunes])
			if head := s.Score(cut); head.Score != got.Score {
				t.Fatalf("Score reads past %d runes: %v vs %v", handoff.MaxSentimentRunes, got.Score, head.Score)
			}
		}
	})
}

func BenchmarkLexiconScorer(b *testing.B) {
	s := handoff.NewLexiconScorer()
	for _, bc := range []struct{ name, text string }{
		{"short", "This is the third time I ask, your bot is useless!!!"},
		{"max", strings.Repeat("Das funktioniert schon wieder nicht, echt unverschämt. ", 60)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Score(bc.text)
			}
		})
	}
}
