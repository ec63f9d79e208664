package gvariant

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// objectTypes maps the testdata file prefixes (objects written by the real
// `ostree` 2022.7, see testdata/README) to their GVariant types.
var objectTypes = map[string]string{
	"commit":      "(a{sv}aya(say)sstayay)",
	"dirtree":     "(a(say)a(sayay))",
	"dirmeta":     "(uuua(ayay))",
	"filezheader": "(tuuuusa(ayay))",
	"summary":     "(a(s(taya{sv}))a{sv})",
}

// TestOstreeObjectsRoundTrip decodes every object ostree wrote and
// re-encodes it: normal form means the bytes must come back identical,
// and metadata objects must still hash to their names.
func TestOstreeObjectsRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*-*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	seen := map[string]int{}
	for _, f := range files {
		name := filepath.Base(f)
		kind, rest, _ := strings.Cut(name, "-")
		sig, ok := objectTypes[kind]
		if !ok {
			continue
		}
		seen[kind]++
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Unmarshal(sig, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			again, err := Marshal(sig, v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("re-encoded bytes differ:\n got %x\nwant %x", again, data)
			}
			if len(rest) == 64 {
				sum := sha256.Sum256(data)
				if hex.EncodeToString(sum[:]) != rest {
					t.Fatalf("object does not hash to its name")
				}
			}
		})
	}
	for kind := range objectTypes {
		if seen[kind] == 0 {
			t.Errorf("no testdata for %s", kind)
		}
	}
}

// TestOstreeCommitValues checks decoded values of a commit ostree wrote
// with known subject, body, metadata and timestamp (2021-06-01T12:00:00Z).
func TestOstreeCommitValues(t *testing.T) {
	files, _ := filepath.Glob("testdata/commit-*")
	var found bool
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Unmarshal(objectTypes["commit"], data)
		if err != nil {
			t.Fatal(err)
		}
		tup := v.(Tuple)
		if tup[3] != "subject ü" {
			continue
		}
		found = true
		if tup[4] != "body" {
			t.Errorf("body %q", tup[4])
		}
		// OSTree stores the timestamp big-endian inside the LE variant.
		if ts := tup[5].(uint64); ts != 0x00000000_60B62140<<0 && swap64(ts) != 1622548800 {
			t.Errorf("timestamp %#x", ts)
		}
		md := tup[0].([]any)
		want := map[string]Variant{
			"version":            {"s", "1.2"},
			"ostree.ref-binding": {"as", []any{"gv", "other"}},
		}
		if len(md) != len(want) {
			t.Fatalf("metadata %v", md)
		}
		for _, e := range md {
			kv := e.(Tuple)
			if w, ok := want[kv[0].(string)]; !ok || !reflect.DeepEqual(kv[1], w) {
				t.Errorf("metadata %v, want %v", kv, w)
			}
		}
		if len(tup[6].([]byte)) != 32 || len(tup[7].([]byte)) != 32 {
			t.Errorf("root checksums %x %x", tup[6], tup[7])
		}
	}
	if !found {
		t.Fatal("testdata lacks the known commit")
	}
}

func swap64(v uint64) uint64 {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	var o uint64
	for i := range b {
		o = o<<8 | uint64(b[i])
	}
	return o
}

// TestEncodeLayouts checks framing rules of the GVariant specification on
// small values whose bytes can be derived by hand.
func TestEncodeLayouts(t *testing.T) {
	big := make([]any, 300)
	for i := range big {
		big[i] = "x"
	}
	for _, tc := range []struct {
		name, sig string
		v         any
		want      string // hex
	}{
		{"bool", "b", true, "01"},
		{"u32 little-endian", "u", uint32(0x01020304), "04030201"},
		{"string has NUL", "s", "ab", "616200"},
		{"empty array", "as", []any{}, ""},
		{"string array with end offsets", "as", []any{"a", "bc"}, "6100626300" + "0205"},
		{"fixed array no offsets", "au", []any{uint32(1), uint32(2)}, "0100000002000000"},
		{"tuple pads to member alignment", "(yu)", Tuple{uint8(7), uint32(1)}, "0700000001000000"},
		{"fixed tuple pads its end", "(uy)", Tuple{uint32(1), uint8(2)}, "0100000002000000"},
		{"unit tuple is one byte", "()", Tuple{}, "00"},
		{"offsets of non-last variable members, reversed", "(ssy)", Tuple{"a", "b", uint8(9)}, "610062000904" + "02"},
		{"variant carries its type", "v", Variant{"u", uint32(5)}, "0500000000" + "75"},
		{"maybe nothing", "ms", Maybe{}, ""},
		{"maybe just variable adds zero", "ms", Maybe{true, "a"}, "610000"},
		{"dict entry", "{sv}", Tuple{"k", Variant{"b", true}}, "6b00" + "000000000000" + "0100" + "62" + "02"},
		{"two-byte offsets", "as", big, strings.Repeat("7800", 300) + offsets2(300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.sig, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tc.want {
				t.Fatalf("Marshal(%s) = %x, want %s", tc.sig, got, tc.want)
			}
			back, err := Unmarshal(tc.sig, got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.v) {
				t.Fatalf("round trip: %#v, want %#v", back, tc.v)
			}
		})
	}
}

