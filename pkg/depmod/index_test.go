package depmod

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// lookup reads an index the way libkmod does (a binary walk from the root
// offset), independently of how it was written.
func lookup(idx []byte, key string) ([]indexValue, error) {
	if len(idx) < 12 || binary.BigEndian.Uint32(idx) != indexMagic || binary.BigEndian.Uint32(idx[4:]) != indexVersion {
		return nil, fmt.Errorf("bad header")
	}
	off := binary.BigEndian.Uint32(idx[8:])
	i := 0
	for steps := 0; steps < 10000; steps++ {
		p := int(off & 0x0FFFFFFF)
		if p >= len(idx) && off&(nodePrefix|nodeChilds|nodeValues) != 0 {
			return nil, fmt.Errorf("offset %d out of range", p)
		}
		var first, last int
		var childs []uint32
		if off&nodePrefix != 0 {
			end := p
			for end < len(idx) && idx[end] != 0 {
				end++
			}
			prefix := string(idx[p:end])
			p = end + 1
			if !strings.HasPrefix(key[i:], prefix) {
				return nil, nil
			}
			i += len(prefix)
		}
		if off&nodeChilds != 0 {
			first, last = int(idx[p]), int(idx[p+1])
			p += 2
			for c := first; c <= last; c++ {
				childs = append(childs, binary.BigEndian.Uint32(idx[p:]))
				p += 4
			}
		}
		if i == len(key) {
			if off&nodeValues == 0 {
				return nil, nil
			}
			n := int(binary.BigEndian.Uint32(idx[p:]))
			p += 4
			var vals []indexValue
			for range n {
				prio := binary.BigEndian.Uint32(idx[p:])
				p += 4
				end := p
				for idx[end] != 0 {
					end++
				}
				vals = append(vals, indexValue{prio, string(idx[p:end])})
				p = end + 1
			}
			return vals, nil
		}
		c := int(key[i])
		if childs == nil || c < first || c > last || childs[c-first] == 0 {
			return nil, nil
		}
		off = childs[c-first]
		i++
	}
	return nil, fmt.Errorf("loop in index")
}

func TestIndexLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab_:*-x" // a small alphabet forces shared prefixes and splits
	for _, layout := range []Layout{PreOrder, PostOrder} {
		for round := range 50 {
			tr := newTrie()
			want := map[string][]indexValue{}
			for range rng.IntN(40) {
				var k strings.Builder
				for range rng.IntN(8) {
					k.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
				key := k.String()
				v := indexValue{uint32(rng.IntN(4)), fmt.Sprintf("v%d", rng.IntN(100))}
				if err := tr.insert(key, v.value, v.priority); err != nil {
					t.Fatal(err)
				}
				// Expected order: by priority, newest first among equals.
				vals := want[key]
				pos := 0
				for pos < len(vals) && vals[pos].priority < v.priority {
					pos++
				}
				want[key] = slices.Insert(vals, pos, v)
			}
			b := tr.bytes(layout)
			for key, vals := range want {
				got, err := lookup(b, key)
				if err != nil {
					t.Fatalf("layout %d round %d key %q: %v", layout, round, key, err)
				}
				if !slices.Equal(got, vals) {
					t.Fatalf("layout %d round %d key %q: got %v, want %v", layout, round, key, got, vals)
				}
				if _, ok := want[key+"q"]; !ok {
					if got, _ := lookup(b, key+"q"); got != nil {
						t.Fatalf("absent key %q found: %v", key+"q", got)
					}
				}
			}
		}
	}
}

func TestIndexRejectsNonASCII(t *testing.T) {
	tr := newTrie()
	if err := tr.insert("caf\xc3\xa9", "x", 0); err == nil || !strings.Contains(err.Error(), "7-bit ASCII") {
		t.Fatalf("got %v, want a 7-bit ASCII error", err)
	}
	if err := tr.insert("cafe", "\x80", 0); err == nil {
		t.Fatal("non-ASCII value accepted")
	}
}

func FuzzIndex(f *testing.F) {
	f.Add("pci:v00001AF4d*", "virtio_pci", "pci:v00001AF4d00001001*", "virtio_blk")
	f.Add("", "", "a", "b")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		tr := newTrie()
		err1 := tr.insert(k1, v1, 1)
		err2 := tr.insert(k2, v2, 0)
		for _, layout := range []Layout{PreOrder, PostOrder} {
			b := tr.bytes(layout)
			if err1 == nil && k1 != k2 {
				got, err := lookup(b, k1)
				if err != nil || len(got) != 1 || got[0].value != v1 {
					t.Fatalf("lookup %q: %v %v", k1, got, err)
				}
			}
			if err2 == nil {
				got, err := lookup(b, k2)
				if err != nil || len(got) == 0 || got[0].value != v2 {
					t.Fatalf("lookup %q: %v %v", k2, got, err)
				}
			}
		}
	})
}

func TestSuperFastHashBuckets(t *testing.T) {
	// The hash must spread names: a constant or broken hash would put
	// everything in one bucket and still "sort".
	seen := map[uint32]bool{}
	for i := range 1000 {
		seen[superFastHash(fmt.Sprintf("symbol_%d", i))&2047] = true
	}
	if len(seen) < 300 {
		t.Fatalf("1000 names fell into only %d of 2048 buckets", len(seen))
	}
}
