package textproc

import (
	"strings"
	"unicode"
)

// FoldRune writes the lower-case rune r without its diacritics for the
// common Latin letters (ä → a, ß → ss, é → e, ø → o, æ → ae, …) to b;
// combining marks are dropped and every other rune is written as is, so
// non-Latin scripts pass through unchanged. r must already be lower case.
func FoldRune(b *strings.Builder, r rune) {
	if unicode.Is(unicode.Mn, r) {
		return
	}
	if r < 0xC0 || r > 0x17F {
		b.WriteRune(r)
		return
	}
	switch r {
	case 'ß':
		b.WriteString("ss")
		return
	case 'æ':
		b.WriteString("ae")
		return
	case 'œ':
		b.WriteString("oe")
		return
	}
	if base, ok := foldMap[r]; ok {
		b.WriteByte(base)
		return
	}
	b.WriteRune(r)
}

// Fold returns s lower-cased and accent-folded (see FoldRune).
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		FoldRune(&b, unicode.ToLower(r))
	}
	return b.String()
}

// foldMap maps a lower-case accented Latin letter to its base letter.
var foldMap = func() map[rune]byte {
	m := map[rune]byte{}
	for base, variants := range foldTable {
		for _, r := range variants {
			m[r] = base
		}
	}
	return m
}()

// foldTable lists, per base letter, the lower-case accented forms folded to it.
var foldTable = map[byte]string{
	'a': "àáâãäåāăą",
	'c': "çćĉċč",
	'd': "ďđ",
	'e': "èéêëēĕėęě",
	'g': "ĝğġģ",
	'h': "ĥħ",
	'i': "ìíîïĩīĭįı",
	'j': "ĵ",
	'k': "ķ",
	'l': "ĺļľŀł",
	'n': "ñńņňŉ",
	'o': "òóôõöøōŏő",
	'r': "ŕŗř",
	's': "śŝşš",
	't': "ţťŧ",
	'u': "ùúûüũūŭůűų",
	'w': "ŵ",
	'y': "ýÿŷ",
	'z': "źżž",
}
