package conversation

import (
	segjson "github.com/segmentio/encoding/json"
)

// The records a Store keeps (a conversation's state, its events, its
// outbound messages) are JSON. They are encoded and decoded with
// github.com/segmentio/encoding/json, which writes the same bytes as
// encoding/json and reads what it reads, in about half the CPU: a state
// is encoded and decoded once per turn. TestRecordCodecMatchesStdlib
// checks the two agree on every field.

// MarshalRecord returns v as JSON, as encoding/json.Marshal does.
func MarshalRecord(v any) ([]byte, error) { return segjson.Marshal(v) }

// UnmarshalRecord decodes the JSON data into v, as encoding/json.Unmarshal
// does.
func UnmarshalRecord(data []byte, v any) error { return segjson.Unmarshal(data, v) }
