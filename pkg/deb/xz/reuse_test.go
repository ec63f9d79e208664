package xz

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	uxz "github.com/ulikunitz/xz"
)

// reuseCorpus is streams of many shapes, good and bad, in an order that
// makes a reused Reader go from large dictionaries to small ones and
// back, through failures.
func reuseCorpus(t *testing.T) [][]byte {
	text := sample(400_000)
	random := make([]byte, 100_000)
	rand.NewChaCha8([32]byte{5}).Read(random)
	var c [][]byte
	c = append(c,
		compress(t, text, uxz.CRC64, 0),
		compress(t, text[:5000], uxz.CRC32, 1000),
		compress(t, nil, uxz.None, 0),
		compress(t, text[:100_000], uxz.SHA256, 30_000),
	)
	xzTool := testenv.Tool(t, "xz")
	for _, args := range [][]string{
		{"-c", "--lzma2=dict=4KiB"},
		{"-c", "-9e", "--check=crc32"},
		{"-c", "--lzma2=preset=6,lc=0,lp=4,pb=4"},
		{"-c", "-0"},
	} {
		for _, in := range [][]byte{append(bytes.Clone(text[:200_000]), random...), text[:300]} {
			cmd := exec.Command(xzTool, args...)
			cmd.Stdin = bytes.NewReader(in)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("xz %v: %v", args, err)
			}
			c = append(c, out)
		}
	}
	_, members := xzMembers(t, 6)
	c = append(c, members...)
	// Every third stream is damaged: cut short, or a byte flipped in its
	// middle (caught by a CRC, the range coder or a size check).
	n := len(c)
	for i := 0; i < n; i += 3 {
		bad := bytes.Clone(c[i])
		if i%2 == 0 {
			bad = bad[:len(bad)*2/3]
		} else {
			bad[len(bad)/2] ^= 0x40
		}
		c = append(c[:i+1], append([][]byte{bad}, c[i+1:]...)...)
		n++
		i++
	}
	return c
}

// TestReuse decodes many streams with one Reader, alternating Reset and
// DecodeAll, and checks each against a fresh Reader: same bytes, or an
// error from both.
func TestReuse(t *testing.T) {
	corpus := reuseCorpus(t)
	z, err := NewReader(nil, dictMax)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Read(make([]byte, 10)); err == nil {
		t.Fatal("Read with no input succeeded")
	}
	var dst []byte
	failed := 0
	for round := range 2 {
		for i, s := range corpus {
			want, wantErr := readAll(s)
			var got []byte
			var err error
			if (i+round)%2 == 0 {
				if err = z.Reset(bytes.NewReader(s)); err == nil {
					got, err = io.ReadAll(z)
				}
			} else {
				dst, err = z.DecodeAll(s, dst[:0])
				got = dst
			}
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("stream %d: reused Reader: %v, fresh Reader: %v", i, err, wantErr)
			}
			if err != nil {
				failed++
				continue
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("stream %d (round %d): reused Reader gives %d bytes, fresh Reader %d different ones", i, round, len(got), len(want))
			}
		}
	}
	if failed == 0 || failed == 2*len(corpus) {
		t.Fatalf("%d of %d streams failed: the corpus does not mix good and bad", failed, 2*len(corpus))
	}
}

// TestDecodeAllLeavesDst checks that DecodeAll appends after dst's bytes
// and, on failure, returns dst's length unchanged.
func TestDecodeAllLeavesDst(t *testing.T) {
	data := sample(70_000)
	s := compress(t, data, uxz.CRC32, 0)
	z, _ := NewReader(nil, dictMax)
	dst := append(make([]byte, 0, 10), "abc"...)
	out, err := z.DecodeAll(s, dst)
	if err != nil || !bytes.Equal(out, append([]byte("abc"), data...)) {
		t.Fatalf("DecodeAll: %d bytes, %v", len(out), err)
	}
	out, err = z.DecodeAll(s[:len(s)-1], dst)
	if err == nil || string(out) != "abc" {
		t.Fatalf("truncated: %q, %v", out[:min(len(out), 10)], err)
	}
	// The limit on dictionaries holds for DecodeAll too.
	small, _ := NewReader(nil, 1<<20)
	if _, err := small.DecodeAll(s, nil); err == nil {
		t.Fatal("8 MiB dictionary accepted under a 1 MiB limit")
	}
}

// FuzzDecodeAll runs DecodeAll, which reads its input in place, on
// arbitrary input with a Reader reused across inputs, and compares it
// with a fresh Reader's Read.
func FuzzDecodeAll(f *testing.F) {
	f.Add(compress(f, sample(5000), uxz.CRC32, 2000))
	f.Add(compress(f, sample(300), uxz.CRC64, 0))
	f.Add(compress(f, nil, uxz.None, 0))
	z, _ := NewReader(nil, 1<<20)
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 64 << 20
		var want []byte
		r, wantErr := NewReader(bytes.NewReader(b), 1<<20)
		if wantErr == nil {
			want, wantErr = io.ReadAll(io.LimitReader(r, limit+1))
			if len(want) > limit {
				return // DecodeAll has no limit; do not exhaust memory
			}
			if wantErr == nil {
				_, wantErr = r.Read(make([]byte, 1))
				if wantErr == io.EOF {
					wantErr = nil
				}
			}
		}
		got, err := z.DecodeAll(b, nil)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("DecodeAll: %v; Read: %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("DecodeAll gives %d bytes, Read %d different ones", len(got), len(want))
		}
	})
}

// TestSizeHint reads the uncompressed size from the index at the end of
// a stream, and nothing from input that does not end in one.
func TestSizeHint(t *testing.T) {
	data := sample(100_000)
	if got := sizeHint(compress(t, data, uxz.CRC32, 30_000)); got != int64(len(data)) {
		t.Errorf("four blocks: hint %d, want %d", got, len(data))
	}
	s := compress(t, data, uxz.CRC64, 0)
	for _, bad := range [][]byte{nil, s[:len(s)-1], append(bytes.Clone(s), 0, 0, 0, 0), s[len(s)-12:]} {
		if got := sizeHint(bad); got != 0 {
			t.Errorf("%d bytes: hint %d", len(bad), got)
		}
	}
}

// TestDecodeAllAllocations checks that DecodeAll into a slice with room
// allocates nothing, and into nil allocates the output once.
func TestDecodeAllAllocations(t *testing.T) {
	data := sample(500_000)
	s := compress(t, data, uxz.CRC32, 0)
	z, _ := NewReader(nil, dictMax)
	out, err := z.DecodeAll(s, nil)
	if err != nil || !bytes.Equal(out, data) {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(5, func() { out, err = z.DecodeAll(s, out[:0]) }); n != 0 || err != nil {
		t.Errorf("%v allocations decoding into a slice with room (%v)", n, err)
	}
	if n := testing.AllocsPerRun(5, func() { out, err = z.DecodeAll(s, nil) }); n != 1 || err != nil {
		t.Errorf("%v allocations decoding into nil, want 1 (%v)", n, err)
	}
}
