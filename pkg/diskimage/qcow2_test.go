package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/qcow2"
)

func fileSHA(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestQcow2: the qcow2 written in place holds the raw disk's bytes, is
// the same file every time (also from a second New), QEMU finds nothing
// wrong with it, and the compressed (converted) image holds the same disk.
// DataRanges covers every non-zero byte of the raw disk.
func TestQcow2(t *testing.T) {
	ctx := context.Background()
	repo, commit := testCommit(t, true)
	img, err := New(ctx, repo, commit, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	if err := img.WriteRaw(ctx, raw); err != nil {
		t.Fatal(err)
	}
	rawBytes, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}

	// The non-zero bytes of every sector of the raw disk are in a data
	// range.
	rs := img.DataRanges()
	for off := int64(0); off < int64(len(rawBytes)); off += 512 {
		sec := rawBytes[off : off+512]
		zeros := len(sec) - len(bytes.TrimLeft(sec, "\x00"))
		if zeros == len(sec) {
			continue
		}
		first := int64(zeros)
		last := int64(len(bytes.TrimRight(sec, "\x00"))) - 1
		in := false
		for _, r := range rs {
			if off+first >= r.Offset && off+last < r.Offset+r.Length {
				in = true
				break
			}
		}
		if !in {
			t.Fatalf("non-zero bytes %d–%d are outside the data ranges", off+first, off+last)
		}
	}

	qc := filepath.Join(dir, "disk.qcow2")
	if err := img.WriteQcow2(ctx, qc, false); err != nil {
		t.Fatal(err)
	}
	readGuest := func(p string) []byte {
		t.Helper()
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		q, err := qcow2.Open(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		if q.Size() != img.Size {
			t.Fatalf("%s: virtual size %d, want %d", p, q.Size(), img.Size)
		}
		b := make([]byte, q.Size())
		if _, err := q.ReadAt(b, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(readGuest(qc), rawBytes) {
		t.Error("the qcow2 image's disk differs from the raw image")
	}

	img2, err := New(ctx, repo, commit, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again.qcow2")
	if err := img2.WriteQcow2(ctx, again, false); err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, qc) != fileSHA(t, again) {
		t.Error("two qcow2 images of one commit differ")
	}

	comp := filepath.Join(dir, "compressed.qcow2")
	if err := img.WriteQcow2(ctx, comp, true); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readGuest(comp), rawBytes) {
		t.Error("the compressed qcow2 image's disk differs from the raw image")
	}

	qemuImg := testenv.Tool(t, "qemu-img")
	for _, p := range []string{qc, comp} {
		out, err := exec.Command(qemuImg, "check", p).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No errors were found") || strings.Contains(string(out), "leak") {
			t.Errorf("qemu-img check %s: %v\n%s", filepath.Base(p), err, out)
		}
		if out, err := exec.Command(qemuImg, "compare", "-f", "raw", "-F", "qcow2", raw, p).CombinedOutput(); err != nil {
			t.Errorf("qemu-img compare %s: %v\n%s", filepath.Base(p), err, out)
		}
	}
}
