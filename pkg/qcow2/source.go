package qcow2

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
)

// Source is a raw disk image.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Extent is a byte range of a source.
type Extent struct {
	Offset, Length int64
}

// SparseSource is a Source that knows where its data is. Everything
// outside the extents DataExtents returns reads as zeros and is not read.
type SparseSource interface {
	Source
	// DataExtents returns the ranges that may hold non-zero bytes.
	DataExtents(ctx context.Context) ([]Extent, error)
}

// RawSource wraps a ReaderAt of known size, such as a bytes.Reader.
func RawSource(r io.ReaderAt, size int64) Source { return rawSource{r, size} }

type rawSource struct {
	io.ReaderAt
	size int64
}

func (s rawSource) Size() int64 { return s.size }

// FileSource returns f as a SparseSource. On Linux its extents come from
// SEEK_DATA/SEEK_HOLE, so the holes of a sparse image are never read;
// elsewhere the whole file is one extent.
func FileSource(f *os.File) (SparseSource, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	return fileSource{f: f, size: st.Size()}, nil
}

type fileSource struct {
	f    *os.File
	size int64
}

func (s fileSource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s fileSource) Size() int64                             { return s.size }
func (s fileSource) DataExtents(ctx context.Context) ([]Extent, error) {
	ext, err := dataExtents(ctx, s.f, s.size)
	if err != nil {
		return nil, fmt.Errorf("qcow2: finding the data in %s: %w", s.f.Name(), err)
	}
	return ext, nil
}

// dataClusters turns extents into the sorted, distinct indexes of the
// clusters they touch.
func dataClusters(ext []Extent, size, clusterSize int64) ([]int64, error) {
	ext = append([]Extent(nil), ext...)
	sort.Slice(ext, func(i, j int) bool { return ext[i].Offset < ext[j].Offset })
	var out []int64
	for _, e := range ext {
		if e.Offset < 0 || e.Length < 0 || e.Offset+e.Length > size {
			return nil, fmt.Errorf("extent %d+%d is outside the %d-byte source", e.Offset, e.Length, size)
		}
		if e.Length == 0 {
			continue
		}
		first, last := e.Offset/clusterSize, (e.Offset+e.Length-1)/clusterSize
		if n := len(out); n > 0 && out[n-1] >= first {
			first = out[n-1] + 1
		}
		for c := first; c <= last; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}
