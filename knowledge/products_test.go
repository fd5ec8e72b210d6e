package knowledge_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// recordingFallback is a small conversation.Knowledge that records the
// questions handed to it.
type recordingFallback struct{ asked []string }

func (f *recordingFallback) Answer(_ context.Context, q conversation.Query) (conversation.Answer, error) {
	f.asked = append(f.asked, q.Text)
	return conversation.Answer{Text: "from the fallback", Score: 0.8, Confident: true}, nil
}

func shopAnswerer(tb testing.TB) (*knowledge.ProductAnswerer, *recordingFallback) {
	tb.Helper()
	fb := &recordingFallback{}
	return knowledge.NewProductAnswerer(loadShop(tb), fb), fb
}

// citedIDs returns the product ids of an answer's citations, from their
// "Name (ID)" sections.
func citedIDs(ans conversation.Answer) []string {
	var ids []string
	for _, c := range ans.Citations {
		if i := strings.LastIndex(c.Section, " ("); i >= 0 {
			ids = append(ids, strings.TrimSuffix(c.Section[i+2:], ")"))
		}
	}
	return ids
}

func askProduct(tb testing.TB, a *knowledge.ProductAnswerer, q string) conversation.Answer {
	tb.Helper()
	ans, err := a.Answer(context.Background(), conversation.Query{Text: q})
	if err != nil {
		tb.Fatalf("answer %q: %v", q, err)
	}
	return ans
}

func TestProductCompatibility(t *testing.T) {
	tests := []struct {
		q       string
		wantYes bool
		wantIDs []string // both products, in question order
	}{
		{"Does the Firnline Apex 120 boot fit the Bergriegel Race 16 binding?", true, []string{"FB-APEX120", "BR-RACE16"}},
		{"Is the Hochkar Drift 100 WTR compatible with the Bergriegel Race 16?", false, []string{"HK-DRIFT100", "BR-RACE16"}},
		{"Is the Hochkar Drift 100 WTR compatible with the Bergriegel Multi 13 MNC?", true, []string{"HK-DRIFT100", "BR-MULTI13"}},
		{"Can I use the Hochkar Roam 110 GW with the Steinbock Pivot 14?", true, []string{"HK-ROAM110", "SB-PIVOT14"}},
		{"does the firnline trailbreaker fit the steinbock pivot 14", false, []string{"FB-TRAIL110", "SB-PIVOT14"}},
		{"Will the Bergriegel Skyward 11 Tour work with the Trailbreaker 110?", true, []string{"BR-SKYWARD11", "FB-TRAIL110"}},
		{"Does the SB-KIDS7 fit the Firnline Pixie 60 Junior?", true, []string{"SB-KIDS7", "FB-PIXIE60"}},
		{"Are the Gletscherwind Freerider 98 and the Bergriegel Multi 13 MNC compatible?", true, []string{"GW-FREERIDE98", "BR-MULTI13"}},
		{"Does the Firnlin Apex 120 fit the Bergriegl Race 16?", true, []string{"FB-APEX120", "BR-RACE16"}}, // typos
		// German phrasing.
		{"Passt der Firnline Trailbreaker 110 zur Bergriegel Skyward 11 Tour?", true, []string{"FB-TRAIL110", "BR-SKYWARD11"}},
		{"Passt der Hochkar Carve 130 zu der Steinbock Easy 10 WTR?", true, []string{"HK-CARVE130", "SB-EASY10"}},
		{"Ist der Hochkar Roam 110 GW mit der Steinbock Easy 10 WTR kompatibel?", false, []string{"HK-ROAM110", "SB-EASY10"}},
		{"Passt der Skischuh Firnline Apex 120 auf die Bindung Bergriegel Race 16?", true, []string{"FB-APEX120", "BR-RACE16"}},
	}
	a, fb := shopAnswerer(t)
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			ans := askProduct(t, a, tt.q)
			if !ans.Confident {
				t.Fatalf("got not confident: %q", ans.Text)
			}
			wantStart := "No."
			if tt.wantYes {
				wantStart = "Yes."
			}
			if !strings.HasPrefix(ans.Text, wantStart) {
				t.Errorf("got %q, want it to start with %q", ans.Text, wantStart)
			}
			if got := citedIDs(ans); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("got citations %v, want %v", got, tt.wantIDs)
			}
		})
	}
	if len(fb.asked) != 0 {
		t.Errorf("got questions %q handed to the fallback, want none", fb.asked)
	}
}

