package conversation

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestRecordCodecMatchesStdlib checks that MarshalRecord writes the bytes
// encoding/json writes and UnmarshalRecord reads them back as
// encoding/json does, for a conversation, an event and an outbound
// message with every field set (filled by reflection, so a new field is
// covered without touching this test), with strings that need escaping.
func TestRecordCodecMatchesStdlib(t *testing.T) {
	texts := []string{
		"plain",
		"Grüße <b>&</b> \"quoted\" \\ back\tslash\nnew line",
		"line\u2028separator\u2029and \x01 control",
		"bad utf-8 \xff\xfe here",
		"emoji 🙂 and ß",
		"",
	}
	for _, text := range texts {
		for _, v := range []any{&Conversation{}, &Event{}, &Outbound{}} {
			fill(reflect.ValueOf(v).Elem(), text, 0)
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if _, conv := v.(*Conversation); conv && len(want) < 2000 {
				t.Fatalf("the filled conversation encodes to only %d bytes: fill left fields empty", len(want))
			}
			got, err := MarshalRecord(v)
			if err != nil {
				t.Fatalf("MarshalRecord(%T): %v", v, err)
			}
			if string(got) != string(want) {
				t.Fatalf("%T with %q:\nMarshalRecord %s\nencoding/json %s", v, text, got, want)
			}
			a := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			b := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := json.Unmarshal(want, a); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			if err := UnmarshalRecord(want, b); err != nil {
				t.Fatalf("UnmarshalRecord(%T): %v", v, err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%T with %q: UnmarshalRecord gives %+v, encoding/json %+v", v, text, b, a)
			}
		}
	}
	// Malformed input is an error for both.
	for _, bad := range []string{``, `{`, `{"key":}`, `{"history":[{"at":"yesterday"}]}`, `[1,2]`, `{"version":"x"}`} {
		var a, b Conversation
		errStd, errRec := json.Unmarshal([]byte(bad), &a), UnmarshalRecord([]byte(bad), &b)
		if (errStd == nil) != (errRec == nil) {
			t.Fatalf("%q: encoding/json error %v, UnmarshalRecord error %v", bad, errStd, errRec)
		}
	}
}

// fill sets every field of v to a non-zero value built from text.
func fill(v reflect.Value, text string, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text + "·" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			v.SetInt(int64(90 * time.Second))
			return
		}
		v.SetInt(int64(7 + depth))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(9 + depth))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.625 + float64(depth))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), text, depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), text, depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, text+string(rune('a'+i)), depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, text, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.FixedZone("CET", 3600))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), text, depth+1)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(text))
	}
}
