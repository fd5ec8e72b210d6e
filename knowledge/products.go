package knowledge

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Scores a ProductAnswerer gives its answers.
const (
	// ProductConfidentScore is the score of an answer about unambiguously
	// matched products.
	ProductConfidentScore = 0.9
	// ProductUnsureScore is the score of an answer that asks which product
	// was meant, or that found one of two products only.
	ProductUnsureScore = 0.3
	// maxListed bounds the products an answer lists.
	maxListed = 5
	// maxProductQueryChars bounds the question text read; the rest is ignored.
	maxProductQueryChars = 2000
)

// ProductAnswerer answers product questions from a Catalog and passes
// every other question to a fallback conversation.Knowledge (usually the
// document Answerer). It understands:
//
//   - compatibility: "Does the Alpina X boot fit the Tyrolia Y binding?",
//     "Is X compatible with Y?", "Passt X zu Y?" → yes or no with the
//     reason (the catalogue's compatibility lists and the products' norm
//     attributes) and both products cited;
//   - one product's attribute: "How much does the X weigh?", "What does X
//     cost?" → the attribute's value; a product named without an
//     attribute gets its summary;
//   - attribute filters over a category: "Which laptops have 32 GB RAM?",
//     "skis under 400 EUR", "waterproof jackets in size M" → the matching
//     products, cheapest first, each cited.
//
// Products are found by fuzzy name matching: the product id, or the words
// of the name other than the brand and category (one typo allowed in
// words of five letters or more), with the brand and category words
// breaking ties. An answer is Confident only when every product it is
// about was matched unambiguously; when a name fits several products the
// answer is not confident and names the candidates. Questions about
// returns, shipping, warranty or payment go to the fallback even when
// they name a product.
type ProductAnswerer struct {
	cat        Catalog
	fallback   conversation.Knowledge
	terms      []productTerms
	categories []categoryTerms
}

var _ conversation.Knowledge = (*ProductAnswerer)(nil)

// productTerms are the folded words a product is recognised by.
type productTerms struct {
	id       string
	model    []string // name words without brand and category words
	brand    []string
	category []string // stems of the category words
}

// categoryTerms are the stems of a category's words; the last is its head noun.
type categoryTerms struct {
	name  string
	stems []string
}

// NewProductAnswerer returns a ProductAnswerer over cat that hands other
// questions to fallback (nil: such questions get an empty, not confident
// answer).
func NewProductAnswerer(cat Catalog, fallback conversation.Knowledge) *ProductAnswerer {
	a := &ProductAnswerer{cat: cat, fallback: fallback}
	generic := map[string]bool{}
	seenCat := map[string]bool{}
	for _, p := range cat.Products {
		if p.Category == "" || seenCat[p.Category] {
			continue
		}
		seenCat[p.Category] = true
		ct := categoryTerms{name: p.Category}
		for _, w := range splitWords(p.Category) {
			ct.stems = append(ct.stems, w.stem)
			generic[w.folded], generic[w.stem] = true, true
		}
		if len(ct.stems) > 0 {
			a.categories = append(a.categories, ct)
		}
	}
	for _, p := range cat.Products {
		t := productTerms{id: foldedJoin(p.ID)}
		for _, w := range splitWords(p.Brand) {
			t.brand = append(t.brand, w.folded)
		}
		for _, w := range splitWords(p.Category) {
			t.category = append(t.category, w.stem)
		}
		for _, w := range splitWords(p.Name) {
			if !slices.Contains(t.brand, w.folded) && !generic[w.folded] && !generic[w.stem] && !w.stop {
				t.model = append(t.model, w.folded)
			}
		}
		a.terms = append(a.terms, t)
	}
	return a
}

// foldedJoin folds s the way splitWords does and joins its words: the
// form a product id takes in a question ("AB-120" → "ab120").
func foldedJoin(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		b.WriteString(w.folded)
	}
	return b.String()
}

// Catalog returns the catalogue the answerer works from.
func (a *ProductAnswerer) Catalog() Catalog { return a.cat }

