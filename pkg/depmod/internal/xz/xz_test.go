package xz

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	ulikunitz "github.com/ulikunitz/xz"
)

// compress runs the real xz with the given options.
func compress(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "xz"), append([]string{"-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

func sampleData() [][]byte {
	rng := rand.New(rand.NewPCG(7, 9))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var text bytes.Buffer
	for i := range 20000 {
		text.WriteString("alias pci:v00001AF4d0000100")
		text.WriteByte(byte('0' + i%10))
		text.WriteString("sv*sd*bc*sc*i* virtio_pci\n")
	}
	// Mostly repetitive with random spans: exercises matches, reps and
	// literals after matches, plus uncompressed chunks for the random part.
	mixed := append(append(bytes.Clone(text.Bytes()[:100000]), random[:70000]...), text.Bytes()[5000:90000]...)
	return [][]byte{{}, []byte("a"), text.Bytes(), random, mixed}
}

func TestMatchesXZ(t *testing.T) {
	for i, data := range sampleData() {
		for _, args := range [][]string{
			{"--check=crc32", "--lzma2=dict=1MiB"}, // what the kernel build uses
			{"--check=crc64", "-6"},
			{"--check=sha256", "-1"},
			{"--check=none", "--lzma2=preset=9,lc=0,lp=2,pb=0"},
			{"--check=crc32", "--lzma2=preset=6,lc=4"},
			{"--check=crc32", "--block-size=100000", "-T2"}, // several blocks, as big modules have
		} {
			comp := compress(t, data, args...)
			got, err := Decode(comp, 1<<30)
			if len(data) == 0 && errors.Is(err, ErrUnsupported) {
				continue // xz writes no block for empty input
			}
			if err != nil {
				t.Fatalf("sample %d, xz %v: %v", i, args, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("sample %d, xz %v: output differs", i, args)
			}
		}
	}
}

func TestUnsupportedLayouts(t *testing.T) {
	data := sampleData()[2]
	for _, args := range [][]string{
		{"--x86", "--lzma2"}, // BCJ filter
		{"--format=lzma"},    // not xz at all
	} {
		comp := compress(t, data, args...)
		_, err := Decode(comp, 1<<30)
		if err == nil {
			t.Errorf("xz %v: decoded, want ErrUnsupported or an error", args)
		}
		if args[0] != "--format=lzma" && !errors.Is(err, ErrUnsupported) {
			t.Errorf("xz %v: %v, want ErrUnsupported", args, err)
		}
	}
	// Two concatenated streams must not be cut to the first.
	one := compress(t, []byte("hello"))
	if _, err := Decode(append(bytes.Clone(one), one...), 1<<20); !errors.Is(err, ErrUnsupported) {
		t.Errorf("two streams: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	data := sampleData()[4]
	comp := compress(t, data, "--check=crc32")
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		bad := bytes.Clone(comp)
		bad[12+rng.IntN(len(bad)-12)] ^= byte(1 + rng.IntN(255))
		if got, err := Decode(bad, 1<<30); err == nil && !bytes.Equal(got, data) {
			t.Fatal("corrupt input decoded to wrong output without error")
		}
	}
	for _, n := range []int{0, 10, 30, len(comp) / 2, len(comp) - 1} {
		if _, err := Decode(comp[:n], 1<<30); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := Decode(comp, 1000); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("size limit: %v", err)
	}
}

// TestKernelModules decodes every module of the cloud kernel and compares
// with the general decoder.
func TestKernelModules(t *testing.T) {
	archive := testenv.Archive(t)
	debs, _ := filepath.Glob(filepath.Join(archive, "pool/main/l/linux-signed-amd64/linux-image-[0-9]*-cloud-amd64_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("cloud kernel: %v", debs)
	}
	root := t.TempDir()
	if out, err := exec.Command(testenv.Tool(t, "dpkg-deb"), "-x", debs[0], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, out)
	}
	n := 0
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(p, ".ko.xz") {
			return err
		}
		comp, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(comp, 1<<30)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		r, err := ulikunitz.NewReader(bytes.NewReader(comp))
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: output differs from ulikunitz/xz", p)
		}
		n++
		return nil
	})
	if n < 1000 {
		t.Fatalf("only %d modules", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(compress(f, []byte("hello hello hello hello"), "--check=crc32"))
	f.Add(compress(f, sampleData()[2][:5000], "-1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Decode(in, 1<<20)
		if err != nil {
			return
		}
		// Whatever we accept, the reference decoder must accept the same.
		r, rerr := ulikunitz.NewReader(bytes.NewReader(in))
		if rerr != nil {
			t.Fatalf("we decoded what ulikunitz rejects: %v", rerr)
		}
		want, rerr := io.ReadAll(r)
		if rerr != nil || !bytes.Equal(out, want) {
			t.Fatalf("disagreement with ulikunitz: %v", rerr)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := sampleData()[4]
	data = append(data, data...)
	comp := compress(b, data, "--check=crc32", "--lzma2=dict=1MiB")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(comp, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUlikunitz(b *testing.B) {
	data := sampleData()[4]
	data = append(data, data...)
	comp := compress(b, data, "--check=crc32", "--lzma2=dict=1MiB")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := ulikunitz.NewReader(bytes.NewReader(comp))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
