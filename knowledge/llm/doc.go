// Package llm writes answers with a chat model from the passages that
// knowledge retrieved: retrieval decides whether there is an answer, the
// model only words it.
//
// Composer implements conversation.Knowledge. It asks a Grounder (a
// *knowledge.Answerer) for the extractive answer and its passages and, only
// when that answer is confident, has the model rewrite it from the numbered
// passages with citations. Everything that goes wrong on the model's side
// (an error, the latency budget running out, a reply without a valid
// citation, a reply that repeats the instructions) gives the extractive
// answer instead; a reply saying the sources do not hold the answer makes
// the answer not confident.
//
// The prompt keeps the instructions in the system message and the question
// and the passages, as data, in the user message between <question> and
// <source> tags; tag-like text inside them is escaped so neither can close
// its tag and pose as instructions. The system prompt holds a random canary
// string; a reply containing it is a leak and is never shown.
package llm