// Answer answers q from the catalogue when it is a product question and
// from the fallback otherwise (see ProductAnswerer). Errors: Invalid for a
// blank question; the fallback's errors for questions it answers.
func (a *ProductAnswerer) Answer(ctx context.Context, q conversation.Query) (conversation.Answer, error) {
	text := strings.TrimSpace(q.Text)
	if text == "" {
		return conversation.Answer{}, conversation.Errorf(conversation.Invalid, "empty question")
	}
	if utf8.RuneCountInString(text) > maxProductQueryChars {
		text = string([]rune(text)[:maxProductQueryChars])
	}
	if err := ctx.Err(); err != nil {
		return conversation.Answer{}, err
	}
	if ans, ok := a.answerProduct(text); ok {
		if ans.Confident && !soundsUnhappy(q.History) {
			ans.Text += a.crossSell(ans.Citations)
		}
		return ans, nil
	}
	if a.fallback == nil {
		return conversation.Answer{}, nil
	}
	return a.fallback.Answer(ctx, q)
}

// Question cues.
var (
	compatIntentRE = regexp.MustCompile(`(?i)\b(fits?|fitting|compatible|compatibility|work(s)? (with|on)|go(es)? with|mount(ed)? on|use .{1,80} with|passt|passen|kompatibel|funktioniert .{1,80} mit|geeignet f(ü|ue)r)\b`)
	// compatSplitRE separates the two products of a compatibility
	// question; its leftmost match is the split point.
	compatSplitRE = regexp.MustCompile(`(?i)\b(compatible with|kompatibel mit|fits? (on|onto|into|in|with)|fits?|work(s)? (with|on)|go(es)? with|mount(ed)? on|zu|zum|zur|mit|auf|with|and|und|on|onto)\b`)
	policyRE      = regexp.MustCompile(`(?i)\b(return|returns|refund|exchange|shipping|ship|delivery|deliver|warranty|guarantee|payment|pay|invoice|order|rückgabe|rueckgabe|umtausch|erstattung|versand|lieferung|garantie|gewährleistung|zahlung|bezahlen|rechnung|bestellung)\b`)
	listingRE     = regexp.MustCompile(`(?i)\b(which|what|any|show|list|recommend|suggest|do you (have|sell|carry)|welche|gibt es|habt ihr|haben sie|zeig)\b`)
	negationRE    = regexp.MustCompile(`(?i)^(not|non|no|without|kein|keine|nicht|ohne)$`)
	maxCompareRE  = regexp.MustCompile(`(?i)\b(under|below|less than|cheaper than|at most|max|maximum|up to|unter|bis|höchstens|hoechstens|weniger als|günstiger als)\s*(€|\$)?\s*(\d+(?:[.,]\d+)?)\s*(€|\$|[a-z]+)?`)
	minCompareRE  = regexp.MustCompile(`(?i)\b(over|above|more than|at least|min|minimum|from|über|ueber|mindestens|ab|mehr als)\s*(€|\$)?\s*(\d+(?:[.,]\d+)?)\s*(€|\$|[a-z]+)?`)
	leadNumberRE  = regexp.MustCompile(`^(\d+(?:[.,]\d+)?)\s*([A-Za-z]+)?`)
)

// currencyWords are the currency spellings a price comparison may use.
var currencyWords = map[string]string{
	"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "usd": "USD", "dollar": "USD",
	"dollars": "USD", "chf": "CHF", "franken": "CHF", "gbp": "GBP", "pounds": "GBP",
}

// attributeAliases are question words that ask for an attribute whose name
// they do not contain.
var attributeAliases = map[string][]string{
	"weight":       {"weigh", "weighs", "heavy", "gewicht", "wiegt", "schwer"},
	"sizes":        {"size", "grosse", "groesse", "grossen"},
	"color":        {"colour", "colours", "colors", "farbe", "farben"},
	"ram":          {"memory", "arbeitsspeicher"},
	"battery_life": {"battery", "akku", "akkulaufzeit"},
	"waterproof":   {"wasserdicht"},
}

// productWords splits text like splitWords (the light stems the catalogue
// terms are made of) and gives German words their translations (see
// analyze), so "Bindungen" finds the category "Bindings".
func productWords(text string) []word {
	words := splitWords(text)
	if bridged := analyze(text); len(bridged) == len(words) {
		for i := range words {
			words[i].alts = bridged[i].alts
		}
	}
	return words
}

