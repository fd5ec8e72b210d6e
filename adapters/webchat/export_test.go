package webchat

// RateBuckets returns how many rate-limit buckets a holds, for the test of
// the limiter's bounded memory.
func RateBuckets(a *Adapter) int { return a.limiter.size() }

// Localize is localize, for the error-language test.
var Localize = localize
