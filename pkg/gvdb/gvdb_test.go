package gvdb

import (
	"bytes"
	"os"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/gvariant"
)

// walk visits every item of r and its nested tables, as a reader of an
// untrusted file would.
func walk(r *Reader, depth int) (int, error) {
	if depth > 8 {
		return 0, nil
	}
	n := 0
	for i := 0; i < r.Len(); i++ {
		if _, err := r.Key(i); err != nil {
			return n, err
		}
		n++
		switch r.Kind(i) {
		case 'v':
			if _, err := r.Value(i); err != nil {
				return n, err
			}
		case 'L':
			if _, err := r.List(i); err != nil {
				return n, err
			}
		case 'H':
			t, err := r.Table(i)
			if err != nil {
				return n, err
			}
			m, err := walk(t, depth+1)
			n += m
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func TestRoundTrip(t *testing.T) {
	root := NewTable()
	top := root.Insert("")
	sub := NewTable()
	subRoot := sub.Insert("")
	for _, k := range []string{"zeta", "alpha", "mid"} {
		it := sub.Insert(k)
		it.SetParent(subRoot)
		v, err := gvariant.Marshal("v", gvariant.Variant{Type: "s", Value: "v-" + k})
		if err != nil {
			t.Fatal(err)
		}
		it.SetValue(v)
	}
	sub.InsertString(".path", "/a/b/")
	s := root.Insert("org.example")
	s.SetParent(top)
	s.SetTable(sub)

	data := root.Bytes()
	if !bytes.HasPrefix(data, []byte("GVariant\x00\x00\x00\x00\x00\x00\x00\x00\x18\x00\x00\x00")) {
		t.Fatalf("header % x", data[:24])
	}
	f, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Fatalf("root has %d items", r.Len())
	}
	ti := r.Lookup("org.example")
	if ti < 0 || r.Kind(ti) != 'H' {
		t.Fatalf("org.example: index %d", ti)
	}
	li := r.Lookup("")
	list, err := r.List(li)
	if err != nil || len(list) != 1 || list[0] != ti {
		t.Fatalf("root list %v %v", list, err)
	}
	st, err := r.Table(ti)
	if err != nil {
		t.Fatal(err)
	}
	list, err = st.List(st.Lookup(""))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		k, _ := st.Key(i)
		names = append(names, k)
	}
	if got := names; len(got) != 3 || got[0] != "alpha" || got[1] != "mid" || got[2] != "zeta" {
		t.Errorf("children %v, want sorted alpha mid zeta", got)
	}
	for i := 0; i < st.Len(); i++ {
		k, _ := st.Key(i)
		if st.Hash(i) != Hash(k) {
			t.Errorf("%q: hash %d want %d", k, st.Hash(i), Hash(k))
		}
	}
	v, err := st.Value(st.Lookup(".path"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := gvariant.Unmarshal("v", v)
	if err != nil || got.(gvariant.Variant).Value != "/a/b/" {
		t.Errorf(".path = %v, %v", got, err)
	}
	if n, err := walk(r, 0); err != nil || n != 7 {
		t.Errorf("walk: %d items, %v", n, err)
	}
}

func TestHash(t *testing.T) {
	// Bytes >= 0x80 count as negative (signed char), as in GLib.
	if Hash("") != 5381 || Hash("a") != 5381*33+'a' || Hash("\xff") != 5381*33-1 {
		t.Errorf("Hash: %d %d %d", Hash(""), Hash("a"), Hash("\xff"))
	}
}

func TestBadInput(t *testing.T) {
	good := func() []byte {
		root := NewTable()
		root.Insert("").SetParent(root.Insert("x"))
		root.InsertString("k", "v")
		return root.Bytes()
	}
	for name, mut := range map[string]func([]byte) []byte{
		"short":       func(b []byte) []byte { return b[:10] },
		"signature":   func(b []byte) []byte { b[0] = 'X'; return b },
		"root end":    func(b []byte) []byte { b[20] = 0xff; b[21] = 0xff; return b },
		"buckets":     func(b []byte) []byte { b[28] = 0xff; return b },
		"truncated":   func(b []byte) []byte { return b[:len(b)-3] },
		"key pointer": func(b []byte) []byte { b[24+8+4*3+8+1] = 0xff; return b },
	} {
		f, err := Open(mut(good()))
		if err == nil {
			var r *Reader
			r, err = f.Root()
			if err == nil {
				_, err = walk(r, 0)
			}
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestReadHostCache reads the host's gschemas.compiled, which GLib wrote.
func TestReadHostCache(t *testing.T) {
	data, err := os.ReadFile("/usr/share/glib-2.0/schemas/gschemas.compiled")
	if err != nil {
		if testenv.Strict() {
			t.Fatalf("%v (apt-get install gsettings-desktop-schemas)", err)
		}
		t.Skip(err)
	}
	f, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := walk(r, 0); err != nil || n < 10 {
		t.Fatalf("walk: %d items, %v", n, err)
	}
}

func FuzzReader(f *testing.F) {
	root := NewTable()
	sub := NewTable()
	sub.InsertString("a", "b")
	root.Insert("t").SetTable(sub)
	root.Insert("").SetParent(root.Insert("x"))
	f.Add(root.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(data)
		if err != nil {
			return
		}
		r, err := file.Root()
		if err != nil {
			return
		}
		walk(r, 0)
	})
}
