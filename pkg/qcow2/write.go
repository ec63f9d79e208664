// Package qcow2 writes and reads qcow2 version 3 disk images, the format
// of QEMU's docs/interop/qcow2.txt.
//
// The writer converts a raw image in one sequential pass over its output,
// so it can write to a pipe or an HTTP upload as well as to a file. It
// first reads the source to learn which clusters hold data (and, with
// compression, how large each becomes), then writes the header, the L1
// table, the refcount table and blocks, the L2 tables, and the data
// clusters, in that order. All-zero clusters are left unallocated. The
// output depends only on the source's bytes and the options.
//
// Create is the other writer, for an image whose data is known to lie in
// given ranges before it is written (a disk of planned file systems): it
// lays the same structures out from the ranges and then takes the data
// as positional writes, in any order, straight into place.
package qcow2

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

const (
	magic          = "QFI\xfb"
	version        = 3
	headerLength   = 112 // v3 fields through compression_type, padded to 8
	refcountOrder  = 4   // 16-bit refcounts, what QEMU uses
	refcountBits   = 1 << refcountOrder
	l2Copied       = 1 << 63
	l2Compressed   = 1 << 62
	offsetMask     = 0x00FFFFFFFFFFFE00 // bits 9–55
	sectorSize     = 512
	defaultBits    = 16
	minClusterBits = 9
	maxClusterBits = 21 // QEMU's limit: 2 MiB
	// compressWindow is the deflate window QEMU uses for qcow2 (zlib
	// windowBits -12): its decompressor is not obliged to accept
	// back-references further than 4 KiB.
	compressWindow = 4096
	batchClusters  = 64
)

// Options control the layout of the image. The zero value gives 64 KiB
// clusters without compression, as `qemu-img convert -O qcow2` does.
type Options struct {
	ClusterBits int    // log2 of the cluster size, 9–21; 16 if zero
	Compress    bool   // deflate each data cluster, as `qemu-img convert -c`
	TempDir     string // where compressed clusters wait for the metadata; os.TempDir() if empty
	Workers     int    // clusters read and compressed in parallel; GOMAXPROCS if zero
}

// plan is what the first pass learns about the source.
type plan struct {
	size        int64
	clusterBits uint
	clusterSize int64
	guest       []int64 // guest cluster index of each data cluster, ascending
	compLen     []int32 // compressed length, or 0 for a cluster stored raw
	raw         int64   // how many data clusters are stored raw
	compBytes   int64   // total compressed bytes
}

