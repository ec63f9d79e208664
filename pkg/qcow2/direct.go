package qcow2

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
)

// File is what Create writes an image into: positional writes, which may
// come from several goroutines at once, and a length that can be set.
// *os.File is one.
type File interface {
	io.WriterAt
	Truncate(size int64) error
}

// Writer is a qcow2 image written in place, for image writers that know
// before writing which parts of the disk they will fill (a file system
// whose layout is planned first). Create lays out and writes all the
// metadata at once, with every data cluster allocated in guest order;
// WriteAt then puts guest bytes straight at their host offset. Nothing is
// staged in a raw image, read back or scanned for zeros, and the same data
// extents always give the same layout, whatever order the writes come in.
//
// A data cluster that is never written reads as zeros: its host range is
// left a hole of the file. Unlike Write, a planned cluster that turns out
// to be all zeros stays allocated, so the extents should be close to what
// is really written.
type Writer struct {
	f     File
	l     *layout
	guest []int64 // the planned guest clusters, ascending; guest[i] is at host cluster dataStart+i
	end   int64   // length of the finished file
}

// Create writes the metadata of an image of size bytes whose non-zero
// bytes all lie in data (byte ranges of the guest, in any order,
// overlapping or not) into f, which must be empty, and returns a Writer
// for the guest bytes. opts.Compress is not supported: compressed sizes
// are not known before the data is. Close must be called when all data
// has been written.
func Create(f File, size int64, data []Extent, opts Options) (*Writer, error) {
	if opts.Compress {
		return nil, errors.New("qcow2: an image written in place cannot be compressed")
	}
	bits := opts.ClusterBits
	if bits == 0 {
		bits = defaultBits
	}
	if bits < minClusterBits || bits > maxClusterBits {
		return nil, fmt.Errorf("qcow2: cluster bits %d outside %d–%d", bits, minClusterBits, maxClusterBits)
	}
	if size < 0 {
		return nil, fmt.Errorf("qcow2: size %d is negative", size)
	}
	// As in Write: QEMU sees whole sectors only.
	p := &plan{size: (size + sectorSize - 1) / sectorSize * sectorSize, clusterBits: uint(bits), clusterSize: 1 << bits}
	guest, err := dataClusters(data, size, p.clusterSize)
	if err != nil {
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	p.guest = guest
	p.compLen = make([]int32, len(guest))
	p.raw = int64(len(guest))
	l, err := p.layout()
	if err != nil {
		return nil, fmt.Errorf("qcow2: %w", err)
	}
	cw := &countingWriter{w: io.NewOffsetWriter(f, 0)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if err := l.writeMetadata(bw); err != nil {
		return nil, fmt.Errorf("qcow2: writing metadata: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("qcow2: writing metadata: %w", err)
	}
	w := &Writer{f: f, l: l, guest: guest, end: cw.n}
	if len(guest) > 0 {
		w.end = (l.dataStart() + p.raw) * p.clusterSize
	}
	return w, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Size returns the virtual size of the image.
func (w *Writer) Size() int64 { return w.l.size }

// WriteAt writes p at guest offset off. Every non-zero byte must lie in
// the extents given to Create; zeros elsewhere are accepted and dropped,
// since unallocated clusters read as zeros. It is safe to call from
// several goroutines at once if f's WriteAt is (an *os.File's is).
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > w.l.size {
		return 0, fmt.Errorf("qcow2: write of %d bytes at %d is outside the %d-byte disk", len(p), off, w.l.size)
	}
	cs := w.l.clusterSize
	done := 0
	i := sort.Search(len(w.guest), func(i int) bool { return w.guest[i] >= off/cs })
	for done < len(p) {
		pos := off + int64(done)
		g := pos / cs
		if i < len(w.guest) && w.guest[i] < g {
			i++
		}
		if i >= len(w.guest) || w.guest[i] != g {
			// Not allocated: only zeros may go here.
			n := min(int64(len(p)-done), (g+1)*cs-pos)
			if !allZero(p[done : done+int(n)]) {
				return done, fmt.Errorf("qcow2: data written at guest offset %d, outside the extents the image was created with", pos)
			}
			done += int(n)
			continue
		}
		// A run of guest clusters that are consecutive in the plan is
		// consecutive on the host too: one write.
		j := i
		for j+1 < len(w.guest) && w.guest[j+1] == w.guest[j]+1 && (w.guest[j]+1)*cs < off+int64(len(p)) {
			j++
		}
		n := min(int64(len(p)-done), (w.guest[j]+1)*cs-pos)
		host := (w.l.dataStart()+int64(i))*cs + pos%cs
		k, err := w.f.WriteAt(p[done:done+int(n)], host)
		done += k
		if err != nil {
			return done, fmt.Errorf("qcow2: writing guest offset %d: %w", pos, err)
		}
		i = j
	}
	return done, nil
}

// Close gives the file its full length, so that data clusters never
// written read as zeros. It does not close f.
func (w *Writer) Close() error {
	if err := w.f.Truncate(w.end); err != nil {
		return fmt.Errorf("qcow2: %w", err)
	}
	return nil
}

// zeros is compared against, never written to.
var zeros [64 << 10]byte

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}
