package conversation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/conversation/boltstore"
	"github.com/tier0/tier0/conversation/language"
)

// germanVPN is vpnFlow with German questions.
var germanVPN = conversation.ConsultFlow{Name: "vpn", Keywords: []string{"vpn"}, Questions: vpnFlow.Questions,
	Translations: map[string][]string{"de": {"Welches Gerät nutzen Sie?", "Welche Fehlermeldung sehen Sie?"}}}

func languageEngine(tb testing.TB) (*conversation.Engine, conversation.Store) {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "tier0.db"), boltstore.Config{})
	if err != nil {
		tb.Fatalf("open bolt store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	d, err := language.New(language.Config{Languages: []string{"de", "en"}})
	if err != nil {
		tb.Fatalf("detector: %v", err)
	}
	e := newEngine(tb, s, &keywordKnowledge{}, conversation.EngineConfig{
		Language:   conversation.LanguageConfig{Detector: d},
		Consulting: conversation.ConsultingConfig{Flows: []conversation.ConsultFlow{germanVPN}},
	})
	return e, s
}

func load(tb testing.TB, s conversation.Store, key string) *conversation.Conversation {
	tb.Helper()
	c, err := s.Load(context.Background(), key)
	if err != nil {
		tb.Fatalf("load %s: %v", key, err)
	}
	return c
}

// The conversation's language: set by the first telling message (the
// platform locale as prior), kept through short and ambiguous messages,
// switched by a clearly different-language one.
func TestEngineConversationLanguage(t *testing.T) {
	type step struct {
		text, locale, want string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"german question", []step{{"Wie richte ich mein Postfach ein?", "", "de"}}},
		{"english question", []step{{"How do I set up my mailbox?", "", "en"}}},
		{"locale prior for a greeting", []step{{"Hallo", "de-AT", "de"}, {"ok", "de-AT", "de"}}},
		{"english locale, no evidence", []step{{"12345", "en-GB", "en"}}},
		{"german text beats english locale", []step{{"Mein Drucker druckt nicht mehr", "en-US", "de"}}},
		{"short message keeps german", []step{{"Wie verbinde ich mich mit dem VPN?", "", "de"}, {"ok thanks", "", "de"}, {"Windows 11", "", "de"}}},
		{"short message keeps english", []step{{"How do I connect to the VPN?", "", "en"}, {"danke", "", "en"}, {"MacBook", "", "en"}}},
		{"clear switch to english", []step{{"Wie verbinde ich mich mit dem VPN?", "", "de"}, {"Sorry, can you answer in English please? I don't speak German", "", "en"}}},
		{"clear switch to german", []step{{"My printer is not working", "", "en"}, {"Können Sie mir das bitte auf Deutsch erklären?", "", "de"}}},
		{"nothing tells", []step{{"VPN", "", ""}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, s := languageEngine(t)
			key := fmt.Sprint("webchat:lang", i)
			for n, st := range tt.steps {
				m := msg(key, fmt.Sprint("m", n), st.text)
				m.User.Locale = st.locale
				if _, err := e.Handle(context.Background(), m); err != nil {
					t.Fatalf("step %d: %v", n, err)
				}
				if got := load(t, s, key).Language; got != st.want {
					t.Errorf("after %q: language %q, want %q", st.text, got, st.want)
				}
			}
		})
	}
}

// Query.Language is the conversation's language.
func TestEngineQueryCarriesLanguage(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "tier0.db"), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, _ := language.New(language.Config{})
	k := &recordingKnowledge{}
	e := newEngine(t, s, k, conversation.EngineConfig{Language: conversation.LanguageConfig{Detector: d}})
	for i, text := range []string{"Wo finde ich das Passwort für das WLAN?", "ok"} {
		if _, err := e.Handle(context.Background(), msg("webchat:q", fmt.Sprint(i), text)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"de", "de"}; !reflect.DeepEqual(k.langs, want) {
		t.Errorf("Query.Language = %q, want %q", k.langs, want)
	}
}

