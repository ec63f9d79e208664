package gschemas

import (
	"reflect"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/gvariant"
)

func TestParseText(t *testing.T) {
	for _, tc := range []struct {
		sig, text string
		want      any
	}{
		{"b", " true ", true},
		{"y", "0xff", uint8(255)},
		{"n", "-32768", int16(-32768)},
		{"q", "017", uint16(15)},
		{"i", "+12", int32(12)},
		{"u", "uint32 7", uint32(7)},
		{"x", "-9223372036854775808", int64(-9223372036854775808)},
		{"t", "18446744073709551615", uint64(18446744073709551615)},
		{"h", "handle 2", int32(2)},
		{"d", "1", 1.0},
		{"d", "-2.5e1", -25.0},
		{"s", `'a\'b"c\n\u00e9\x'`, "a'b\"c\né" + "x"},
		{"o", "'/a/b_1'", "/a/b_1"},
		{"g", "'a{sv}'", "a{sv}"},
		{"as", "[]", []any{}},
		{"as", "@as ['x', \"y\"]", []any{"x", "y"}},
		{"ay", "b'hi'", []byte("hi\x00")},
		{"ay", "[1, 2]", []byte{1, 2}},
		{"(si)", "('a', 1)", gvariant.Tuple{"a", int32(1)}},
		{"(s)", "('a',)", gvariant.Tuple{"a"}},
		{"()", "()", gvariant.Tuple{}},
		{"a{si}", "{'a': 1, 'b': 2}", []any{gvariant.Tuple{"a", int32(1)}, gvariant.Tuple{"b", int32(2)}}},
		{"a{si}", "{}", []any{}},
		{"{si}", "{'a', 1}", gvariant.Tuple{"a", int32(1)}},
		{"ms", "nothing", gvariant.Maybe{}},
		{"ms", "just 'a'", gvariant.Maybe{Valid: true, Value: "a"}},
		{"ms", "'a'", gvariant.Maybe{Valid: true, Value: "a"}},
		{"v", "<1>", gvariant.Variant{Type: "i", Value: int32(1)}},
		{"v", "<2.0>", gvariant.Variant{Type: "d", Value: 2.0}},
		{"v", "<[(1, 'a')]>", gvariant.Variant{Type: "a(is)", Value: []any{gvariant.Tuple{int32(1), "a"}}}},
		{"v", "<{'k': <true>}>", gvariant.Variant{Type: "a{sv}", Value: []any{gvariant.Tuple{"k", gvariant.Variant{Type: "b", Value: true}}}}},
		{"v", "<@mi nothing>", gvariant.Variant{Type: "mi", Value: gvariant.Maybe{}}},
	} {
		got, err := ParseText(tc.sig, tc.text)
		if err != nil {
			t.Errorf("%s %q: %v", tc.sig, tc.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %q = %#v, want %#v", tc.sig, tc.text, got, tc.want)
		}
		if _, err := gvariant.Marshal(tc.sig, got); err != nil {
			t.Errorf("%s %q: marshal: %v", tc.sig, tc.text, err)
		}
	}
}

func TestParseTextErrors(t *testing.T) {
	for _, tc := range []struct{ sig, text string }{
		{"y", "256"}, {"n", "32768"}, {"i", "2147483648"}, {"u", "-1"}, {"t", "-1"},
		{"x", "9223372036854775808"}, {"i", "1.5"}, {"i", "0x"}, {"i", "08"}, {"i", "1_0"},
		{"s", "'open"}, {"s", "1"}, {"i", "'s'"}, {"o", "'a/b'"}, {"o", "'/a/'"}, {"g", "'z'"},
		{"as", "['a', 1]"}, {"as", "['a' 'b']"}, {"(si)", "('a')"}, {"(si)", "('a', 1, 2)"},
		{"a{si}", "{'a', 1}"}, {"{si}", "{'a': 1}"}, {"v", "<[]>"}, {"v", "<nothing>"},
		{"b", "true false"}, {"s", "@i 1"}, {"i", ""}, {"as", "[" + strings.Repeat("[", 100)},
		{"s", `'\u0000'`}, {"s", "'\xff'"}, {"v", "<" + strings.Repeat("<", 100) + "1"},
		{"(", "1"},
	} {
		if v, err := ParseText(tc.sig, tc.text); err == nil {
			t.Errorf("%s %q: no error, got %#v", tc.sig, tc.text, v)
		}
	}
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"[('a', {'b': <true>})]", "@mi 5", "{'k': <1>}", "b'x'", "-0x10", "<(1, 'x')>"} {
		f.Add("a(sa{sv})", s)
		f.Add("v", s)
	}
	f.Fuzz(func(t *testing.T, sig, text string) {
		v, err := ParseText(sig, text)
		if err != nil {
			return
		}
		if _, err := gvariant.Marshal(sig, v); err != nil {
			t.Fatalf("%s %q parsed to %#v which does not marshal: %v", sig, text, v, err)
		}
	})
}