// Write converts src to a qcow2 image written to w.
func Write(ctx context.Context, w io.Writer, src Source, opts Options) error {
	bits := opts.ClusterBits
	if bits == 0 {
		bits = defaultBits
	}
	if bits < minClusterBits || bits > maxClusterBits {
		return fmt.Errorf("qcow2: cluster bits %d outside %d–%d", bits, minClusterBits, maxClusterBits)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// QEMU sizes block devices in whole sectors and would drop a partial
	// last one, so the virtual size is rounded up, as qemu-img convert
	// does; the added bytes read as zeros.
	p := &plan{size: (src.Size() + sectorSize - 1) / sectorSize * sectorSize, clusterBits: uint(bits), clusterSize: 1 << bits}
	if src.Size() < 0 {
		return fmt.Errorf("qcow2: source size %d is negative", src.Size())
	}

	var candidates []int64
	var err error
	if ss, ok := src.(SparseSource); ok {
		ext, err := ss.DataExtents(ctx)
		if err != nil {
			return err
		}
		candidates, err = dataClusters(ext, src.Size(), p.clusterSize)
		if err != nil {
			return fmt.Errorf("qcow2: %w", err)
		}
	} else {
		n := (p.size + p.clusterSize - 1) / p.clusterSize
		candidates = make([]int64, n)
		for i := range candidates {
			candidates[i] = int64(i)
		}
	}

	var spill *os.File
	var spillW *bufio.Writer
	if opts.Compress {
		spill, err = os.CreateTemp(opts.TempDir, "debatom-qcow2-*")
		if err != nil {
			return fmt.Errorf("qcow2: %w", err)
		}
		defer os.Remove(spill.Name())
		defer spill.Close()
		spillW = bufio.NewWriterSize(spill, 1<<20)
	}

	// First pass: find the data clusters and compress them.
	err = p.scan(ctx, src, candidates, workers, opts.Compress, func(guest int64, comp []byte) error {
		p.guest = append(p.guest, guest)
		if comp == nil {
			p.raw++
			p.compLen = append(p.compLen, 0)
			return nil
		}
		p.compLen = append(p.compLen, int32(len(comp)))
		p.compBytes += int64(len(comp))
		_, err := spillW.Write(comp)
		return err
	})
	if err != nil {
		return fmt.Errorf("qcow2: reading the source: %w", err)
	}
	if spillW != nil {
		if err := spillW.Flush(); err != nil {
			return fmt.Errorf("qcow2: %w", err)
		}
	}

	// Second pass: metadata, then data.
	l, err := p.layout()
	if err != nil {
		return fmt.Errorf("qcow2: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := l.writeMetadata(bw); err != nil {
		return fmt.Errorf("qcow2: writing metadata: %w", err)
	}
	buf := make([]byte, p.clusterSize)
	for i, g := range p.guest {
		if p.compLen[i] != 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readCluster(src, g, buf); err != nil {
			return fmt.Errorf("qcow2: reading the source: %w", err)
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("qcow2: writing data: %w", err)
		}
	}
	if spill != nil {
		if _, err := spill.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("qcow2: %w", err)
		}
		if _, err := io.Copy(bw, spill); err != nil {
			return fmt.Errorf("qcow2: writing compressed data: %w", err)
		}
		// Pad to a whole sector: the last compressed cluster's
		// descriptor claims its whole final sector.
		if pad := (sectorSize - p.compBytes%sectorSize) % sectorSize; pad > 0 {
			if _, err := bw.Write(make([]byte, pad)); err != nil {
				return fmt.Errorf("qcow2: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("qcow2: %w", err)
	}
	return nil
}

// readCluster reads guest cluster g into buf, zero-filling past the end of
// the source.
func readCluster(src Source, g int64, buf []byte) error {
	off := g * int64(len(buf))
	n := min(int64(len(buf)), src.Size()-off)
	got, err := src.ReadAt(buf[:n], off)
	if int64(got) == n {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("at offset %d: %w", off, err)
	}
	clear(buf[n:])
	return nil
}

// scan reads the candidate clusters in batches, several workers at a time,
// and calls emit in guest order for each cluster that is not all zeros,
// with its compressed form when compressing (nil if it did not shrink).
func (p *plan) scan(ctx context.Context, src Source, candidates []int64, workers int, compress bool, emit func(int64, []byte) error) error {
	type slot struct {
		buf  []byte
		comp bytes.Buffer
		zero bool
		err  error
	}
	slots := make([]slot, min(batchClusters, len(candidates)))
	for i := range slots {
		slots[i].buf = make([]byte, p.clusterSize)
	}
	zero := make([]byte, p.clusterSize)
	comps := make([]*flate.Writer, workers)
	for i := range comps {
		var err error
		if comps[i], err = flate.NewWriterWindow(io.Discard, compressWindow); err != nil {
			return err
		}
	}

	for start := 0; start < len(candidates); start += len(slots) {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := candidates[start:min(start+len(slots), len(candidates))]
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(batch); i += workers {
					s := &slots[i]
					s.comp.Reset()
					if s.err = readCluster(src, batch[i], s.buf); s.err != nil {
						continue
					}
					if s.zero = bytes.Equal(s.buf, zero); s.zero || !compress {
						continue
					}
					fw := comps[w]
					fw.Reset(&s.comp)
					if _, s.err = fw.Write(s.buf); s.err == nil {
						s.err = fw.Close()
					}
				}
			}()
		}
		wg.Wait()
		for i, g := range batch {
			s := &slots[i]
			if s.err != nil {
				return s.err
			}
			if s.zero {
				continue
			}
			var comp []byte
			// Like QEMU, keep a cluster raw unless compression saves space.
			if compress && int64(s.comp.Len()) < p.clusterSize {
				comp = s.comp.Bytes()
			}
			if err := emit(g, comp); err != nil {
				return err
			}
		}
	}
	return nil
}

// layout places every structure in the output.
type layout struct {
	*plan
	l1Size      int64 // entries
	l1Clusters  int64
	rtClusters  int64   // refcount table
	rbClusters  int64   // refcount blocks
	l2Index     []int64 // L1 index of each L2 table, ascending
	hostCluster int64   // host clusters in all (the last may be partial)
	compStart   int64   // byte offset of the compressed data
}

func (p *plan) layout() (*layout, error) {
	cs := p.clusterSize
	l2Entries := cs / 8
	guestClusters := (p.size + cs - 1) / cs
	l := &layout{plan: p}
	l.l1Size = (guestClusters + l2Entries - 1) / l2Entries
	if l.l1Size > 1<<22 {
		return nil, fmt.Errorf("virtual size %d needs an L1 table over QEMU's 32 MiB limit; use larger clusters", p.size)
	}
	l.l1Clusters = (l.l1Size*8 + cs - 1) / cs
	for _, g := range p.guest {
		if i := g / l2Entries; len(l.l2Index) == 0 || l.l2Index[len(l.l2Index)-1] != i {
			l.l2Index = append(l.l2Index, i)
		}
	}
	compClusters := (p.compBytes + sectorSize - 1) / sectorSize * sectorSize
	compClusters = (compClusters + cs - 1) / cs
	// The refcount structures count themselves: grow them until they
	// cover everything, themselves included.
	refsPerBlock := cs * 8 / refcountBits
	l.rtClusters, l.rbClusters = 1, 1
	for {
		total := 1 + l.l1Clusters + l.rtClusters + l.rbClusters + int64(len(l.l2Index)) + p.raw + compClusters
		rb := (total + refsPerBlock - 1) / refsPerBlock
		rt := (rb*8 + cs - 1) / cs
		if rb <= l.rbClusters && rt <= l.rtClusters {
			l.hostCluster = total
			break
		}
		l.rbClusters, l.rtClusters = max(rb, l.rbClusters), max(rt, l.rtClusters)
	}
	l.compStart = (l.dataStart() + p.raw) * cs
	if l.compStart+p.compBytes >= 1<<56 {
		return nil, errors.New("image would exceed qcow2's 64 PiB host offset limit")
	}
	return l, nil
}

func (l *layout) l1Start() int64   { return 1 }
func (l *layout) rtStart() int64   { return l.l1Start() + l.l1Clusters }
func (l *layout) rbStart() int64   { return l.rtStart() + l.rtClusters }
func (l *layout) l2Start() int64   { return l.rbStart() + l.rbClusters }
func (l *layout) dataStart() int64 { return l.l2Start() + int64(len(l.l2Index)) }

// writeMetadata writes everything before the data clusters.
func (l *layout) writeMetadata(w io.Writer) error {
	cs := l.clusterSize
	l2Entries := cs / 8

	h := make([]byte, cs)
	copy(h, magic)
	binary.BigEndian.PutUint32(h[4:], version)
	binary.BigEndian.PutUint32(h[20:], uint32(l.clusterBits))
	binary.BigEndian.PutUint64(h[24:], uint64(l.size))
	binary.BigEndian.PutUint32(h[36:], uint32(l.l1Size))
	binary.BigEndian.PutUint64(h[40:], uint64(l.l1Start()*cs))
	binary.BigEndian.PutUint64(h[48:], uint64(l.rtStart()*cs))
	binary.BigEndian.PutUint32(h[56:], uint32(l.rtClusters))
	binary.BigEndian.PutUint32(h[96:], refcountOrder)
	binary.BigEndian.PutUint32(h[100:], headerLength)
	// Byte 104, compression_type, stays 0: deflate. An all-zero header
	// extension follows, ending the (empty) extension list.
	if _, err := w.Write(h); err != nil {
		return err
	}

	// L1: each L2 table's offset, flagged as having refcount 1.
	l1 := make([]byte, l.l1Clusters*cs)
	for i, idx := range l.l2Index {
		binary.BigEndian.PutUint64(l1[8*idx:], uint64((l.l2Start()+int64(i))*cs)|l2Copied)
	}
	if _, err := w.Write(l1); err != nil {
		return err
	}

	// L2 entries, and the refcount of every host cluster.
	refs := make([]uint16, l.hostCluster)
	for c := range l.dataStart() + l.raw {
		refs[c] = 1
	}
	l2 := make([]byte, int64(len(l.l2Index))*cs)
	rawNext := l.dataStart()
	compOff := l.compStart
	table := -1
	csizeShift := 62 - (l.clusterBits - 8)
	for i, g := range l.guest {
		if table < 0 || l.l2Index[table] != g/l2Entries {
			table++
		}
		var e uint64
		if n := int64(l.compLen[i]); n == 0 {
			e = uint64(rawNext*cs) | l2Copied
			rawNext++
		} else {
			// Additional sectors beyond the one holding the first byte.
			extra := (compOff+n-1)/sectorSize - compOff/sectorSize
			e = l2Compressed | uint64(extra)<<csizeShift | uint64(compOff)
			end := compOff/sectorSize*sectorSize + (extra+1)*sectorSize
			for c := compOff / cs; c <= (end-1)/cs; c++ {
				if refs[c] == 1<<refcountBits-1 {
					return fmt.Errorf("host cluster %d holds more compressed clusters than a %d-bit refcount can count", c, refcountBits)
				}
				refs[c]++
			}
			compOff += n
		}
		binary.BigEndian.PutUint64(l2[int64(table)*cs+8*(g%l2Entries):], e)
	}

	rt := make([]byte, l.rtClusters*cs)
	for i := range l.rbClusters {
		binary.BigEndian.PutUint64(rt[8*i:], uint64((l.rbStart()+i)*cs))
	}
	if _, err := w.Write(rt); err != nil {
		return err
	}
	// The refcount blocks are contiguous and each covers the clusters
	// after the previous one's, so together they are one flat array.
	rb := make([]byte, l.rbClusters*cs)
	for c, n := range refs {
		binary.BigEndian.PutUint16(rb[2*c:], n)
	}
	if len(l.guest) == 0 {
		// Nothing follows the refcount blocks: end the file after their
		// last non-zero entry, as QEMU does; the rest reads as zeros.
		rb = rb[:(len(bytes.TrimRight(rb, "\x00"))+7)/8*8]
	}
	if _, err := w.Write(rb); err != nil {
		return err
	}
	_, err := w.Write(l2)
	return err
}
