package ghash

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Whatever the inserts and removals, the table holds exactly the live
// keys, each once, and a key's slot survives re-inserting it.
func TestLiveKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		h := New()
		live := map[string]bool{}
		for op := 0; op < rng.IntN(300); op++ {
			k := fmt.Sprintf("org.example.k%d", rng.IntN(120))
			if rng.IntN(3) == 0 {
				h.Remove(k)
				delete(live, k)
				continue
			}
			before := h.Order()
			h.Insert(k)
			if live[k] && !slices.Equal(before, h.Order()) {
				t.Fatalf("round %d: inserting %s again moved keys", round, k)
			}
			live[k] = true
		}
		got := h.Order()
		if len(got) != len(live) {
			t.Fatalf("round %d: %d keys, want %d", round, len(got), len(live))
		}
		for _, k := range got {
			if !live[k] {
				t.Fatalf("round %d: %s is not live", round, k)
			}
			delete(live, k)
		}
	}
}

// The orders GLib itself gives are checked by gvariant.TestGLibDictOrder
// (recorded from GLib) and gschemas' oracle tests (glib-compile-schemas).

func BenchmarkInsert(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("org.gnome.desktop.k%d", i)
	}
	for b.Loop() {
		h := New()
		for _, k := range keys {
			h.Insert(k)
		}
	}
}