// A compatibility question naming one product and a category lists the
// compatible products of that category, in English and German.
func TestProductCompatibleOfCategory(t *testing.T) {
	a, _ := shopAnswerer(t)
	for _, q := range []string{"Which bindings fit the Firnline Pixie 60 Junior?", "Welche Bindungen passen zum Firnline Pixie 60 Junior?"} {
		t.Run(q, func(t *testing.T) {
			ans := askProduct(t, a, q)
			if !ans.Confident || !strings.Contains(ans.Text, "compatible with these bindings: Steinbock Kids 7") {
				t.Errorf("got %q (confident %v), want the Steinbock Kids 7 as the compatible binding", ans.Text, ans.Confident)
			}
		})
	}
}

func TestProductCompatibilityReason(t *testing.T) {
	a, _ := shopAnswerer(t)
	ans := askProduct(t, a, "Does the Hochkar Drift 100 WTR fit the Bergriegel Race 16?")
	for _, s := range []string{"WTR", "ISO 5355", "Compatible bindings for the Hochkar Drift 100 WTR", "Bergriegel Multi 13 MNC (BR-MULTI13)"} {
		if !strings.Contains(ans.Text, s) {
			t.Errorf("got %q, want it to contain %q", ans.Text, s)
		}
	}
}

func TestProductFilters(t *testing.T) {
	tests := []struct {
		q       string
		wantIDs []string // cheapest first
	}{
		{"Which laptops have 32 GB RAM?", []string{"VX-PRO14", "TT-RUGGED15"}},
		{"skis under 400 EUR", []string{"NS-KIDDO70", "NS-EASYGLIDE78", "GW-ALLROUND84"}},
		{"waterproof jackets in size M", []string{"NK-FROST", "NK-STORM", "NK-STORMW"}},
		{"Which laptops have at least 32 GB RAM under 2000 EUR?", []string{"VX-PRO14"}},
		{"Which bindings take GripWalk?", []string{"BR-ALLRIDE12", "BR-MULTI13", "SB-PIVOT14"}},
		{"which goggles are photochromic", []string{"KS-PHOTO"}},
		{"Welche Laptops haben 32 GB RAM?", []string{"VX-PRO14", "TT-RUGGED15"}},
		{"waterproof jackets under 100 EUR", nil},
		{"Which helmets do you have in size XL?", []string{"GH-LITE"}},
	}
	a, fb := shopAnswerer(t)
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			ans := askProduct(t, a, tt.q)
			if !ans.Confident {
				t.Errorf("got not confident: %q", ans.Text)
			}
			if got := citedIDs(ans); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("got products %v (%q), want %v", got, ans.Text, tt.wantIDs)
			}
		})
	}
	if len(fb.asked) != 0 {
		t.Errorf("got questions %q handed to the fallback, want none", fb.asked)
	}
}

func TestProductAttribute(t *testing.T) {
	tests := []struct {
		q, wantID, wantIn string
	}{
		{"How much does the Voltbook Air 13 weigh?", "VX-AIR13", "1.1 kg"},
		{"What does the Gipfelhut Summit MIPS cost?", "GH-SUMMIT", "169.00 EUR"},
		{"Is the Nordkamm Daunenwolke waterproof?", "NK-DAUNE", "No."},
		{"what is the flex of the hochkar carve 130", "HK-CARVE130", "130"},
		{"Wie viel wiegt der Firnline Trailbreaker 110?", "FB-TRAIL110", "1350 g"},
		{"Tell me about the Klangberg Quietude ANC", "KB-QUIET", "noise cancelling"},
	}
	a, _ := shopAnswerer(t)
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			ans := askProduct(t, a, tt.q)
			if !ans.Confident || !strings.Contains(ans.Text, tt.wantIn) || !slices.Equal(citedIDs(ans), []string{tt.wantID}) {
				t.Errorf("got %q (confident %v, cited %v), want a confident answer citing %s containing %q",
					ans.Text, ans.Confident, citedIDs(ans), tt.wantID, tt.wantIn)
			}
		})
	}
}

func TestProductAmbiguous(t *testing.T) {
	tests := []struct {
		q         string
		wantNames []string
	}{
		{"Does the Firnline Apex fit the Bergriegel Race 16?", []string{"Firnline Apex 120", "Firnline Apex 100", "Firnline Apex 90 W"}},
		{"How much does the Voltbook Pro weigh?", []string{"Voltbook Pro 14", "Voltbook Pro 16"}},
		{"Passt der Hochkar Carve 130 zur Bergriegel?", []string{"Bergriegel Race 16", "Bergriegel Multi 13 MNC"}},
	}
	a, _ := shopAnswerer(t)
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			ans := askProduct(t, a, tt.q)
			if ans.Confident {
				t.Errorf("got a confident answer %q, want not confident", ans.Text)
			}
			for _, n := range tt.wantNames {
				if !strings.Contains(ans.Text, n) {
					t.Errorf("got %q, want it to name the candidate %q", ans.Text, n)
				}
			}
		})
	}
}

