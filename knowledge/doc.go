// Package knowledge answers questions from the organisation's documents.
//
// The path from files to answers:
//
//   - LoadDir / ParseMarkdown read a folder of markdown files (optional YAML
//     front matter with title, url and tags) and cut each into Chunks, one
//     per "##"/"###" section, long sections split at paragraph boundaries.
//   - An Embedder turns text into vectors. HashEmbedder is the built-in
//     offline one (feature hashing, no network, any language); other
//     providers implement the same interface.
//   - Index keeps the chunks and their vectors in a persistent chromem-go
//     collection (https://github.com/philippgille/chromem-go). Index.Ingest
//     is incremental: only new and changed chunks are embedded, chunks of
//     deleted sections and files are removed, and a change of embedder
//     rebuilds everything.
//   - Answerer implements conversation.Knowledge: it retrieves the best
//     chunks, scores how well they answer (vector similarity plus a lexical
//     check) and returns the most relevant passage with citations.
package knowledge
