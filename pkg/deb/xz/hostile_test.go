package xz

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	uxz "github.com/ulikunitz/xz"
)

// sample is compressible text with long and short repeats.
func sample(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over the lazy dog usr lib x86_64-linux-gnu share doc")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(" \n"[rng.IntN(2)])
	}
	return b.Bytes()[:n]
}

func compress(t testing.TB, data []byte, check byte, blockSize int64) []byte {
	t.Helper()
	var out bytes.Buffer
	c := uxz.WriterConfig{CheckSum: check, BlockSize: blockSize}
	w, err := c.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestChecksAndBlocks decodes streams written by another encoder with
// each check type and with many small blocks.
func TestChecksAndBlocks(t *testing.T) {
	data := sample(300_000)
	for _, tt := range []struct {
		name  string
		check byte
		block int64
	}{
		{"none", uxz.None, 0}, {"crc32", uxz.CRC32, 0}, {"crc64", uxz.CRC64, 0}, {"sha256", uxz.SHA256, 0},
		{"many blocks", uxz.CRC64, 10_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, compress(t, data, tt.check, tt.block))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("decoded %d bytes, differ from the %d written", len(got), len(data))
			}
		})
	}
}

// TestXzUtilsShapes decodes what xz-utils writes for incompressible data
// (uncompressed LZMA2 chunks), empty input, several presets, and
// concatenated streams with padding.
func TestXzUtilsShapes(t *testing.T) {
	xzTool := testenv.Tool(t, "xz")
	run := func(in []byte, args ...string) []byte {
		cmd := exec.Command(xzTool, args...)
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", args, err)
		}
		return out
	}
	random := make([]byte, 200_000)
	cc := rand.NewChaCha8([32]byte{3, 4})
	cc.Read(random)
	text := sample(500_000)
	mixed := append(append(bytes.Clone(text[:100_000]), random[:100_000]...), text[100_000:]...)
	for _, tt := range []struct {
		name string
		data []byte
		args []string
	}{
		{"empty", nil, []string{"-c"}},
		{"random", random, []string{"-c"}},
		{"mixed -9e", mixed, []string{"-c", "-9e"}},
		{"-0 crc32", text, []string{"-c", "-0", "--check=crc32"}},
		{"sha256", text, []string{"-c", "--check=sha256"}},
		{"blocks", text, []string{"-c", "--block-size=50000"}},
		{"lc4 lp0 pb0", text, []string{"-c", "--lzma2=preset=6,lc=4,lp=0,pb=0"}},
		{"lc0 lp4 pb4", text, []string{"-c", "--lzma2=preset=6,lc=0,lp=4,pb=4"}},
		{"small dict", text, []string{"-c", "--lzma2=dict=4KiB"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(t, run(tt.data, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Fatalf("decoded %d bytes, differ from the %d compressed", len(got), len(tt.data))
			}
		})
	}
	a, b := run(text[:1000], "-c"), run(random[:1000], "-c")
	multi := append(append(append(bytes.Clone(a), 0, 0, 0, 0), b...), 0, 0, 0, 0, 0, 0, 0, 0)
	got, err := decode(t, multi)
	if err != nil || !bytes.Equal(got, append(bytes.Clone(text[:1000]), random[:1000]...)) {
		t.Fatalf("concatenated streams: %d bytes, %v", len(got), err)
	}
	if _, err := decode(t, append(bytes.Clone(a), 0, 0)); err == nil {
		t.Error("stream padding of 2 bytes accepted")
	}
	// A BCJ filter chain is valid xz that this decoder does not handle.
	if _, err := decode(t, run(text[:1000], "-c", "--x86", "--lzma2")); err == nil || !strings.Contains(err.Error(), "unsupported filter chain") {
		t.Errorf("BCJ stream: %v", err)
	}
}

// TestEveryCorruption flips each byte of a small multi-block stream in
// turn, and truncates it at each length: every variant must fail with an
// error, none may panic or pass, since every byte is under a check.
func TestEveryCorruption(t *testing.T) {
	data := sample(20_000)
	good := compress(t, data, uxz.CRC32, 6000)
	if got, err := decode(t, good); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("baseline: %v", err)
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x55
		if got, err := decode(t, bad); err == nil {
			t.Fatalf("byte %d corrupted: no error (decoded %d bytes, same: %v)", i, len(got), bytes.Equal(got, data))
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := decode(t, good[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(good))
		}
	}
}

func TestDictLimit(t *testing.T) {
	b := compress(t, sample(1000), uxz.CRC32, 0) // 8 MiB dictionary
	r, err := NewReader(bytes.NewReader(b), 1<<20)
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil || !strings.Contains(err.Error(), "over the 1048576-byte limit") {
		t.Fatalf("error = %v", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(compress(f, sample(5000), uxz.CRC32, 2000))
	f.Add(compress(f, sample(300), uxz.CRC64, 0))
	f.Add(compress(f, nil, uxz.None, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(r, 64<<20))
	})
}
