// Command lexgen builds the German→English lexicon that the knowledge
// package embeds (knowledge/lexicon/de-en.tsv.gz) from two public sources:
//
//   - German lemmas linked to WordNet synsets by the Open Multilingual
//     Wordnet (omwn/omw-data): wns/wikt/wn-wikt-deu.tab (extracted from
//     Wiktionary, CC BY-SA 3.0) and wns/cldr/wn-cldr-deu.tab (Unicode CLDR,
//     Unicode licence);
//   - the English lemmas of those synsets from Princeton WordNet 3.0 (the
//     data.* and index.* files, e.g. Debian's wordnet-base under
//     /usr/share/wordnet; WordNet licence).
//
// Each output line is a lower-cased German lemma, a TAB and up to
// maxPerLemma English words or phrases separated by "|", the most common
// sense first (WordNet's sense order, then the word's place in its synset).
//
// Run it from the knowledge folder:
//
//	go run ./internal/lexgen -omw /path/to/omw-data -wordnet /usr/share/wordnet -out lexicon/de-en.tsv.gz
package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxPerLemma bounds the English translations kept per German lemma.
const maxPerLemma = 6

func main() {
	omw := flag.String("omw", "", "folder of an omw-data checkout (holds wns/)")
	wordnet := flag.String("wordnet", "/usr/share/wordnet", "folder of Princeton WordNet 3.0 data.* and index.* files")
	out := flag.String("out", "lexicon/de-en.tsv.gz", "file to write")
	flag.Parse()
	if err := run(*omw, *wordnet, *out); err != nil {
		fmt.Fprintln(os.Stderr, "lexgen:", err)
		os.Exit(1)
	}
}

// member is one English word of a synset with its place there.
type member struct {
	word  string
	place int
}

func run(omw, wordnet, out string) error {
	if omw == "" {
		return fmt.Errorf("-omw is required")
	}
	synsets, err := readSynsets(wordnet)
	if err != nil {
		return err
	}
	ranks, err := readSenseRanks(wordnet)
	if err != nil {
		return err
	}
	german := map[string]map[string]bool{} // lemma → synset ids
	for _, f := range []string{"wns/wikt/wn-wikt-deu.tab", "wns/cldr/wn-cldr-deu.tab"} {
		err := readOMW(filepath.Join(omw, f), german)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "lexgen: %s absent, skipped\n", f)
			continue
		}
		if err != nil {
			return err
		}
	}
	lemmas := make([]string, 0, len(german))
	for l := range german {
		lemmas = append(lemmas, l)
	}
	sort.Strings(lemmas)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriter(zw)
	n := 0
	for _, l := range lemmas {
		score := map[string]float64{}
		for id := range german[l] {
			for _, m := range synsets[id] {
				s := (1 + math.Log1p(float64(ranks[m.word]))) / (1 + 0.3*float64(ranks[m.word+" "+id])) / (1 + 0.3*float64(m.place))
				if s > score[m.word] {
					score[m.word] = s
				}
			}
		}
		if len(score) == 0 {
			continue
		}
		words := make([]string, 0, len(score))
		for e := range score {
			words = append(words, e)
		}
		sort.Slice(words, func(i, j int) bool {
			if score[words[i]] != score[words[j]] {
				return score[words[i]] > score[words[j]]
			}
			return words[i] < words[j]
		})
		if len(words) > maxPerLemma {
			words = words[:maxPerLemma]
		}
		fmt.Fprintf(w, "%s\t%s\n", l, strings.Join(words, "|"))
		n++
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lexgen: %d German lemmas written to %s\n", n, out)
	return nil
}

// synsetID is the OMW form of a WordNet synset: offset, "-", part of
// speech, with adjective satellites ("s") counted as adjectives.
func synsetID(offset, pos string) string {
	if pos == "s" {
		pos = "a"
	}
	return offset + "-" + pos
}

// readSynsets reads the English members of every synset from data.*.
func readSynsets(dir string) (map[string][]member, error) {
	out := map[string][]member{}
	for _, pos := range []string{"noun", "verb", "adj", "adv"} {
		err := eachLine(filepath.Join(dir, "data."+pos), func(line string) {
			if strings.HasPrefix(line, "  ") {
				return // licence header
			}
			f := strings.Fields(line)
			if len(f) < 5 {
				return
			}
			var cnt int
			if _, err := fmt.Sscanf(f[3], "%x", &cnt); err != nil {
				return
			}
			id := synsetID(f[0], f[2])
			for i := 0; i < cnt && 4+2*i < len(f); i++ {
				word := strings.ToLower(f[4+2*i])
				if j := strings.IndexByte(word, '('); j > 0 { // adjective markers: "(a)", "(p)"
					word = word[:j]
				}
				out[id] = append(out[id], member{word: strings.ReplaceAll(word, "_", " "), place: i})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readSenseRanks returns, for "word synset-id", the place of that synset
// among the word's senses in index.* (0 = most frequent sense), and for
// "word" how many of its senses were tagged in WordNet's sense-tagged
// corpus (a rough frequency of the word).
func readSenseRanks(dir string) (map[string]int, error) {
	out := map[string]int{}
	for _, pos := range []string{"noun", "verb", "adj", "adv"} {
		p := map[string]string{"noun": "n", "verb": "v", "adj": "a", "adv": "r"}[pos]
		err := eachLine(filepath.Join(dir, "index."+pos), func(line string) {
			if strings.HasPrefix(line, "  ") {
				return
			}
			f := strings.Fields(line)
			if len(f) < 4 {
				return
			}
			var synsets, ptrs int
			fmt.Sscanf(f[2], "%d", &synsets)
			fmt.Sscanf(f[3], "%d", &ptrs)
			start := 4 + ptrs + 2
			word := strings.ReplaceAll(f[0], "_", " ")
			var tagged int
			if 5+ptrs < len(f) {
				fmt.Sscanf(f[5+ptrs], "%d", &tagged)
			}
			out[word] += tagged
			for i := 0; i < synsets && start+i < len(f); i++ {
				out[word+" "+synsetID(f[start+i], p)] = i
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readOMW adds the lemmas of an OMW tab file to german.
func readOMW(path string, german map[string]map[string]bool) error {
	return eachLine(path, func(line string) {
		if strings.HasPrefix(line, "#") {
			return
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasSuffix(f[1], ":lemma") {
			return
		}
		l := strings.ToLower(strings.TrimSpace(f[2]))
		if l == "" || strings.ContainsAny(l, "\t|") {
			return
		}
		if german[l] == nil {
			german[l] = map[string]bool{}
		}
		german[l][f[0]] = true
	})
}

func eachLine(path string, fn func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}
