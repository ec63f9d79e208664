package vfat

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// rangeChecked refuses writes outside its ranges.
type rangeChecked struct {
	mem
	ranges []ByteRange
}

func (r rangeChecked) WriteAt(p []byte, off int64) (int, error) {
	for _, rg := range r.ranges {
		if off >= rg.Offset && off+int64(len(p)) <= rg.Offset+rg.Length {
			return r.mem.WriteAt(p, off)
		}
	}
	return 0, fmt.Errorf("write of %d bytes at %d is outside the data ranges %v", len(p), off, r.ranges)
}

// TestDataRanges: the ranges hold every write (and so every non-zero
// byte), Layout.Write writes what Write does, and the ranges end where
// the data ends rather than covering the whole partition.
func TestDataRanges(t *testing.T) {
	l, err := Plan(context.Background(), espTree(), espOpts)
	if err != nil {
		t.Fatal(err)
	}
	rs := l.DataRanges()
	got := rangeChecked{make(mem, espOpts.Size), rs}
	if err := l.Write(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	want := make(mem, espOpts.Size)
	if err := Write(context.Background(), want, espTree(), espOpts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.mem, want) {
		t.Error("Layout.Write and Write wrote different images")
	}
	var total int64
	for i, r := range rs {
		if i > 0 && r.Offset < rs[i-1].Offset+rs[i-1].Length {
			t.Errorf("range %d %+v overlaps or precedes the one before", i, r)
		}
		total += r.Length
	}
	last := rs[len(rs)-1]
	end := last.Offset + last.Length
	if tail := bytes.TrimRight(want, "\x00"); int64(len(tail)) > end || int64(len(tail)) <= end-l.g.clusterSize() {
		t.Errorf("the data ends at %d, the ranges at %d", len(tail), end)
	}
	t.Logf("%d bytes in %d ranges of a %d-byte file system", total, len(rs), espOpts.Size)
}
