// Package knowledge answers questions from the organisation's documents.
//
// The path from files to answers:
//
//   - LoadDir reads a folder, choosing the parser by file name (parsers in
//     loaders.go): ParseMarkdown cuts markdown (optional YAML front matter
//     with title, url, tags, audience, language, product) into Chunks, one
//     per "##"/"###" section, long sections split at paragraph boundaries;
//     ParseFAQ reads FAQ cards (*.faq.yaml/.yml/.json, see Card), one chunk
//     per phrasing, all carrying the card id and its answer.
//   - An Embedder turns text into vectors. HashEmbedder is the built-in
//     offline one (feature hashing, no network, any language); other
//     providers implement the same interface.
//   - Index keeps the chunks and their vectors in a persistent chromem-go
//     collection (https://github.com/philippgille/chromem-go). Index.Ingest
//     is incremental: only new and changed chunks are embedded, chunks of
//     deleted sections and files are removed, and a change of embedder
//     rebuilds everything.
//   - Index.Retrieve is hybrid retrieval: vector similarity and BM25 over an
//     in-memory lexical index, reciprocal-rank fusion, metadata filters, one
//     result per section or card, an intent model trained on the FAQ
//     cards' phrasings (intent.go), and an answerability score per query
//     with an ambiguity signal. Index.Calibrate chooses the threshold on
//     labelled questions and stores it in the index manifest.
//   - Answerer implements conversation.Knowledge on Retrieve: it answers
//     with the best passage (or card answer) and its citations, confident
//     when the score reaches the calibrated threshold.
//   - Package eval measures all of it on CLINC150, BANKING77 and ClariQ.
package knowledge
