package textproc

import "strings"

// GermanStem returns the stem of a German word by the Snowball German
// stemming algorithm (the "german2" variant, which also reads "ae", "oe"
// and "ue" as umlauts), written for this package from the published
// description. w should be folded (see Fold): umlauts are expected as
// plain vowels, which is also what the algorithm's last step produces, so
// "Drücker", "Druecker" and "Drucker" share one stem. Words of fewer than
// three letters and words with characters outside a–z are returned as
// they are, apart from the "ae"/"oe"/"ue" reading.
func GermanStem(w string) string {
	if len(w) < 3 {
		return w
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return w
		}
	}
	b := prelude(w)
	r1 := region(b, 0)
	if r1 < 3 {
		r1 = 3
	}
	r2 := region(b, r1)
	s := string(b)

	// Step 1: the longest of these suffixes, deleted when in R1; after
	// "e", "en" or "es" a "niss" loses its last s.
	if n := suffixLen(s, "ern", "em", "er", "en", "es", "e"); n > 0 {
		if len(s)-n >= r1 {
			groupB := n < 3 && s[len(s)-1] != 'm' && s[len(s)-1] != 'r'
			s = s[:len(s)-n]
			if groupB && strings.HasSuffix(s, "niss") {
				s = s[:len(s)-1]
			}
		}
	} else if strings.HasSuffix(s, "s") && len(s)-1 >= r1 && len(s) >= 2 && isSEnding(s[len(s)-2]) {
		s = s[:len(s)-1]
	}
	// Step 2.
	switch {
	case hasAny(s, r1, "est", "en", "er"):
		s = s[:len(s)-suffixLen(s, "est", "en", "er")]
	case strings.HasSuffix(s, "st") && len(s)-2 >= r1 && len(s) >= 6 && isSEnding(s[len(s)-3]) && s[len(s)-3] != 'r':
		s = s[:len(s)-2]
	}
	// Step 3: derivational suffixes.
	in := func(suf string, r int) bool { return strings.HasSuffix(s, suf) && len(s)-len(suf) >= r }
	switch {
	case in("end", r2) || in("ung", r2):
		s = s[:len(s)-3]
		if in("ig", r2) && !strings.HasSuffix(s[:len(s)-2], "e") {
			s = s[:len(s)-2]
		}
	case (in("isch", r2) || in("ig", r2) || in("ik", r2)) && !strings.HasSuffix(s[:len(s)-suffixLen(s, "isch", "ig", "ik")], "e"):
		s = s[:len(s)-suffixLen(s, "isch", "ig", "ik")]
	case in("lich", r2) || in("heit", r2):
		s = s[:len(s)-4]
		if in("er", r1) || in("en", r1) {
			s = s[:len(s)-2]
		}
	case in("keit", r2):
		s = s[:len(s)-4]
		switch {
		case in("lich", r2):
			s = s[:len(s)-4]
		case in("ig", r2):
			s = s[:len(s)-2]
		}
	}
	return strings.ToLower(s)
}

// region returns the start of the Snowball region after from: just after
// the first non-vowel that follows a vowel, or len(b).
func region(b []byte, from int) int {
	for i := from + 1; i < len(b); i++ {
		if !isVowel(b[i]) && isVowel(b[i-1]) {
			return i + 1
		}
	}
	return len(b)
}

func isVowel(c byte) bool {
	switch c {
	case 'a', 'e', 'i', 'o', 'u', 'y':
		return true
	}
	return false
}

func isSEnding(c byte) bool { return strings.IndexByte("bdfghklmnrt", c) >= 0 }

// hasAny reports whether s ends with one of sufs (longest first) and that
// suffix starts at or after r.
func hasAny(s string, r int, sufs ...string) bool {
	n := suffixLen(s, sufs...)
	return n > 0 && len(s)-n >= r
}

// suffixLen returns the length of the first of sufs that s ends with, or 0.
func suffixLen(s string, sufs ...string) int {
	for _, suf := range sufs {
		if strings.HasSuffix(s, suf) {
			return len(suf)
		}
	}
	return 0
}

// prelude marks u and y between vowels as consonants (upper case) and
// reads "ae", "oe" and "ue" (not after q) as umlauts, which, as input is
// folded, become the plain vowel.
func prelude(w string) []byte {
	b := []byte(w)
	for i := 1; i+1 < len(b); i++ {
		if (b[i] == 'u' || b[i] == 'y') && isVowel(b[i-1]) && isVowel(b[i+1]) {
			b[i] -= 'a' - 'A'
		}
	}
	out := b[:0:0]
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if i+1 < len(b) && b[i+1] == 'e' && (b[i] == 'a' || b[i] == 'o' || (b[i] == 'u' && (i == 0 || b[i-1] != 'q'))) {
			i++
		}
	}
	return out
}

// respell returns the folded word w with "ae", "oe" and "ue" read as
// umlauts (see GermanStem), so "stoerung" and "storung" compare equal.
func respell(w string) string {
	if !strings.Contains(w, "e") {
		return w
	}
	return strings.ToLower(string(prelude(w)))
}