// priceWords ask for a product's price.
var priceWords = []string{"cost", "costs", "price", "expensive", "cheap", "kostet", "preis", "teuer"}

// answerProduct answers text when it is a product question.
func (a *ProductAnswerer) answerProduct(text string) (conversation.Answer, bool) {
	if len(a.cat.Products) == 0 {
		return conversation.Answer{}, false
	}
	words := productWords(text)
	if compatIntentRE.MatchString(text) {
		if ans, ok := a.answerCompat(text); ok {
			return ans, true
		}
	}
	policy := policyRE.MatchString(text)
	m := a.match(words)
	key, asked := a.askedAttribute(words, m)
	switch {
	case len(m) == 1 && (!policy || asked):
		return a.answerAttribute(m[0], key), true
	case len(m) > 1 && !policy:
		return a.whichOne(m), true
	}
	return a.answerFilter(text, words, policy)
}

// match returns the products words name: one when unambiguous, the tied
// candidates (at most maxListed) when several fit equally, none when no
// product is named. A product id wins outright. Otherwise the products
// matching the most name words are candidates; of several, the only one
// whose name words are all there wins ("Stormshell 3L" over "Stormshell
// 3L Women"), then the only one whose brand or category is named too.
func (a *ProductAnswerer) match(words []word) []int {
	var cands []int
	var hits []nameHit
	most := 0
	for i, t := range a.terms {
		h := t.hit(words)
		switch {
		case h.id:
			return []int{i}
		case h.model == 0 || h.model < most:
			continue
		case h.model > most:
			most, cands, hits = h.model, nil, nil
		}
		cands, hits = append(cands, i), append(hits, h)
	}
	for _, keep := range []func(nameHit) bool{
		func(h nameHit) bool { return h.full },
		func(h nameHit) bool { return h.brand && h.category },
		func(h nameHit) bool { return h.brand || h.category },
	} {
		if len(cands) <= 1 {
			break
		}
		var c2 []int
		var h2 []nameHit
		for k, h := range hits {
			if keep(h) {
				c2, h2 = append(c2, cands[k]), append(h2, h)
			}
		}
		if len(c2) > 0 {
			cands, hits = c2, h2
		}
	}
	return cands[:min(len(cands), maxListed)]
}

// nameHit is how words name one product.
type nameHit struct {
	id              bool // the product id is among the words
	model           int  // name words found (not counting numbers alone)
	full            bool // all name words found
	brand, category bool // brand or a category word found
}

