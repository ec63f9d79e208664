package ext4

import (
	"context"
	"fmt"
	"sort"
	"testing"
)

// rangeChecker is a memImage that refuses writes outside ranges.
type rangeChecker struct {
	*memImage
	ranges []ByteRange
}

func (r *rangeChecker) WriteAt(p []byte, off int64) (int, error) {
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].Offset+r.ranges[i].Length > off })
	if i == len(r.ranges) || r.ranges[i].Offset > off || off+int64(len(p)) > r.ranges[i].Offset+r.ranges[i].Length {
		return 0, fmt.Errorf("write of %d bytes at block %d (+%d) is outside the data ranges", len(p), off/blockSize, off%blockSize)
	}
	return r.memImage.WriteAt(p, off)
}

func inRanges(rs []ByteRange, blk uint64) bool {
	off := int64(blk) * blockSize
	for _, r := range rs {
		if off >= r.Offset && off < r.Offset+r.Length {
			return true
		}
	}
	return false
}

// TestDataRanges: every write lands inside the ranges, which are sorted,
// disjoint, whole blocks, and leave out what is never written (the
// journal's body, the unused part of the inode tables).
func TestDataRanges(t *testing.T) {
	for _, huge := range []bool{false, true} {
		t.Run(fmt.Sprintf("huge=%v", huge), func(t *testing.T) {
			s := buildSynthetic(t, testOptions(), huge)
			l, err := s.b.Plan()
			if err != nil {
				t.Fatal(err)
			}
			rs := l.DataRanges()
			var total int64
			for i, r := range rs {
				if r.Offset%blockSize != 0 || r.Length%blockSize != 0 || r.Length <= 0 || r.Offset+r.Length > l.Size() {
					t.Fatalf("range %d: %+v is not whole blocks inside the %d-byte image", i, r, l.Size())
				}
				if i > 0 && rs[i-1].Offset+rs[i-1].Length >= r.Offset {
					t.Fatalf("ranges %d and %d overlap or touch: %+v %+v", i-1, i, rs[i-1], r)
				}
				total += r.Length
			}
			rc := &rangeChecker{newMemImage(), rs}
			if err := l.Write(context.Background(), rc); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d ranges, %d MiB of a %d MiB image; %d MiB written", len(rs), total>>20, l.Size()>>20, rc.writes>>20)

			im := l.im
			if inRanges(rs, im.journal[0].phys+1) {
				t.Error("the journal's second block is in the ranges; only its superblock is written")
			}
			last := uint64(im.maxIno-1) * inodeSize / blockSize
			if !inRanges(rs, im.itable[0]+last) || inRanges(rs, im.itable[0]+last+1) {
				t.Errorf("the ranges do not end group 0's inode table after inode %d", im.maxIno)
			}

			// The same bytes as Builder.Write.
			want := newMemImage()
			if _, err := s.b.Write(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			if want.digest() != rc.digest() {
				t.Error("Layout.Write and Builder.Write wrote different images")
			}
		})
	}
}

// TestSetSize: planning a Builder again after SetSize gives the image a
// Builder made with that size gives.
func TestSetSize(t *testing.T) {
	s := buildSynthetic(t, testOptions(), false)
	l, err := s.b.Plan()
	if err != nil {
		t.Fatal(err)
	}
	size := l.Size() + 256<<20
	s.b.SetSize(size)
	if l, err = s.b.Plan(); err != nil {
		t.Fatal(err)
	}
	if l.Size() != size {
		t.Fatalf("size %d after SetSize(%d)", l.Size(), size)
	}
	got := newMemImage()
	if err := l.Write(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.Size = size
	want := newMemImage()
	if _, err := buildSynthetic(t, opts, false).b.Write(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if got.digest() != want.digest() {
		t.Error("SetSize then Plan differs from a Builder made with that size")
	}
}