func TestProductFallback(t *testing.T) {
	questions := []string{
		"How long can I return an order?",
		"Can I return the Firnline Apex 120 after trying it at home?",
		"what is the return policy for laptops",
		"how do I measure my ski boot size",
		"Kann ich per Rechnung bezahlen?",
		"what is the wifi password",
		"Which headphones have 64 GB RAM?",
	}
	a, fb := shopAnswerer(t)
	for _, q := range questions {
		t.Run(q, func(t *testing.T) {
			fb.asked = nil
			ans := askProduct(t, a, q)
			if ans.Text != "from the fallback" || !slices.Equal(fb.asked, []string{q}) {
				t.Errorf("got %q (fallback asked %q), want the fallback's answer", ans.Text, fb.asked)
			}
		})
	}
	if _, err := a.Answer(context.Background(), conversation.Query{Text: "  "}); conversation.ErrorCode(err) != conversation.Invalid {
		t.Errorf("blank question: got error %v, want Invalid", err)
	}
	noFallback := knowledge.NewProductAnswerer(loadShop(t), nil)
	if ans := askProduct(t, noFallback, "what is the wifi password"); ans.Confident || ans.Text != "" {
		t.Errorf("without a fallback: got %+v, want an empty answer", ans)
	}
}

func TestProductSuggest(t *testing.T) {
	a, _ := shopAnswerer(t)
	var names []string
	for _, p := range a.Related("FB-APEX100") {
		names = append(names, p.ID)
	}
	if want := []string{"GH-LITE", "KS-PHOTO", "GW-ALLROUND84"}; !slices.Equal(names, want) {
		t.Errorf("Related: got %v, want %v", names, want)
	}
	if got := a.Related("NOPE"); got != nil {
		t.Errorf("Related of an unknown id: got %v, want nil", got)
	}
	conv := &conversation.Conversation{History: []conversation.Turn{
		{Role: conversation.RoleCustomer, Text: "I'm looking at the Firnline Apex 100"},
		{Role: conversation.RoleBot, Text: "…"},
	}}
	got, err := a.Suggest(context.Background(), conv)
	if err != nil {
		t.Fatalf("Suggest: %v", err)
	}
	var ids, reasons []string
	for _, s := range got {
		ids = append(ids, s.Product.ID)
		reasons = append(reasons, s.Reason)
		if s.For != "FB-APEX100" {
			t.Errorf("got suggestion for %q, want FB-APEX100", s.For)
		}
	}
	if want := []string{"GH-LITE", "KS-PHOTO", "GW-ALLROUND84", "HK-DRIFT100", "HK-ROAM110"}; !slices.Equal(ids, want) {
		t.Errorf("got suggestions %v, want %v", ids, want)
	}
	if want := []string{"related", "related", "related", "upsell", "upsell"}; !slices.Equal(reasons, want) {
		t.Errorf("got reasons %v, want %v", reasons, want)
	}
	none, err := a.Suggest(context.Background(), &conversation.Conversation{History: []conversation.Turn{{Role: conversation.RoleCustomer, Text: "hello"}}})
	if err != nil || len(none) != 0 {
		t.Errorf("conversation about no product: got %v, %v; want none", none, err)
	}
}

func TestProductAnswerCrossSells(t *testing.T) {
	a, _ := shopAnswerer(t)
	q := "Does the Firnline Apex 120 boot fit the Bergriegel Race 16 binding?"
	happy, err := a.Answer(context.Background(), conversation.Query{Text: q})
	if err != nil || !happy.Confident {
		t.Fatalf("answer %+v, %v; want a confident compatibility answer", happy, err)
	}
	related := a.Related("FB-APEX120")
	if len(related) == 0 {
		t.Fatal("the sample catalogue lists no related products for FB-APEX120")
	}
	if !strings.Contains(happy.Text, "Goes well with: "+related[0].Name) {
		t.Errorf("answer %q, want it to suggest %s", happy.Text, related[0].Name)
	}
	// Nothing is sold to an unhappy customer.
	unhappy, err := a.Answer(context.Background(), conversation.Query{Text: q, History: []conversation.Turn{
		{Role: conversation.RoleCustomer, Text: q, Sentiment: -0.4},
	}})
	if err != nil || strings.Contains(unhappy.Text, "Goes well with") || !unhappy.Confident {
		t.Errorf("answer to an unhappy customer %q (%v), want the answer without suggestions", unhappy.Text, err)
	}
}