// hit finds the product's id and name words among words; one typo is
// allowed in words of five letters or more, numbers must match exactly
// and count only next to a word ("Apex 120", not "120").
func (t productTerms) hit(words []word) nameHit {
	var h nameHit
	found, numeric := 0, 0
	for _, m := range t.model {
		for _, w := range words {
			if w.folded == m || (!isNumber(m) && (w.stem == stem(m) || oneEdit(w.folded, m))) {
				found++
				if isNumber(m) {
					numeric++
				}
				break
			}
		}
	}
	for _, w := range words {
		h.id = h.id || (t.id != "" && w.folded == t.id)
		h.brand = h.brand || slices.Contains(t.brand, w.folded)
		h.category = h.category || slices.Contains(t.category, w.stem) || slices.ContainsFunc(w.alts, func(a string) bool { return slices.Contains(t.category, a) })
	}
	if found > numeric {
		h.model, h.full = found, found == len(t.model)
	}
	return h
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// cite returns the citation of product i.
func (a *ProductAnswerer) cite(i int) conversation.Citation {
	p := a.cat.Products[i]
	return conversation.Citation{Title: p.Name, Source: a.cat.sourceOf(p.ID), URL: p.URL, Section: ProductSection(p)}
}

func (a *ProductAnswerer) label(i int) string { return ProductSection(a.cat.Products[i]) }

// whichOne is the not-confident answer for a name that fits several products.
func (a *ProductAnswerer) whichOne(cands []int) conversation.Answer {
	names := make([]string, len(cands))
	cites := make([]conversation.Citation, len(cands))
	for k, i := range cands {
		names[k] = a.label(i)
		cites[k] = a.cite(i)
	}
	return conversation.Answer{
		Text:      "Several products match that name: " + joinOr(names) + ". Which one do you mean?",
		Citations: cites,
		Score:     ProductUnsureScore,
	}
}

// joinOr joins "a, b or c".
func joinOr(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// answerCompat answers a compatibility question; false when it names no product.
func (a *ProductAnswerer) answerCompat(text string) (conversation.Answer, bool) {
	loc := compatSplitRE.FindStringIndex(text)
	if loc == nil {
		return conversation.Answer{}, false
	}
	left, right := a.match(splitWords(text[:loc[0]])), a.match(splitWords(text[loc[1]:]))
	switch {
	case len(left) == 0 && len(right) == 0:
		return conversation.Answer{}, false
	case len(left) > 1:
		return a.whichOne(left), true
	case len(right) > 1:
		return a.whichOne(right), true
	case len(left) == 0 || len(right) == 0:
		return a.compatibleList(append(left, right...)[0], productWords(text)), true
	case left[0] == right[0]:
		return conversation.Answer{}, false
	}
	x, y := a.cat.Products[left[0]], a.cat.Products[right[0]]
	var b strings.Builder
	if slices.Contains(x.CompatibleWith, y.ID) {
		fmt.Fprintf(&b, "Yes. The %s is compatible with the %s.", ProductSection(x), ProductSection(y))
	} else {
		fmt.Fprintf(&b, "No. The %s is not compatible with the %s.", ProductSection(x), ProductSection(y))
	}
	if reason := normReason(x, y); reason != "" {
		b.WriteString(" " + reason)
	}
	cites := []conversation.Citation{a.cite(left[0]), a.cite(right[0])}
	if !slices.Contains(x.CompatibleWith, y.ID) {
		var alts []string
		for _, id := range x.CompatibleWith {
			if p, ok := a.cat.Product(id); ok && p.Category == y.Category && len(alts) < 3 {
				alts = append(alts, ProductSection(p))
			}
		}
		if len(alts) > 0 {
			fmt.Fprintf(&b, " Compatible %s for the %s: %s.", strings.ToLower(y.Category), x.Name, strings.Join(alts, ", "))
		}
	}
	return conversation.Answer{Text: b.String(), Citations: cites, Score: ProductConfidentScore, Confident: true}, true
}

// normReason explains a compatibility answer from the products' norm
// attributes (names containing "norm"): what each takes and what they share.
func normReason(x, y Product) string {
	nx, ny := normValues(x), normValues(y)
	if len(nx) == 0 || len(ny) == 0 {
		return ""
	}
	var shared []string
	for _, v := range nx {
		for _, w := range ny {
			if strings.EqualFold(v, w) {
				shared = append(shared, v)
			}
		}
	}
	s := fmt.Sprintf("%s: %s; %s: %s.", x.Name, strings.Join(nx, ", "), y.Name, strings.Join(ny, ", "))
	if len(shared) > 0 {
		return s + " Both support " + strings.Join(shared, ", ") + "."
	}
	return s + " They share no norm."
}

func normValues(p Product) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		if strings.Contains(k, "norm") {
			out = append(out, p.Values(k)...)
		}
	}
	return out
}

// compatibleList answers a compatibility question that named one product only.
//
// When the question names a category ("Which bindings fit the X?",
// "Welche Bindungen passen zum X?") and the product's compatible
// products include some of it, those are the confident answer.
func (a *ProductAnswerer) compatibleList(i int, words []word) conversation.Answer {
	p := a.cat.Products[i]
	if cat, ok := a.category(words); ok && cat.name != p.Category {
		var ids []string
		for _, id := range p.CompatibleWith {
			if o, ok := a.cat.byID[id]; ok && a.cat.Products[o].Category == cat.name {
				ids = append(ids, id)
			}
		}
		if len(ids) > 0 {
			text := fmt.Sprintf("The %s is compatible with these %s: %s.", ProductSection(p), strings.ToLower(cat.name), a.cat.names(ids))
			return conversation.Answer{Text: text, Citations: []conversation.Citation{a.cite(i)}, Score: ProductConfidentScore, Confident: true}
		}
	}
	text := fmt.Sprintf("I could not tell which second product you mean. The %s is compatible with: %s.", ProductSection(p), a.cat.names(p.CompatibleWith))
	if len(p.CompatibleWith) == 0 {
		text = fmt.Sprintf("I could not tell which second product you mean. The catalogue lists no compatible products for the %s.", ProductSection(p))
	}
	return conversation.Answer{Text: text, Citations: []conversation.Citation{a.cite(i)}, Score: ProductUnsureScore}
}

