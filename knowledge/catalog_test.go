package knowledge_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tier0/tier0/conversation"
	"github.com/tier0/tier0/knowledge"
)

// shopCatalog is the sample shop's catalogue.
const shopCatalog = "../configs/shop/knowledge/products.catalog.csv"

func loadShop(tb testing.TB) knowledge.Catalog {
	tb.Helper()
	c, err := knowledge.ParseCatalog("products.catalog.csv", readFile(tb, shopCatalog))
	if err != nil {
		tb.Fatalf("parse the sample shop catalogue: %v", err)
	}
	return c
}

func TestParseCatalogErrors(t *testing.T) {
	const head = "id,name,price,currency,compatible_with,related,attr:size\n"
	tests := []struct {
		name, data string
		wantIn     string // the error must name this
	}{
		{"empty", "", "empty catalogue"},
		{"missing name column", "id,price\nA,1\n", "needs the columns id and name"},
		{"unknown column", "id,name,colour\nA,a,red\n", `unknown column "colour"`},
		{"duplicate column", "id,name,name\nA,a,b\n", `column "name" appears twice`},
		{"bad attribute column", "id,name,attr:Größe\nA,a,M\n", "attribute name"},
		{"missing id", head + ",Boot,,,,,\n", "line 2: missing id"},
		{"bad id", head + "A B,Boot,,,,,\n", `line 2: id "A B"`},
		{"missing name", head + "A,,,,,,\n", "line 2: product A: missing name"},
		{"price not a number", head + "A,Boot,cheap,EUR,,,\n", `line 2: column price: "cheap" is not a number`},
		{"negative price", head + "A,Boot,-1,EUR,,,\n", "price -1"},
		{"price without currency", head + "A,Boot,10,,,,\n", `currency ""`},
		{"bad currency", head + "A,Boot,10,euro,,,\n", `currency "euro"`},
		{"duplicate id", head + "A,Boot,,,,,\nB,Binding,,,,,\nA,Again,,,,,\n", `line 4: duplicate id "A" (first at x.catalog.csv line 2)`},
		{"unknown compatible id", head + "A,Boot,,,Z,,\n", `line 2: compatible_with: unknown product id "Z"`},
		{"unknown related id", head + "A,Boot,,,,,\nB,Binding,,,,A;Y,\n", `line 3: related: unknown product id "Y"`},
		{"self reference", head + "A,Boot,,,A,,\n", "cannot list itself"},
		{"wrong field count", head + "A,Boot\n", "wrong number of fields"},
		{"bad quote", head + "A,\"Boot,,,,,\n", "extraneous or missing"},
		{"bad url", "id,name,url\nA,Boot,javascript:alert(1)\n", "url"},
		{"json syntax", "[{\"id\": \"A\",\n \"name\": }]", "line 2"},
		{"json unknown field", `[{"id":"A","name":"Boot","colour":"red"}]`, `product 1: json: unknown field "colour"`},
		{"json object attribute", `[{"id":"A","name":"Boot","attributes":{"size":{"eu":42}}}]`, `product 1: attribute "size"`},
		{"json duplicate id", `[{"id":"A","name":"Boot"},{"id":"A","name":"Other"}]`, `product 2: duplicate id "A"`},
		{"json unknown compatible id", `[{"id":"A","name":"Boot","compatible_with":["B"]}]`, `product 1: compatible_with: unknown product id "B"`},
		{"not UTF-8", "id,name\nA,caf\xe9\n", "not valid UTF-8"},
		{"too large", "id,name\n" + strings.Repeat("x", knowledge.MaxFileBytes), "more than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := knowledge.ParseCatalog("x.catalog.csv", []byte(tt.data))
			if conversation.ErrorCode(err) != conversation.Invalid {
				t.Fatalf("got error %v, want an Invalid error", err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || !strings.Contains(err.Error(), "x.catalog.csv") {
				t.Errorf("got error %q, want it to name the file and contain %q", err, tt.wantIn)
			}
		})
	}
}

func TestParseCatalogFormats(t *testing.T) {
	csv := "id,name,category,brand,price,currency,compatible_with,related,product_line,description,url,attr:sizes,attr:waterproof\n" +
		"J1,Rain Jacket,Jackets,Acme,99.5,EUR,,J2,Outerwear,Keeps you dry.,https://x.example/j1,S;M; L,yes\n" +
		"J2,Rain Trousers,Trousers,Acme,,,J1,,,,,,\n"
	json := `[{"id":"J1","name":"Rain Jacket","category":"Jackets","brand":"Acme","price":99.5,"currency":"EUR",
		"related":["J2"],"product_line":"Outerwear","description":"Keeps you dry.","url":"https://x.example/j1",
		"attributes":{"sizes":["S","M","L"],"waterproof":true}},
		{"id":"J2","name":"Rain Trousers","category":"Trousers","brand":"Acme","compatible_with":["J1"]}]`
	want := []knowledge.Product{
		{ID: "J1", Name: "Rain Jacket", Category: "Jackets", Brand: "Acme", Price: 99.5, Currency: "EUR",
			Attributes: map[string]string{"sizes": "S; M; L", "waterproof": "yes"}, CompatibleWith: []string{"J2"},
			Related: []string{"J2"}, ProductLine: "Outerwear", Description: "Keeps you dry.", URL: "https://x.example/j1"},
		{ID: "J2", Name: "Rain Trousers", Category: "Trousers", Brand: "Acme", CompatibleWith: []string{"J1"}},
	}
	for name, data := range map[string]string{"csv": csv, "json": json} {
		t.Run(name, func(t *testing.T) {
			c, err := knowledge.ParseCatalog("x.catalog."+name, []byte(data))
			if err != nil {
				t.Fatalf("ParseCatalog: %v", err)
			}
			if !reflect.DeepEqual(c.Products, want) {
				t.Errorf("got %+v\nwant %+v", c.Products, want)
			}
			doc, err := knowledge.ParseCatalogDocument("x.catalog."+name, []byte(data))
			if err != nil || len(doc.Chunks) != 2 {
				t.Fatalf("ParseCatalogDocument: got %d chunks, err %v; want 2", len(doc.Chunks), err)
			}
			checkChunkIdentity(t, doc.Chunks)
			c0 := doc.Chunks[0]
			for _, s := range []string{"Rain Jacket", "Price: 99.50 EUR", "Sizes: S; M; L", "Waterproof: yes", "Compatible with: Rain Trousers (J2)", "Keeps you dry."} {
				if !strings.Contains(c0.Content, s) {
					t.Errorf("got chunk %q, want it to contain %q", c0.Content, s)
				}
			}
			if c0.Section != "Rain Jacket (J1)" || c0.URL != "https://x.example/j1" || c0.Product != "Outerwear" {
				t.Errorf("got section %q url %q product %q", c0.Section, c0.URL, c0.Product)
			}
		})
	}
}

func TestShopCatalog(t *testing.T) {
	c := loadShop(t)
	if n := len(c.Products); n < 45 || n > 60 {
		t.Errorf("got %d products, want about 50", n)
	}
	// Declared compatibility agrees with the norms: a boot fits a binding
	// exactly when the binding takes the boot's sole norm.
	for _, boot := range c.Products {
		if boot.Category != "Ski boots" {
			continue
		}
		for _, b := range c.Products {
			if b.Category != "Bindings" {
				continue
			}
			want := false
			for _, n := range b.Values("boot_norms") {
				want = want || n == boot.Attributes["sole_norm"]
			}
			got := has(boot.CompatibleWith, b.ID)
			if got != want || has(b.CompatibleWith, boot.ID) != want {
				t.Errorf("%s and %s: got compatible %v (and back %v), want %v", boot.ID, b.ID, got, has(b.CompatibleWith, boot.ID), want)
			}
		}
	}
	docs := c.Documents()
	if len(docs) != len(c.Products) {
		t.Fatalf("got %d documents, want one per product (%d)", len(docs), len(c.Products))
	}
	var chunks []knowledge.Chunk
	for _, d := range docs {
		chunks = append(chunks, d.Chunks...)
	}
	checkChunkIdentity(t, chunks)

	all, err := knowledge.LoadCatalogs(context.Background(), filepath.Dir(shopCatalog))
	if err != nil || len(all.Products) != len(c.Products) {
		t.Errorf("LoadCatalogs: got %d products, err %v; want %d", len(all.Products), err, len(c.Products))
	}
	if !knowledge.IsCatalogFile("shop/Products.Catalog.JSON") || knowledge.IsCatalogFile("products.csv") {
		t.Errorf("IsCatalogFile: got the wrong answer for products.catalog.json or products.csv")
	}
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