func offsets2(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		end := 2 * i
		b.WriteString(hex.EncodeToString([]byte{byte(end), byte(end >> 8)}))
	}
	return b.String()
}

// TestDecodeBad feeds malformed data: each must fail with an error that
// names the problem, and none may panic.
func TestDecodeBad(t *testing.T) {
	for _, tc := range []struct {
		name, sig, data, want string
	}{
		{"short u32", "u", "0102", "want 4"},
		{"string without NUL", "s", "6162", "not NUL-terminated"},
		{"string with inner NUL", "s", "610000", "contains NUL"},
		{"bad bool", "b", "02", "boolean"},
		{"offset past end", "as", "6100ff", "beyond"},
		{"framing not a multiple", "a(uu)", "010203", "multiple"},
		{"tuple offset past end", "(ss)", "610062ff", "beyond"},
		{"variant without type", "v", "0102", "variant without type"},
		{"variant bad type", "v", "0100" + hex.EncodeToString([]byte("(u")), "unterminated"},
		{"element outside", "as", "61000302", "outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := hex.DecodeString(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Unmarshal(tc.sig, data)
			if err == nil {
				t.Fatalf("Unmarshal(%s, %x) succeeded", tc.sig, data)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseTypeBad(t *testing.T) {
	for _, sig := range []string{"", "(", "a", "{sv", "{vs}", "z", "uu", strings.Repeat("a", 100) + "y", "(" + strings.Repeat("(", 70) + ")"} {
		if _, err := ParseType(sig); err == nil {
			t.Errorf("ParseType(%q) succeeded", sig)
		}
	}
}

// TestGLibDictOrder replays key orders recorded from the real GLib.
func TestGLibDictOrder(t *testing.T) {
	f, err := os.Open("testdata/glib-dict-order.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		in, out, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		got := strings.Join(GLibDictOrder(strings.Fields(in)), " ")
		if got != out {
			t.Errorf("GLibDictOrder(%d keys)\n got %s\nwant %s", len(strings.Fields(in)), got, out)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d cases", n)
	}
}

func FuzzUnmarshal(f *testing.F) {
	files, _ := filepath.Glob("testdata/*-*")
	for _, p := range files {
		kind, _, _ := strings.Cut(filepath.Base(p), "-")
		if sig, ok := objectTypes[kind]; ok {
			data, _ := os.ReadFile(p)
			if len(data) < 4096 {
				f.Add(sig, data)
			}
		}
	}
	f.Add("a{sv}", []byte{})
	f.Add("v", []byte("\x00(a(ayay)mv)"))
	f.Fuzz(func(t *testing.T, sig string, data []byte) {
		v, err := Unmarshal(sig, data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		// Whatever decodes must encode, and decode back to the same value.
		enc, err := Marshal(sig, v)
		if err != nil {
			t.Fatalf("re-encode of decoded %#v: %v", v, err)
		}
		back, err := Unmarshal(sig, enc)
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		// Compare encodings, not values: NaN != NaN.
		enc2, err := Marshal(sig, back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed %#v to %#v (%v)", v, back, err)
		}
	})
}

func BenchmarkDirTree(b *testing.B) {
	files, _ := filepath.Glob("testdata/dirtree-*")
	var data []byte
	for _, f := range files {
		d, _ := os.ReadFile(f)
		if len(d) > len(data) {
			data = d
		}
	}
	typ := MustParseType(objectTypes["dirtree"])
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, err := typ.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := typ.Append(nil, v); err != nil {
			b.Fatal(err)
		}
	}
}
