package xz

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

const dictMax = 128 << 20

// xzMembers returns the xz members of the archive's packages (all, or the
// first n when n > 0), read with a minimal ar walk: the archive is trusted.
func xzMembers(t testing.TB, n int) (names []string, members [][]byte) {
	debs, err := filepath.Glob(filepath.Join(testenv.Archive(t), "pool", "*", "*", "*", "*.deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no .debs: %v", err)
	}
	for _, d := range debs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		b = b[8:]
		for len(b) >= 60 {
			name := strings.TrimSpace(string(b[:16]))
			size, _ := strconv.Atoi(strings.TrimSpace(string(b[48:58])))
			if strings.HasSuffix(name, ".xz") {
				names = append(names, filepath.Base(d)+":"+name)
				members = append(members, b[60:60+size])
			}
			b = b[min(len(b), 60+size+size%2):]
		}
		if n > 0 && len(members) >= n {
			break
		}
	}
	return names, members
}

func readAll(b []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(b), dictMax)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// decode decodes b with a fresh Reader through Read and through
// DecodeAll, and fails t unless both give the same bytes or both fail.
func decode(t testing.TB, b []byte) ([]byte, error) {
	t.Helper()
	got, err := readAll(b)
	z, _ := NewReader(nil, dictMax)
	prefix := []byte("prefix")
	all, errAll := z.DecodeAll(b, bytes.Clone(prefix))
	if (err == nil) != (errAll == nil) {
		t.Fatalf("Read: %v; DecodeAll: %v", err, errAll)
	}
	if !bytes.HasPrefix(all, prefix) {
		t.Fatalf("DecodeAll lost dst's bytes: %q", all[:min(len(all), 10)])
	}
	if err == nil && !bytes.Equal(got, all[len(prefix):]) {
		t.Fatalf("Read gives %d bytes, DecodeAll %d different ones", len(got), len(all)-len(prefix))
	}
	if errAll != nil && len(all) != len(prefix) {
		t.Fatalf("DecodeAll failed (%v) but returned %d bytes", errAll, len(all))
	}
	return got, err
}

// TestArchiveAgainstXzUtils decodes every xz member of the frozen archive
// and compares the output with xz-utils'.
func TestArchiveAgainstXzUtils(t *testing.T) {
	xzTool := testenv.Tool(t, "xz")
	n := 0
	if testing.Short() {
		n = 20
	}
	names, members := xzMembers(t, n)
	for i, m := range members {
		got, err := decode(t, m)
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		cmd := exec.Command(xzTool, "-dc")
		cmd.Stdin = bytes.NewReader(m)
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: xz -dc: %v", names[i], err)
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Fatalf("%s: %d bytes decoded, xz-utils gives %d different ones", names[i], len(got), len(want))
		}
	}
}

// BenchmarkArchive decodes every xz member of the frozen archive; its
// MB/s is of decompressed output.
func BenchmarkArchive(b *testing.B) {
	_, members := xzMembers(b, 0)
	var total int64
	for _, m := range members {
		out, err := readAll(m)
		if err != nil {
			b.Fatal(err)
		}
		total += int64(len(out))
	}
	b.SetBytes(total)
	b.ResetTimer()
	c0 := cpuTime()
	defer func() {
		// CPU time, unlike wall time, does not depend on what else
		// the machine is running.
		cpu := cpuTime() - c0
		b.ReportMetric(float64(total)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
	}()
	for i := 0; i < b.N; i++ {
		for _, m := range members {
			r, err := NewReader(bytes.NewReader(m), dictMax)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
