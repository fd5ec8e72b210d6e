// Package openai is a client for OpenAI-compatible HTTP APIs: OpenAI itself,
// Azure OpenAI, Ollama, vLLM and Hugging Face Text Embeddings Inference all
// speak the same wire format for POST /embeddings and POST
// /chat/completions (https://platform.openai.com/docs/api-reference).
//
// Embedder implements knowledge.Embedder on /embeddings (batched, vectors
// L2-normalised); ChatClient calls /chat/completions, whole or streamed
// as server-sent events. Both share one retry policy: 429, 408, 500, 502,
// 503, 504 and network errors are retried with exponential backoff and
// jitter, honouring Retry-After; other errors are returned at once.
//
// Errors carry the codes of package conversation: Unauthorized for 401 and
// 403, Invalid for 400, 404, 413, 422 and for bad input, Unavailable for
// everything else (overload, timeouts, network errors, malformed or
// oversized responses). They quote the provider's error message, never
// the API key.
package openai
