// Package conversation is the domain core of tier0: the normalised Message
// that every channel adapter produces, the Conversation with its phase
// machine, the ports (Store, Knowledge, Handoff, Sender) that concrete
// implementations satisfy, and the Engine that handles one turn.
//
// The package depends on the standard library only. Adapters, knowledge,
// handoff and the stores import it; it imports none of them.
//
// One turn (Engine.Handle):
//
//	dedupe → per-conversation lease (fencing token) → load → decide →
//	commit (state + dedupe mark + events + outbound, one atomic step) → release
//
// Outbound messages are delivered afterwards by the Dispatcher, which
// retries with backoff and passes each message's stable ID to the channel
// so a retry never double-posts.
package conversation