// askedAttribute returns the attribute words ask about ("price" for
// price words), preferring the attribute of the matched product(s) whose
// name words the question holds most completely.
func (a *ProductAnswerer) askedAttribute(words []word, matched []int) (string, bool) {
	stems := map[string]bool{}
	for _, w := range words {
		stems[w.stem], stems[w.folded] = true, true
	}
	for _, pw := range priceWords {
		if stems[pw] {
			return "price", true
		}
	}
	keys := map[string]bool{}
	for _, i := range matched {
		for k := range a.cat.Products[i].Attributes {
			keys[k] = true
		}
	}
	best, bestN := "", 0
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if n := keyMentioned(k, stems); n > bestN {
			best, bestN = k, n
		}
	}
	return best, bestN > 0
}

// keyMentioned returns how many words of attribute key (or 1 for an
// alias) the question stems hold; 0 unless all of the key's words or an
// alias are there.
func keyMentioned(key string, stems map[string]bool) int {
	parts := splitWords(key)
	n := 0
	for _, w := range parts {
		if stems[w.stem] || stems[w.folded] {
			n++
		}
	}
	if n == len(parts) && n > 0 {
		return n
	}
	for _, alias := range attributeAliases[key] {
		if stems[alias] || stems[stem(alias)] {
			return 1
		}
	}
	return 0
}

// answerAttribute answers a question about one product: the attribute
// asked, or the product's summary.
func (a *ProductAnswerer) answerAttribute(i int, key string) conversation.Answer {
	p := a.cat.Products[i]
	var text string
	switch v := p.Attributes[key]; {
	case key == "price" && p.Price > 0:
		text = fmt.Sprintf("The %s costs %s.", ProductSection(p), formatPrice(p))
	case key == "" || v == "":
		text = a.cat.productText(p)
	case strings.EqualFold(v, "yes") || strings.EqualFold(v, "no"):
		text = fmt.Sprintf("%s. %s of the %s: %s.", attrYesNo(v), attrLabel(key), ProductSection(p), v)
	default:
		text = fmt.Sprintf("%s of the %s: %s.", attrLabel(key), ProductSection(p), v)
	}
	return conversation.Answer{Text: text, Citations: []conversation.Citation{a.cite(i)}, Score: ProductConfidentScore, Confident: true}
}

func attrYesNo(v string) string {
	if strings.EqualFold(v, "yes") {
		return "Yes"
	}
	return "No"
}

// filter is one condition of an attribute-filter question.
type filter struct {
	key      string   // attribute name; "price" for the price
	items    []string // any of these values (folded) matches
	min, max float64  // bounds for numeric comparisons; max 0 = none
	hasMin   bool
	describe string
}