type recordingKnowledge struct{ langs []string }

func (k *recordingKnowledge) Answer(ctx context.Context, q conversation.Query) (conversation.Answer, error) {
	k.langs = append(k.langs, q.Language)
	return conversation.Answer{Score: 0.1}, nil
}

// Every built-in text exists in every built-in language, and the German
// ones are not the English ones.
func TestBuiltinTextsComplete(t *testing.T) {
	en, _ := conversation.BuiltinTexts("en")
	for _, lang := range conversation.BuiltinLanguages() {
		tx, ok := conversation.BuiltinTexts(lang)
		if !ok {
			t.Fatalf("BuiltinTexts(%q) not found", lang)
		}
		v, ve := reflect.ValueOf(tx), reflect.ValueOf(en)
		for i := 0; i < v.NumField(); i++ {
			name := v.Type().Field(i).Name
			if f := v.Field(i); f.Kind() == reflect.String {
				if strings.TrimSpace(f.String()) == "" {
					t.Errorf("%s: %s is empty", lang, name)
				}
				if lang != "en" && f.String() == ve.Field(i).String() {
					t.Errorf("%s: %s is the English text %q", lang, name, f.String())
				}
			} else if f.Len() == 0 {
				t.Errorf("%s: %s is empty", lang, name)
			}
		}
	}
	if _, ok := conversation.BuiltinTexts("de-AT"); !ok {
		t.Error("BuiltinTexts(de-AT) should find German")
	}
}

// A deployment's overrides win in their language; missing fields and
// missing languages fall back (own built-in, then the default language).
func TestTextSetFallback(t *testing.T) {
	set := conversation.NewTextSet("en", map[string]conversation.Texts{
		"en": {NotSure: "custom en"},
		"de": {Helpful: "Prima!"},
		"fr": {NotSure: "Je ne suis pas sûr."},
	})
	de, _ := conversation.BuiltinTexts("de")
	tests := []struct {
		lang, got, want string
	}{
		{"en", set.For("en").NotSure, "custom en"},
		{"de", set.For("de").Helpful, "Prima!"},
		{"de", set.For("de-CH").NotSure, de.NotSure},
		{"fr", set.For("fr").NotSure, "Je ne suis pas sûr."},
		{"fr", set.For("fr").Helpful, set.For("en").Helpful},
		{"unknown", set.For("it").NotSure, "custom en"},
		{"empty", set.For("").NotSure, "custom en"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.lang, tt.got, tt.want)
		}
	}
	if got, want := set.Languages(), []string{"de", "en", "fr"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	for _, text := range []string{"Ich möchte mit einem Mitarbeiter sprechen", "can I talk to a real person"} {
		if !set.AsksForHuman(text) {
			t.Errorf("AsksForHuman(%q) = false", text)
		}
	}
}

// Channel sentences: built in per language, a deployment's own setting
// wins for every language, unknown languages get English.
func TestChannelText(t *testing.T) {
	hint := func(c conversation.ChannelTexts) string { return c.ChoiceHint }
	en, _ := conversation.ChannelTextsIn("en")
	de, ok := conversation.ChannelTextsIn("de-AT")
	if !ok || de.ChoiceHint == en.ChoiceHint {
		t.Fatalf("ChannelTextsIn(de-AT) = %+v, %v; want German", de, ok)
	}
	for _, tt := range []struct{ lang, configured, want string }{
		{"de", "", de.ChoiceHint},
		{"de", en.ChoiceHint, de.ChoiceHint}, // the English default is not the deployment's own
		{"de", "Bitte Zahl senden", "Bitte Zahl senden"},
		{"en", "", en.ChoiceHint},
		{"fr", "", en.ChoiceHint},
		{"", "", en.ChoiceHint},
	} {
		if got := conversation.ChannelText(tt.lang, tt.configured, hint); got != tt.want {
			t.Errorf("ChannelText(%q, %q) = %q, want %q", tt.lang, tt.configured, got, tt.want)
		}
	}
	v := reflect.ValueOf(de)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).String() == "" || v.Field(i).String() == reflect.ValueOf(en).Field(i).String() {
			t.Errorf("German channel text %s missing or English", v.Type().Field(i).Name)
		}
	}
}

