package knowledge

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tier0/tier0/conversation"
)

// Limits of product catalogues.
const (
	// MaxProducts is the most products one catalogue (or one folder of
	// catalogues) may hold.
	MaxProducts = 10000
	// MaxProductAttributes is the most attributes one product may have.
	MaxProductAttributes = 64
	// maxFieldChars bounds every catalogue field but the description.
	maxFieldChars = 500
	// maxDescriptionChars bounds a product description.
	maxDescriptionChars = 4000
	// maxProductRefs bounds each of a product's compatible and related lists.
	maxProductRefs = 200
)

// CatalogSuffixes are the file name endings of product catalogues in a
// knowledge folder: CSV with a header row or a JSON array.
var CatalogSuffixes = []string{".catalog.csv", ".catalog.json"}

// Product is one entry of a product catalogue.
type Product struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`
	Brand    string `json:"brand,omitempty"`
	// Price is in Currency (an ISO 4217 code); 0 with Currency "" when the
	// catalogue gives no price.
	Price    float64 `json:"price,omitempty"`
	Currency string  `json:"currency,omitempty"`
	// Attributes maps a lower-case attribute name ("weight", "sole_norm")
	// to its value; a value listing several items separates them with
	// "; " ("S; M; L").
	Attributes map[string]string `json:"attributes,omitempty"`
	// CompatibleWith lists the ids of products this one works with. The
	// relation is symmetric: a catalogue lists it on both sides even when
	// the file declares it on one.
	CompatibleWith []string `json:"compatible_with,omitempty"`
	// Related lists ids of products worth suggesting alongside this one.
	Related     []string `json:"related,omitempty"`
	ProductLine string   `json:"product_line,omitempty"`
	Description string   `json:"description,omitempty"`
	URL         string   `json:"url,omitempty"`
}

// Values returns the items of an attribute value: "S; M; L" → S, M, L.
func (p Product) Values(attribute string) []string {
	return splitList(p.Attributes[attribute])
}

// Catalog is a validated product catalogue: unique ids, references to
// existing products only, compatibility made symmetric.
type Catalog struct {
	// Source is the catalogue's path relative to the knowledge folder
	// (several paths joined with ", " for a merged folder).
	Source   string
	Products []Product // in file order
	// sources maps a product id to the file that holds it.
	sources map[string]string
	byID    map[string]int
}

// Product returns the product with id.
func (c Catalog) Product(id string) (Product, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Product{}, false
	}
	return c.Products[i], true
}

// sourceOf returns the file that holds product id.
func (c Catalog) sourceOf(id string) string {
	if s, ok := c.sources[id]; ok {
		return s
	}
	return c.Source
}

// IsCatalogFile reports whether a file name is a product catalogue (see
// CatalogSuffixes).
func IsCatalogFile(name string) bool {
	name = strings.ToLower(name)
	for _, s := range CatalogSuffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return true
		}
	}
	return false
}

// ParseCatalog parses a product catalogue: a JSON array of product objects
// (when the data starts with "[") or CSV with a header row.
//
// CSV columns: id, name, category, brand, price, currency, compatible_with,
// related, product_line, description, url (only id and name are required,
// order is free), plus one "attr:<name>" column per attribute; list cells
// (compatible_with, related, attribute lists) separate items with ";". An
// empty attribute cell means the product has no such attribute. JSON: the
// fields of Product, attribute values may be strings, numbers, booleans or
// arrays of them.
//
// Errors: Invalid, naming the line (CSV) or the array element (JSON) and
// the problem: malformed data, unknown columns or fields, a missing id or
// name, a duplicate id, a bad price or currency, a compatible or related id
// that no product has, limits exceeded (MaxFileBytes, MaxProducts,
// MaxProductAttributes, field lengths).
func ParseCatalog(source string, data []byte) (Catalog, error) {
	text, err := checkText(source, data)
	if err != nil {
		return Catalog{}, err
	}
	rows, err := parseCatalogRows(source, text)
	if err != nil {
		return Catalog{}, err
	}
	return newCatalog(source, rows)
}

// ParseCatalogDocument parses a catalogue (see ParseCatalog) into one
// Document with a chunk per product: the shape LoadDir's parsers have.
// Errors as ParseCatalog.
func ParseCatalogDocument(source string, data []byte) (Document, error) {
	c, err := ParseCatalog(source, data)
	if err != nil {
		return Document{}, err
	}
	return c.Document(), nil
}

// catalogRow is a parsed product and where it was written, before the
// catalogue-wide checks.
type catalogRow struct {
	p     Product
	where string // "line 4" or "product 3"
	file  string
}

func parseCatalogRows(source, text string) ([]catalogRow, error) {
	if strings.HasPrefix(strings.TrimSpace(text), "[") {
		return parseCatalogJSON(source, text)
	}
	return parseCatalogCSV(source, text)
}

// catalogColumns are the fixed CSV columns.
var catalogColumns = map[string]bool{
	"id": true, "name": true, "category": true, "brand": true, "price": true, "currency": true,
	"compatible_with": true, "related": true, "product_line": true, "description": true, "url": true,
}

func parseCatalogCSV(source, text string) ([]catalogRow, error) {
	invalid := func(format string, args ...any) error {
		return conversation.Errorf(conversation.Invalid, "%s: "+format, append([]any{source}, args...)...)
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = 0
	r.ReuseRecord = false
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalid("empty catalogue: want a header row (id,name,…) or a JSON array")
	}
	if err != nil {
		return nil, invalid("%v", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		name, isAttr := strings.CutPrefix(h, "attr:")
		switch {
		case isAttr && validAttrName(name):
		case isAttr:
			return nil, invalid("line 1: column %d: attribute name %q: want letters, digits, '_' or '-'", i+1, name)
		case !catalogColumns[h]:
			return nil, invalid("line 1: unknown column %q (want %s or attr:<name>)", header[i], strings.Join(slices.Sorted(maps.Keys(catalogColumns)), ", "))
		}
		if seen[h] {
			return nil, invalid("line 1: column %q appears twice", h)
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen["id"] || !seen["name"] {
		return nil, invalid("line 1: the header needs the columns id and name")
	}
	if len(cols) > len(catalogColumns)+MaxProductAttributes {
		return nil, invalid("line 1: more than %d attribute columns", MaxProductAttributes)
	}
	var rows []catalogRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("%v", err)
		}
		line, _ := r.FieldPos(0)
		where := "line " + strconv.Itoa(line)
		if len(rows) == MaxProducts {
			return nil, invalid("%s: more than %d products", where, MaxProducts)
		}
		if allBlank(rec) {
			continue
		}
		var p Product
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if err := setCSVField(&p, cols[i], v); err != nil {
				return nil, invalid("%s: column %s: %v", where, cols[i], err)
			}
		}
		rows = append(rows, catalogRow{p: p, where: where, file: source})
	}
	return rows, nil
}

func setCSVField(p *Product, col, v string) error {
	if name, ok := strings.CutPrefix(col, "attr:"); ok {
		if v == "" {
			return nil
		}
		if p.Attributes == nil {
			p.Attributes = map[string]string{}
		}
		p.Attributes[name] = strings.Join(splitList(v), "; ")
		return nil
	}
	switch col {
	case "price":
		if v == "" {
			return nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		p.Price = f
	case "compatible_with":
		p.CompatibleWith = splitList(v)
	case "related":
		p.Related = splitList(v)
	default:
		*stringField(p, col) = v
	}
	return nil
}

// stringField returns the text field of p a fixed column names.
func stringField(p *Product, col string) *string {
	switch col {
	case "id":
		return &p.ID
	case "name":
		return &p.Name
	case "category":
		return &p.Category
	case "brand":
		return &p.Brand
	case "currency":
		return &p.Currency
	case "product_line":
		return &p.ProductLine
	case "description":
		return &p.Description
	default: // "url"
		return &p.URL
	}
}

func parseCatalogJSON(source, text string) ([]catalogRow, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, conversation.Errorf(conversation.Invalid, "%s: %s", source, jsonError(text, err))
	}
	if len(raw) > MaxProducts {
		return nil, conversation.Errorf(conversation.Invalid, "%s: more than %d products", source, MaxProducts)
	}
	rows := make([]catalogRow, 0, len(raw))
	for i, m := range raw {
		where := "product " + strconv.Itoa(i+1)
		var jp struct {
			Product
			Attributes map[string]any `json:"attributes"`
		}
		dec := json.NewDecoder(bytes.NewReader(m))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jp); err != nil {
			return nil, conversation.Errorf(conversation.Invalid, "%s: %s: %v", source, where, err)
		}
		p := jp.Product
		p.Attributes = nil
		for k, v := range jp.Attributes {
			s, err := attrString(v)
			if err != nil {
				return nil, conversation.Errorf(conversation.Invalid, "%s: %s: attribute %q: %v", source, where, k, err)
			}
			if p.Attributes == nil {
				p.Attributes = map[string]string{}
			}
			if s != "" {
				p.Attributes[strings.ToLower(strings.TrimSpace(k))] = s
			}
		}
		rows = append(rows, catalogRow{p: p, where: where, file: source})
	}
	return rows, nil
}

// attrString renders a JSON attribute value: a string, number, boolean or
// an array of them (joined with "; ").
func attrString(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.Join(splitList(t), "; "), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case bool:
		if t {
			return "yes", nil
		}
		return "no", nil
	case []any:
		var items []string
		for _, e := range t {
			if _, nested := e.([]any); nested {
				return "", errors.New("nested arrays are not allowed")
			}
			s, err := attrString(e)
			if err != nil {
				return "", err
			}
			if s != "" {
				items = append(items, s)
			}
		}
		return strings.Join(items, "; "), nil
	default:
		return "", fmt.Errorf("want a string, number, boolean or array, got an object")
	}
}

// jsonError adds the line and column to a JSON syntax error.
func jsonError(text string, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	off = min(off, int64(len(text)))
	line := 1 + strings.Count(text[:off], "\n")
	col := int(off) - strings.LastIndexByte(text[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

var (
	productIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	attrNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
)

func validAttrName(s string) bool { return attrNameRE.MatchString(s) }

// newCatalog checks rows one by one and together and builds the catalogue.
func newCatalog(source string, rows []catalogRow) (Catalog, error) {
	c := Catalog{Source: source, byID: map[string]int{}, sources: map[string]string{}}
	where := map[string]string{}
	for _, r := range rows {
		if err := checkProduct(&r.p); err != nil {
			return Catalog{}, conversation.Errorf(conversation.Invalid, "%s: %s: %v", r.file, r.where, err)
		}
		if prev, dup := where[r.p.ID]; dup {
			return Catalog{}, conversation.Errorf(conversation.Invalid, "%s: %s: duplicate id %q (first at %s)", r.file, r.where, r.p.ID, prev)
		}
		where[r.p.ID] = r.file + " " + r.where
		c.byID[r.p.ID] = len(c.Products)
		c.sources[r.p.ID] = r.file
		c.Products = append(c.Products, r.p)
	}
	for i, r := range rows {
		p := c.Products[i]
		for _, list := range []struct {
			name string
			ids  []string
		}{{"compatible_with", p.CompatibleWith}, {"related", p.Related}} {
			for _, id := range list.ids {
				if _, ok := c.byID[id]; !ok {
					return Catalog{}, conversation.Errorf(conversation.Invalid, "%s: %s: %s: unknown product id %q", r.file, r.where, list.name, id)
				}
				if id == p.ID {
					return Catalog{}, conversation.Errorf(conversation.Invalid, "%s: %s: %s: a product cannot list itself", r.file, r.where, list.name)
				}
			}
		}
	}
	// Make compatibility symmetric.
	for i := range c.Products {
		for _, id := range c.Products[i].CompatibleWith {
			o := &c.Products[c.byID[id]]
			if !slices.Contains(o.CompatibleWith, c.Products[i].ID) {
				o.CompatibleWith = append(o.CompatibleWith, c.Products[i].ID)
			}
		}
	}
	return c, nil
}

// checkProduct validates and tidies one product.
func checkProduct(p *Product) error {
	switch {
	case p.ID == "":
		return errors.New("missing id")
	case !productIDRE.MatchString(p.ID):
		return fmt.Errorf("id %q: want 1 to 64 letters, digits, '.', '_' or '-'", p.ID)
	case strings.TrimSpace(p.Name) == "":
		return fmt.Errorf("product %s: missing name", p.ID)
	case math.IsNaN(p.Price) || math.IsInf(p.Price, 0) || p.Price < 0:
		return fmt.Errorf("product %s: price %v: want a number of 0 or more", p.ID, p.Price)
	case p.Price > 0 && !currencyRE.MatchString(p.Currency):
		return fmt.Errorf("product %s: currency %q: want a three-letter code such as EUR", p.ID, p.Currency)
	case p.Currency != "" && !currencyRE.MatchString(p.Currency):
		return fmt.Errorf("product %s: currency %q: want a three-letter code such as EUR", p.ID, p.Currency)
	case p.URL != "" && cleanURL(p.URL) == "":
		return fmt.Errorf("product %s: url %q: want an absolute http(s) URL", p.ID, p.URL)
	case utf8.RuneCountInString(p.Description) > maxDescriptionChars:
		return fmt.Errorf("product %s: description longer than %d characters", p.ID, maxDescriptionChars)
	case len(p.Attributes) > MaxProductAttributes:
		return fmt.Errorf("product %s: more than %d attributes", p.ID, MaxProductAttributes)
	case len(p.CompatibleWith) > maxProductRefs || len(p.Related) > maxProductRefs:
		return fmt.Errorf("product %s: more than %d compatible or related products", p.ID, maxProductRefs)
	}
	p.Name = strings.Join(strings.Fields(p.Name), " ")
	for _, f := range []string{p.Name, p.Category, p.Brand, p.ProductLine, p.URL} {
		if utf8.RuneCountInString(f) > maxFieldChars {
			return fmt.Errorf("product %s: a field is longer than %d characters", p.ID, maxFieldChars)
		}
	}
	for k, v := range p.Attributes {
		if !validAttrName(k) {
			return fmt.Errorf("product %s: attribute name %q: want lower-case letters, digits, '_' or '-'", p.ID, k)
		}
		if utf8.RuneCountInString(v) > maxFieldChars {
			return fmt.Errorf("product %s: attribute %s is longer than %d characters", p.ID, k, maxFieldChars)
		}
	}
	p.CompatibleWith = dedupe(p.CompatibleWith)
	p.Related = dedupe(p.Related)
	return nil
}

// LoadCatalogs parses every catalogue file under folder (see
// IsCatalogFile; hidden files and folders are skipped) into one Catalog:
// ids are unique and references resolve across all files. A folder without
// catalogues gives an empty Catalog. Errors: NotFound when folder does not
// exist, those of ParseCatalog (naming the file), Invalid for more than
// MaxProducts products, the context's error.
func LoadCatalogs(ctx context.Context, folder string) (Catalog, error) {
	var rows []catalogRow
	var sources []string
	err := filepath.WalkDir(folder, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != folder && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !IsCatalogFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(folder, p)
		if err != nil {
			return err
		}
		source := filepath.ToSlash(rel)
		data, err := readBounded(p, source)
		if err != nil {
			return err
		}
		text, err := checkText(source, data)
		if err != nil {
			return err
		}
		more, err := parseCatalogRows(source, text)
		if err != nil {
			return err
		}
		if len(rows)+len(more) > MaxProducts {
			return conversation.Errorf(conversation.Invalid, "catalogues under %s: more than %d products", folder, MaxProducts)
		}
		rows = append(rows, more...)
		sources = append(sources, source)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return Catalog{}, conversation.Errorf(conversation.NotFound, "knowledge folder %s does not exist", folder)
	}
	if err != nil {
		return Catalog{}, fmt.Errorf("load catalogues %s: %w", folder, err)
	}
	return newCatalog(strings.Join(sources, ", "), rows)
}

// readBounded reads a file of at most MaxFileBytes.
func readBounded(p, source string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	if len(data) > MaxFileBytes {
		return nil, tooLarge(source, int64(len(data)))
	}
	return data, nil
}

// splitList splits a ";"-separated list, trimming items and dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ";") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func allBlank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func dedupe(list []string) []string {
	var out []string
	for _, v := range list {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ProductSection is the section heading of a product's chunk and
// citations: its name and id, "Alpina Summit 120 (AB-120)".
func ProductSection(p Product) string {
	return p.Name + " (" + p.ID + ")"
}

// Document returns the catalogue as one Document with one chunk per
// product (see Documents for the chunk's text), in catalogue order.
func (c Catalog) Document() Document {
	doc := Document{Source: c.Source, Title: titleFromName(strings.TrimSuffix(c.Source, ".catalog"+filepath.Ext(c.Source)))}
	for _, d := range c.Documents() {
		ch := d.Chunks[0]
		ch.Index = len(doc.Chunks)
		ch.Hash = chunkHash(ch)
		doc.Chunks = append(doc.Chunks, ch)
	}
	return doc
}

// Documents returns one Document per product, each with a single chunk:
// title the product name, section ProductSection, URL the product's, tags
// category, brand and product line, and the product rendered as text (a
// summary line, price, one "Name: value" line per attribute, compatible
// and related products by name and id, the description).
func (c Catalog) Documents() []Document {
	docs := make([]Document, 0, len(c.Products))
	for _, p := range c.Products {
		source := c.sourceOf(p.ID)
		doc := Document{Source: source, Title: p.Name, URL: p.URL, Tags: cleanTags([]string{p.Category, p.Brand, p.ProductLine})}
		section := ProductSection(p)
		ch := Chunk{
			ID:       chunkID(source, section, 0),
			Source:   source,
			Title:    p.Name,
			Section:  section,
			URL:      p.URL,
			Tags:     doc.Tags,
			Content:  c.productText(p),
			Audience: AudienceExternal,
			Product:  p.ProductLine,
		}
		ch.Hash = chunkHash(ch)
		doc.Chunks = []Chunk{ch}
		docs = append(docs, doc)
	}
	return docs
}

// productText renders p for retrieval and extractive answers.
func (c Catalog) productText(p Product) string {
	var b strings.Builder
	b.WriteString(p.Name)
	if p.Category != "" {
		b.WriteString(" — " + p.Category)
	}
	if p.Brand != "" {
		b.WriteString(" by " + p.Brand)
	}
	b.WriteString(" (product id " + p.ID + ").")
	if p.Price > 0 {
		b.WriteString("\nPrice: " + formatPrice(p))
	}
	if p.ProductLine != "" {
		b.WriteString("\nProduct line: " + p.ProductLine)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		b.WriteString("\n" + attrLabel(k) + ": " + p.Attributes[k])
	}
	if len(p.CompatibleWith) > 0 {
		b.WriteString("\nCompatible with: " + c.names(p.CompatibleWith))
	}
	if len(p.Related) > 0 {
		b.WriteString("\nGoes well with: " + c.names(p.Related))
	}
	if p.Description != "" {
		b.WriteString("\n\n" + p.Description)
	}
	return b.String()
}

// names lists products by name and id: "Alpina Summit 120 (AB-120), …".
func (c Catalog) names(ids []string) string {
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		if p, ok := c.Product(id); ok {
			parts = append(parts, ProductSection(p))
		}
	}
	return strings.Join(parts, ", ")
}

// attrLabel turns an attribute name into a label: "sole_norm" → "Sole norm".
func attrLabel(name string) string {
	s := strings.NewReplacer("_", " ", "-", " ").Replace(name)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formatPrice renders a price with its currency: "449.00 EUR".
func formatPrice(p Product) string {
	return strconv.FormatFloat(p.Price, 'f', 2, 64) + " " + p.Currency
}