// answerFilter answers "Which <category> have/under/…" questions.
// A question with no filter the catalogue knows is a listing ("Which
// laptops do you have?") only without numbers (a filter on an attribute
// the category lacks, "headphones with 64 GB RAM") and without policy
// words ("the return policy for laptops").
func (a *ProductAnswerer) answerFilter(text string, words []word, policy bool) (conversation.Answer, bool) {
	cat, ok := a.category(words)
	if !ok {
		return conversation.Answer{}, false
	}
	var members []int
	for i, p := range a.cat.Products {
		if p.Category == cat.name {
			members = append(members, i)
		}
	}
	filters, rest := a.comparisons(text, members)
	filters = append(filters, a.valueFilters(splitWords(rest), members, cat)...)
	if len(filters) == 0 && (policy || !listingRE.MatchString(text) || strings.ContainsAny(text, "0123456789")) {
		return conversation.Answer{}, false
	}
	var hits []int
	for _, i := range members {
		if passes(a.cat.Products[i], filters) {
			hits = append(hits, i)
		}
	}
	sort.SliceStable(hits, func(x, y int) bool { return a.cat.Products[hits[x]].Price < a.cat.Products[hits[y]].Price })
	var descs []string
	for _, f := range filters {
		descs = append(descs, f.describe)
	}
	what := strings.ToLower(cat.name)
	if len(descs) > 0 {
		what += " with " + strings.Join(descs, " and ")
	}
	if len(hits) == 0 {
		return conversation.Answer{Text: "The catalogue has no " + what + ".", Score: ProductConfidentScore, Confident: true}, true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", len(hits), what)
	if len(hits) > maxListed {
		fmt.Fprintf(&b, " (the %d cheapest)", maxListed)
	}
	b.WriteString(":")
	var cites []conversation.Citation
	for _, i := range hits[:min(len(hits), maxListed)] {
		p := a.cat.Products[i]
		b.WriteString("\n- " + ProductSection(p))
		if p.Price > 0 {
			b.WriteString(", " + formatPrice(p))
		}
		for _, f := range filters {
			if f.key != "price" {
				b.WriteString(", " + attrLabel(f.key) + ": " + p.Attributes[f.key])
			}
		}
		cites = append(cites, a.cite(i))
	}
	return conversation.Answer{Text: b.String(), Citations: cites, Score: ProductConfidentScore, Confident: true}, true
}

// category returns the category words name: all its words present and
// its head noun (last word) among them; several fit → the one with more
// words, then the one whose head comes later ("ski jackets" → jackets).
func (a *ProductAnswerer) category(words []word) (categoryTerms, bool) {
	var best categoryTerms
	bestN, bestPos, found := 0, -1, false
	for _, c := range a.categories {
		pos := -1
		n := 0
		for k, s := range c.stems {
			at := -1
			for j, w := range words {
				if stemLike(w, s) {
					at = j
				}
			}
			if at >= 0 {
				n++
				if k == len(c.stems)-1 {
					pos = at
				}
			}
		}
		if pos < 0 || n < len(c.stems) {
			continue
		}
		if n > bestN || (n == bestN && pos > bestPos) {
			best, bestN, bestPos, found = c, n, pos, true
		}
	}
	return best, found
}

// stemLike reports whether w is the category word s, allowing plural and
// German endings of up to two letters ("ski" ~ "skier").
func stemLike(w word, s string) bool {
	if w.stem == s || w.folded == s || slices.Contains(w.alts, s) {
		return true
	}
	return len(s) >= 3 && strings.HasPrefix(w.folded, s) && len(w.folded)-len(s) <= 2
}

// comparisons finds "under 400 EUR", "at least 32 GB" in text and returns
// their filters and text with them blanked out.
func (a *ProductAnswerer) comparisons(text string, members []int) ([]filter, string) {
	var out []filter
	for _, c := range []struct {
		re    *regexp.Regexp
		isMax bool
	}{{maxCompareRE, true}, {minCompareRE, false}} {
		text = c.re.ReplaceAllStringFunc(text, func(m string) string {
			sub := c.re.FindStringSubmatch(m)
			n, err := strconv.ParseFloat(strings.Replace(sub[3], ",", ".", 1), 64)
			if err != nil {
				return m
			}
			unit := strings.ToLower(firstNonEmpty(sub[2], sub[4]))
			f := filter{key: "price"}
			if _, money := currencyWords[unit]; !money && unit != "" {
				f.key = a.unitKey(unit, members)
				if f.key == "" {
					return m
				}
			}
			bound := sub[3]
			if unit != "" {
				bound += " " + unit
			}
			if c.isMax {
				f.max, f.describe = n, f.key+" up to "+bound
			} else {
				f.min, f.hasMin, f.describe = n, true, f.key+" from "+bound
			}
			if f.key == "price" {
				f.describe = strings.Replace(f.describe, "price", "a price", 1)
			}
			out = append(out, f)
			return strings.Repeat(" ", len(m))
		})
	}
	return out, text
}

// unitKey returns the attribute of the members whose values are numbers
// in unit ("gb" → "ram"), "" when none is or several are.
func (a *ProductAnswerer) unitKey(unit string, members []int) string {
	keys := map[string]bool{}
	for _, i := range members {
		for k, v := range a.cat.Products[i].Attributes {
			if m := leadNumberRE.FindStringSubmatch(v); m != nil && strings.EqualFold(m[2], unit) {
				keys[k] = true
			}
		}
	}
	if len(keys) != 1 {
		return ""
	}
	for k := range keys {
		return k
	}
	return ""
}

// valueFilters finds attribute values of the category's products in the
// question: a value's words in a row ("32 GB"), a short value only next to
// its attribute's name ("size M"), and a yes/no attribute by its name
// unless negated ("waterproof").
func (a *ProductAnswerer) valueFilters(words []word, members []int, cat categoryTerms) []filter {
	items := map[string]map[string]string{} // key → folded item → item as written
	for _, i := range members {
		for k := range a.cat.Products[i].Attributes {
			if items[k] == nil {
				items[k] = map[string]string{}
			}
			for _, v := range a.cat.Products[i].Values(k) {
				items[k][foldedJoinSpace(v)] = v
			}
		}
	}
	var out []filter
	for _, k := range slices.Sorted(maps.Keys(items)) {
		keyAt := keyPositions(k, words)
		f := filter{key: k}
		for _, fv := range slices.Sorted(maps.Keys(items[k])) {
			if fv == "yes" || fv == "no" {
				if len(keyAt) > 0 && fv == "yes" && !negated(words, keyAt[0]) {
					f.items = append(f.items, fv)
					f.describe = strings.ReplaceAll(k, "_", " ")
				}
				continue
			}
			vw := strings.Fields(fv)
			for _, at := range sequenceAt(words, vw) {
				short := len(vw) == 1 && (len(vw[0]) <= 2 || isNumber(vw[0]))
				if short && !slices.Contains(keyAt, at-1) && !slices.Contains(keyAt, at+len(vw)) {
					continue
				}
				if inCategory(words[at:at+len(vw)], cat) {
					continue
				}
				f.items = append(f.items, fv)
				f.describe = joinAnd(f.describe, attrLabel(k)+" "+items[k][fv])
				break
			}
		}
		if len(f.items) > 0 {
			out = append(out, f)
		}
	}
	return out
}

func joinAnd(a, b string) string {
	if a == "" {
		return b
	}
	return a + " or " + b
}

// inCategory reports whether the words are the category's own words.
func inCategory(ws []word, cat categoryTerms) bool {
	for _, w := range ws {
		found := false
		for _, s := range cat.stems {
			found = found || stemLike(w, s)
		}
		if !found {
			return false
		}
	}
	return true
}

// foldedJoinSpace folds a value the way splitWords does, words separated
// by one space: "32 GB" → "32 gb".
func foldedJoinSpace(s string) string {
	ws := splitWords(s)
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.folded
	}
	return strings.Join(parts, " ")
}

