package conversation

// Counts of per-conversation bookkeeping, for the bounds tests in the
// external test package.

// HeldKeyLocks is how many conversation keys the engine's in-process lock
// holds an entry for.
func HeldKeyLocks(e *Engine) int {
	e.local.mu.Lock()
	defer e.local.mu.Unlock()
	return len(e.local.slots)
}

// DispatcherEntries is how many per-conversation or per-message entries
// the dispatcher holds: queued, active and dirty keys, the queue itself,
// retry counts and batches claimed at commit.
func DispatcherEntries(d *Dispatcher) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queued) + len(d.active) + len(d.dirty) + len(d.queue) + len(d.tries) + len(d.claims)
}