func TestPhoneLocale(t *testing.T) {
	for phone, want := range map[string]string{"+4915112345678": "de", "4366412345678": "de", "+41791234567": "de", "+447700900123": "en", "+33612345678": "", "": ""} {
		if got := conversation.PhoneLocale(phone); got != want {
			t.Errorf("PhoneLocale(%q) = %q, want %q", phone, got, want)
		}
	}
}

func TestCleanLocale(t *testing.T) {
	for tag, want := range map[string]string{"de": "de", "de-AT": "de-AT", "pt-BR": "pt-BR", "en_US": "", "de<script>": "", strings.Repeat("a", 40): "", "": "", "1de": ""} {
		if got := conversation.CleanLocale(tag); got != want {
			t.Errorf("CleanLocale(%q) = %q, want %q", tag, got, want)
		}
	}
}

func TestBaseLanguage(t *testing.T) {
	for tag, want := range map[string]string{"de-DE": "de", "DE": "de", "de_CH.UTF-8": "de", "en": "en", "": "", "x": "", "123": "", "deutsch": ""} {
		if got := conversation.BaseLanguage(tag); got != want {
			t.Errorf("BaseLanguage(%q) = %q, want %q", tag, got, want)
		}
	}
}

// englishSentences are every built-in English sentence and flow question:
// none may reach a German conversation.
func englishSentences(flows ...conversation.ConsultFlow) []string {
	en, _ := conversation.BuiltinTexts("en")
	var out []string
	v := reflect.ValueOf(en)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.String {
			// The part before the first placeholder is what a filled
			// sentence starts with.
			s, _, _ := strings.Cut(f.String(), "{")
			out = append(out, strings.TrimSpace(s))
		}
	}
	for _, f := range flows {
		out = append(out, f.Questions...)
	}
	return out
}

// assertGerman fails when a bot sentence or button label of outs (what
// the customer sees; knowledge answers excepted) is English.
func assertGerman(tb testing.TB, outs []conversation.Outbound, flows ...conversation.ConsultFlow) {
	tb.Helper()
	for _, p := range notGerman(outs, flows...) {
		tb.Error(p)
	}
}

// notGerman describes each bot sentence or button label of outs that is
// an English built-in sentence or reads as not German.
func notGerman(outs []conversation.Outbound, flows ...conversation.ConsultFlow) []string {
	var problems []string
	english := englishSentences(flows...)
	d, _ := language.New(language.Config{Languages: []string{"de", "en"}})
	for _, o := range outs {
		if o.Kind == conversation.KindStaff || o.Kind == conversation.KindAgent {
			continue
		}
		texts := []string{}
		if o.Kind != conversation.KindAnswer {
			texts = append(texts, o.Text)
		}
		for _, b := range o.Buttons {
			if b.Action.ID != conversation.ActionConsult && b.Action.ID != conversation.ActionCSAT {
				texts = append(texts, b.Label)
			}
		}
		for _, s := range texts {
			for _, e := range english {
				if len(e) >= 12 && strings.HasPrefix(s, e) || s == e {
					problems = append(problems, fmt.Sprintf("German conversation got the English %s sentence %q", o.Kind, s))
				}
			}
			if g := d.Detect(s, ""); len(strings.Fields(s)) >= 3 && g.Language != "de" {
				problems = append(problems, fmt.Sprintf("German conversation got %q (%s), detected as %+v", s, o.Kind, g))
			}
		}
	}
	return problems
}

