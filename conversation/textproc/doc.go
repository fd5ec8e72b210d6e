// Package textproc holds the word analysis that the conversation core, the
// handoff router and the knowledge index share, so they agree on what a
// word is in English and German: case and accent folding (ä → a, ß → ss),
// the Snowball German stemmer, and keyword matching that also finds a
// keyword inside a German compound ("ausfall" in "Stromausfall",
// "drucker" in "Druckerwarteschlange").
//
// It uses the standard library only.
package textproc
