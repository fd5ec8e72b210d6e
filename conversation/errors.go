package conversation

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error so callers (HTTP handlers, adapters, the CLI) can
// choose a status and a friendly sentence without parsing messages.
type Code string

// Error codes. Every error the ports return carries one of these (see
// ErrorCode); anything without a code counts as Internal.
const (
	Invalid      Code = "invalid"      // the input is malformed or out of bounds
	NotFound     Code = "not_found"    // the thing asked for does not exist
	Conflict     Code = "conflict"     // a concurrent writer won, a lease is held, or a message was seen before
	Unauthorized Code = "unauthorized" // a missing, forged or expired credential
	Unavailable  Code = "unavailable"  // a dependency is down or overloaded; retrying may help
	Internal     Code = "internal"     // a bug or an unexpected failure
)

// Error is an error with a Code and a message that is safe to show a user.
// Err, if set, is the underlying cause and is only meant for logs.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	// Errorf already put the cause into Message; do not say it twice.
	if e.Err != nil && !strings.HasSuffix(e.Message, e.Err.Error()) {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match two *Error values with the same code and message,
// so wrapped copies of the sentinel errors below still compare equal.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
// A %w verb in format wraps the cause as Err.
func Errorf(code Code, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal
// when there is none, and "" for a nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns a sentence that is safe to show to a user: the
// message of the first *Error in err's chain, or a generic sentence.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// Sentinel errors returned by the ports. Test with errors.Is.
var (
	// ErrNotFound: the conversation (or other record) does not exist.
	ErrNotFound = &Error{Code: NotFound, Message: "not found"}
	// ErrStaleVersion: Commit was given a version older than the stored one.
	ErrStaleVersion = &Error{Code: Conflict, Message: "stale conversation version"}
	// ErrLeaseHeld: Acquire found the lease held by another holder.
	ErrLeaseHeld = &Error{Code: Conflict, Message: "conversation lease held"}
	// ErrLeaseLost: the lease expired or was taken over; the writer is fenced off.
	ErrLeaseLost = &Error{Code: Conflict, Message: "conversation lease lost"}
	// ErrDuplicate: the message's dedupe key was committed before.
	ErrDuplicate = &Error{Code: Conflict, Message: "duplicate message"}
	// ErrElsewhere: a Sender of a single-connection channel (one elected
	// replica holds the connection) cannot send from this replica right
	// now. The Dispatcher leaves the message pending without counting an
	// attempt, so the replica that holds the connection delivers it.
	ErrElsewhere = &Error{Code: Unavailable, Message: "channel is connected on another replica"}
)