// A whole German conversation through the engine: German question →
// German consulting questions → handoff in German → agent joins and
// replies → resolved with the German satisfaction question → thanks.
// Every sentence the bot says on its own is German.
func TestEngineGermanConversation(t *testing.T) {
	e, s := languageEngine(t)
	ctx := context.Background()
	key := "webchat:de"
	var all []conversation.Outbound
	say := func(n int, text string, a *conversation.Action) []conversation.Outbound {
		t.Helper()
		m := msg(key, fmt.Sprint("de", n), text)
		m.Action = a
		res, err := e.Handle(ctx, m)
		if err != nil {
			t.Fatalf("message %d %q: %v", n, text, err)
		}
		all = append(all, res.Outbound...)
		return res.Outbound
	}
	first := func(outs []conversation.Outbound) conversation.Outbound {
		t.Helper()
		for _, o := range outs {
			if o.Kind != conversation.KindStaff {
				return o
			}
		}
		t.Fatalf("no customer message in %+v", outs)
		return conversation.Outbound{}
	}
	de, _ := conversation.BuiltinTexts("de")
	if got := first(say(1, "Mein VPN verbindet sich nicht mehr", nil)); got.Text != "Welches Gerät nutzen Sie?" || got.Kind != conversation.KindConsulting {
		t.Fatalf("first reply %q (%s), want the German consulting question", got.Text, got.Kind)
	}
	if got := first(say(2, "Windows 11 Laptop", nil)); got.Text != "Welche Fehlermeldung sehen Sie?" {
		t.Fatalf("second reply %q, want the second German question", got.Text)
	}
	got := first(say(3, "Fehler 809", nil))
	if got.Kind != conversation.KindHandoff || !strings.HasPrefix(got.Text, "Ich habe Ihr Anliegen als Ticket IT-") {
		t.Fatalf("third reply %q (%s), want the German handoff", got.Text, got.Kind)
	}
	if c := load(t, s, key); c.Language != "de" || len(c.Slots) != 2 || c.Slots[0].Question != "Welches Gerät nutzen Sie?" {
		t.Fatalf("conversation language %q, slots %+v", c.Language, c.Slots)
	}
	agent := conversation.Identity{ID: "a1", DisplayName: "Ada"}
	for i, a := range []conversation.AgentAction{
		{Kind: conversation.AgentReply, Text: "Bitte starten Sie den Client neu."},
		{Kind: conversation.AgentResolve},
	} {
		a.ConversationKey, a.DedupeKey, a.Agent = key, fmt.Sprint("a", i), agent
		res, err := e.Act(ctx, a)
		if err != nil {
			t.Fatalf("agent %s: %v", a.Kind, err)
		}
		all = append(all, res.Outbound...)
	}
	var texts []string
	for _, o := range all {
		texts = append(texts, o.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"Ada hat Ihr Anliegen übernommen", "Bitte starten Sie den Client neu.", strings.Split(de.Resolved, "{")[0]} {
		if !strings.Contains(joined, want) {
			t.Errorf("outbound texts lack %q:\n%s", want, joined)
		}
	}
	if got := first(say(4, "", &conversation.Action{ID: conversation.ActionCSAT, Value: "5"})); got.Text != de.CSATThanks {
		t.Errorf("CSAT reply %q, want %q", got.Text, de.CSATThanks)
	}
	assertGerman(t, all, germanVPN)
	// The check itself catches English sentences, labels and questions.
	en, _ := conversation.BuiltinTexts("en")
	english := []conversation.Outbound{
		{Kind: conversation.KindNotice, Text: strings.ReplaceAll(en.Resolved, "{ticket}", "IT-1")},
		{Kind: conversation.KindNotSure, Text: "Ich weiß nicht.", Buttons: []conversation.Button{{Action: conversation.Action{ID: conversation.ActionHuman}, Label: en.ButtonHuman}}},
		{Kind: conversation.KindConsulting, Text: vpnFlow.Questions[1]},
		{Kind: conversation.KindNotice, Text: "Please hold on, someone is coming"},
	}
	if got := notGerman(english, germanVPN); len(got) < len(english) {
		t.Errorf("notGerman found %d problems in %d English messages: %q", len(got), len(english), got)
	}
}
