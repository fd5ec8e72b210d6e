package telegram

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// htmlTags are the tags Telegram's HTML parse mode knows.
var htmlTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true,
	"a": true, "code": true, "pre": true, "blockquote": true, "tg-emoji": true,
}

// parseHTML checks s the way Telegram's HTML parse mode does and returns
// the plain text a user sees plus the href of every link. Errors name the
// problem like Telegram's "can't parse entities" answers.
func parseHTML(s string) (plain string, links []string, err *apiError) {
	var b strings.Builder
	var open []string
	fail := func(format string, args ...any) (string, []string, *apiError) {
		return "", nil, badRequest("can't parse entities: "+format, args...)
	}
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return fail("unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if closing, ok := strings.CutPrefix(tag, "/"); ok {
				name := strings.ToLower(strings.TrimSpace(closing))
				if len(open) == 0 || open[len(open)-1] != name {
					return fail("unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, last(open), name)
				}
				open = open[:len(open)-1]
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				if !htmlTags[name] {
					return fail("unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				if name == "a" {
					href, ok := attr(attrs, "href")
					if !ok {
						return fail("a tag without href at byte offset %d", i)
					}
					links = append(links, href)
				}
				open = append(open, name)
			}
			i += end + 1
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 || end > 10 {
				return fail("character entity at byte offset %d is not terminated; escape & as &amp;", i)
			}
			r, ok := entity(s[i+1 : i+end])
			if !ok {
				return fail("unsupported HTML entity \"%s\" at byte offset %d", s[i:i+end+1], i)
			}
			b.WriteRune(r)
			i += end + 1
		case '>':
			return fail("character '>' at byte offset %d must be escaped as &gt;", i)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return fail("text must be encoded in UTF-8")
			}
			b.WriteString(s[i : i+size])
			i += size
		}
	}
	if len(open) > 0 {
		return fail("can't find end tag corresponding to start tag \"%s\"", open[len(open)-1])
	}
	return b.String(), links, nil
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// attr finds name="value" in a tag's attribute text.
func attr(attrs, name string) (string, bool) {
	i := strings.Index(attrs, name+"=\"")
	if i < 0 {
		return "", false
	}
	rest := attrs[i+len(name)+2:]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return "", false
	}
	v, err := unescapeAttr(rest[:end])
	return v, err == nil
}

func unescapeAttr(v string) (string, *apiError) {
	if !strings.Contains(v, "&") {
		return v, nil
	}
	p, _, err := parseHTML(v)
	return p, err
}

// entity resolves the named and numeric entities Telegram supports.
func entity(name string) (rune, bool) {
	switch name {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = hex, 16
		}
		n, err := strconv.ParseUint(num, base, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			return 0, false
		}
		return rune(n), true
	}
	return 0, false
}

// utf16Len is a text's length as Telegram counts it.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