// keyPositions returns where the question names attribute key (a word of
// its name or an alias).
func keyPositions(key string, words []word) []int {
	var want []string
	for _, w := range splitWords(key) {
		want = append(want, w.stem, w.folded)
	}
	for _, al := range attributeAliases[key] {
		want = append(want, al, stem(al))
	}
	var at []int
	for i, w := range words {
		if slices.Contains(want, w.folded) || slices.Contains(want, w.stem) {
			at = append(at, i)
		}
	}
	return at
}

// sequenceAt returns the positions where the folded words seq occur in a row.
func sequenceAt(words []word, seq []string) []int {
	var out []int
	for i := 0; i+len(seq) <= len(words); i++ {
		ok := len(seq) > 0
		for j, s := range seq {
			ok = ok && words[i+j].folded == s
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

func negated(words []word, at int) bool {
	return at > 0 && negationRE.MatchString(words[at-1].folded)
}

// passes reports whether p meets every filter.
func passes(p Product, filters []filter) bool {
	for _, f := range filters {
		if !f.accepts(p) {
			return false
		}
	}
	return true
}

func (f filter) accepts(p Product) bool {
	if f.max > 0 || f.hasMin {
		v := p.Price
		if f.key != "price" {
			m := leadNumberRE.FindStringSubmatch(p.Attributes[f.key])
			if m == nil {
				return false
			}
			v, _ = strconv.ParseFloat(strings.Replace(m[1], ",", ".", 1), 64)
		} else if p.Price == 0 {
			return false
		}
		return (f.max == 0 || v <= f.max) && (!f.hasMin || v >= f.min)
	}
	for _, v := range p.Values(f.key) {
		if slices.Contains(f.items, foldedJoinSpace(v)) {
			return true
		}
	}
	return false
}

// Suggestion is a product worth offering in the consulting step, and why.
type Suggestion struct {
	Product Product
	// Reason is "related" (listed as going well with For) or "upsell"
	// (same category as For, the next higher price).
	Reason string
	// For is the id of the product the conversation is about.
	For string
}

// Related returns the products listed as related to productID, in
// catalogue order of the list; nil for an unknown id.
func (a *ProductAnswerer) Related(productID string) []Product {
	p, ok := a.cat.Product(productID)
	if !ok {
		return nil
	}
	var out []Product
	for _, id := range p.Related {
		if r, ok := a.cat.Product(id); ok {
			out = append(out, r)
		}
	}
	return out
}

// maxCrossSell caps the related products a product answer mentions.
const maxCrossSell = 2

// crossSell returns a line naming up to maxCrossSell related products of
// the first product the answer cites that are not cited themselves, or "".
func (a *ProductAnswerer) crossSell(cites []conversation.Citation) string {
	cited := map[string]bool{}
	first := ""
	for _, c := range cites {
		for _, p := range a.cat.Products {
			if ProductSection(p) == c.Section {
				cited[p.ID] = true
				if first == "" {
					first = p.ID
				}
			}
		}
	}
	var names []string
	for _, r := range a.Related(first) {
		if !cited[r.ID] && len(names) < maxCrossSell {
			names = append(names, fmt.Sprintf("%s (%.2f %s)", r.Name, r.Price, r.Currency))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "\n\nGoes well with: " + strings.Join(names, ", ") + "."
}

// soundsUnhappy reports whether the customer's latest message scored
// negative: then the bot sells nothing.
func soundsUnhappy(history []conversation.Turn) bool {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == conversation.RoleCustomer {
			return history[i].Sentiment < 0
		}
	}
	return false
}

// Suggest returns suggestions for the product the conversation is about:
// the newest product named unambiguously by the customer or cited by the
// bot. Up to three related products come first, then up to two up-sells
// (the next more expensive products of its category). Products the
// conversation already named are left out. A conversation about no product
// gets none. Errors: the context's error.
func (a *ProductAnswerer) Suggest(ctx context.Context, conv *conversation.Conversation) ([]Suggestion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if conv == nil {
		return nil, nil
	}
	seen := map[int]bool{}
	focus := -1
	for k := len(conv.History) - 1; k >= 0; k-- {
		for _, i := range a.mentioned(conv.History[k]) {
			if focus < 0 {
				focus = i
			}
			seen[i] = true
		}
	}
	if focus < 0 {
		return nil, nil
	}
	p := a.cat.Products[focus]
	var out []Suggestion
	add := func(id, reason string) {
		i, ok := a.cat.byID[id]
		if ok && !seen[i] {
			seen[i] = true
			out = append(out, Suggestion{Product: a.cat.Products[i], Reason: reason, For: p.ID})
		}
	}
	for _, r := range p.Related[:min(len(p.Related), 3)] {
		add(r, "related")
	}
	var up []Product
	for _, o := range a.cat.Products {
		if o.Category == p.Category && o.ID != p.ID && p.Price > 0 && o.Price > p.Price {
			up = append(up, o)
		}
	}
	sort.SliceStable(up, func(x, y int) bool { return up[x].Price < up[y].Price })
	for _, o := range up[:min(len(up), 2)] {
		add(o.ID, "upsell")
	}
	return out, nil
}

// mentioned returns the products one turn names: the customer's words
// when they match one product, the bot's product citations.
func (a *ProductAnswerer) mentioned(t conversation.Turn) []int {
	var out []int
	if t.Role == conversation.RoleCustomer {
		if m := a.match(splitWords(t.Text)); len(m) == 1 {
			out = append(out, m[0])
		}
	}
	for _, c := range t.Citations {
		for i, p := range a.cat.Products {
			if c.Section == ProductSection(p) {
				out = append(out, i)
			}
		}
	}
	return out
}
