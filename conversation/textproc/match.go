package textproc

import (
	"strings"
	"sync"
	"unicode"
)

// minCompoundPart is the shortest keyword (in bytes, folded) matched as a
// part of a longer word, and the shortest rest of that word: "ausfall"
// in "stromausfall", but not "ion" in "version".
const minCompoundPart = 4

// Words returns the folded words of s (see Fold): runs of letters, digits
// and combining marks. With joinHyphens, a hyphen between two letters or
// digits joins them ("Wi-Fi" → "wifi"); otherwise it splits them ("wi", "fi").
func Words(s string, joinHyphens bool) []string {
	var (
		words []string
		cur   strings.Builder
		prev  rune
	)
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			FoldRune(&cur, unicode.ToLower(r))
		case joinHyphens && r == '-' && cur.Len() > 0 && isWordRune(prev) && i+1 < len(rs) && isWordRune(rs[i+1]):
		default:
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		}
		prev = r
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Matcher finds keywords (words or phrases, in any case, with or without
// umlauts) in texts. Words match when they are equal after folding or
// share their German stem ("Drucker", "Druckers"); a one-word keyword of
// at least four letters also matches as the start or the end of a longer
// word, the way German builds compounds: "ausfall" matches
// "Stromausfall", "drucker" matches "Druckerwarteschlange", "mail" matches
// "E-Mail". Hyphenated words are tried both joined and split, so "vpn"
// matches "VPN-Client" and "wi-fi" matches "WiFi".
//
// A Matcher is built once per text and is not safe for concurrent use.
type Matcher struct {
	forms [2][]string // the text's words, hyphens split and joined
	stems [2][]string // their German stems
}

// NewMatcher analyses text for matching.
func NewMatcher(text string) *Matcher {
	m := &Matcher{}
	for i, join := range []bool{false, true} {
		m.forms[i] = Words(text, join)
		m.stems[i] = stems(m.forms[i])
	}
	return m
}

// Contains reports whether keyword occurs in the matcher's text (see
// Matcher). A keyword without words never matches.
func (m *Matcher) Contains(keyword string) bool {
	k := keywords.get(keyword)
	for join := range k.forms {
		kw, ks := k.forms[join], k.stems[join]
		if len(kw) == 0 {
			return false
		}
		for i := range m.forms {
			if m.find(i, kw, ks) {
				return true
			}
		}
	}
	return false
}

// analysedKeyword is a keyword's words and stems, hyphens split and joined.
type analysedKeyword struct {
	forms, stems [2][]string
}

// keywordCache memoises the analysis of keywords: they come from the
// configuration (flows, priority rules), so there are few, matched again
// with every message. When full it starts over.
type keywordCache struct {
	mu sync.RWMutex
	m  map[string]*analysedKeyword
}

const maxCachedKeywords = 4096

var keywords = &keywordCache{m: map[string]*analysedKeyword{}}

func (c *keywordCache) get(keyword string) *analysedKeyword {
	c.mu.RLock()
	k, ok := c.m[keyword]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = &analysedKeyword{}
	for i, join := range []bool{false, true} {
		k.forms[i] = Words(keyword, join)
		k.stems[i] = stems(k.forms[i])
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedKeywords {
		clear(c.m)
	}
	c.m[keyword] = k
	c.mu.Unlock()
	return k
}

// ContainsKeyword reports whether keyword occurs in text (see Matcher).
func ContainsKeyword(text, keyword string) bool { return NewMatcher(text).Contains(keyword) }

func (m *Matcher) find(i int, kw, ks []string) bool {
	words, wstems := m.forms[i], m.stems[i]
	for start := 0; start+len(kw) <= len(words); start++ {
		ok := true
		for j := range kw {
			w, s := words[start+j], wstems[start+j]
			if w == kw[j] || s == ks[j] || (len(kw) == 1 && compoundPart(w, s, kw[j], ks[j])) {
				continue
			}
			ok = false
			break
		}
		if ok {
			return true
		}
	}
	return false
}

// compoundPart reports whether keyword k (stem ks) is the start or the end
// of the longer word w (stem s).
func compoundPart(w, s, k, ks string) bool {
	if len(k) < minCompoundPart || len(w) < len(k)+minCompoundPart {
		return false
	}
	if strings.HasPrefix(w, k) || strings.HasSuffix(w, k) || (len(ks) >= minCompoundPart && strings.HasSuffix(s, ks)) {
		return true
	}
	w, k = respell(w), respell(k)
	return strings.HasPrefix(w, k) || strings.HasSuffix(w, k)
}

func stems(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = GermanStem(w)
	}
	return out
}
