package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Image is a qcow2 image (version 2 or 3) opened for reading. Its ReadAt
// reads the guest disk. Compressed clusters may be deflate or zstd.
// Backing files, encryption, external data files and extended L2 entries
// are refused.
type Image struct {
	r           io.ReaderAt
	fileSize    int64
	version     uint32
	size        int64
	clusterBits uint
	clusterSize int64
	l1          []uint64
	csizeShift  uint
	csizeMask   uint64
	coffMask    uint64

	mu       sync.Mutex // guards the caches below
	l2At     int64
	l2       []byte
	clAt     int64 // guest cluster decompressed into cl, or -1
	cl       []byte
	inflater io.ReadCloser
	zstd     bool // compressed clusters are zstd frames, not deflate
	unzstd   *zstd.Decoder
}

// Open parses the header and L1 table of the qcow2 image in r, a file of
// fileSize bytes.
func Open(r io.ReaderAt, fileSize int64) (*Image, error) {
	h := make([]byte, 104)
	if _, err := r.ReadAt(h[:72], 0); err != nil {
		return nil, fmt.Errorf("qcow2: reading the header: %w", err)
	}
	if string(h[:4]) != magic {
		return nil, errors.New("qcow2: not a qcow2 image (bad magic)")
	}
	im := &Image{r: r, fileSize: fileSize, version: binary.BigEndian.Uint32(h[4:]), l2At: -1, clAt: -1}
	switch im.version {
	case 2:
	case 3:
		if _, err := r.ReadAt(h[72:104], 72); err != nil {
			return nil, fmt.Errorf("qcow2: reading the header: %w", err)
		}
	default:
		return nil, fmt.Errorf("qcow2: version %d is not supported", im.version)
	}
	if binary.BigEndian.Uint64(h[8:]) != 0 {
		return nil, errors.New("qcow2: images with a backing file are not supported")
	}
	im.clusterBits = uint(binary.BigEndian.Uint32(h[20:]))
	if im.clusterBits < minClusterBits || im.clusterBits > maxClusterBits {
		return nil, fmt.Errorf("qcow2: cluster bits %d outside %d–%d", im.clusterBits, minClusterBits, maxClusterBits)
	}
	im.clusterSize = 1 << im.clusterBits
	size := binary.BigEndian.Uint64(h[24:])
	if size > 1<<62 {
		return nil, fmt.Errorf("qcow2: virtual size %d is too large", size)
	}
	im.size = int64(size)
	if binary.BigEndian.Uint32(h[32:]) != 0 {
		return nil, errors.New("qcow2: encrypted images are not supported")
	}
	if im.version == 3 {
		incompat := binary.BigEndian.Uint64(h[72:])
		// Bit 0 (dirty) only concerns refcounts, which reading ignores;
		// bit 3 says compression_type (byte 104) is not deflate.
		if incompat&^(1|8) != 0 {
			return nil, fmt.Errorf("qcow2: incompatible features %#x are not supported", incompat&^(1|8))
		}
		if incompat&8 != 0 {
			var ct [1]byte
			if binary.BigEndian.Uint32(h[100:]) <= 104 {
				return nil, errors.New("qcow2: compression type bit set but the header has no compression_type field")
			}
			if _, err := r.ReadAt(ct[:], 104); err != nil {
				return nil, fmt.Errorf("qcow2: reading the header: %w", err)
			}
			if ct[0] != 1 {
				return nil, fmt.Errorf("qcow2: compression type %d is not supported", ct[0])
			}
			im.zstd = true
		}
		if order := binary.BigEndian.Uint32(h[96:]); order > 6 {
			return nil, fmt.Errorf("qcow2: refcount order %d is invalid", order)
		}
	}

	l1Size := int64(binary.BigEndian.Uint32(h[36:]))
	l1Off := int64(binary.BigEndian.Uint64(h[40:]))
	l2Entries := im.clusterSize / 8
	guestClusters := (im.size + im.clusterSize - 1) / im.clusterSize
	need := (guestClusters + l2Entries - 1) / l2Entries
	if l1Size < need {
		return nil, fmt.Errorf("qcow2: L1 table of %d entries cannot map %d bytes", l1Size, im.size)
	}
	if l1Off%im.clusterSize != 0 || l1Off <= 0 || l1Off+need*8 > fileSize {
		return nil, fmt.Errorf("qcow2: L1 table at %d does not fit the %d-byte file", l1Off, fileSize)
	}
	raw := make([]byte, need*8)
	if _, err := r.ReadAt(raw, l1Off); err != nil {
		return nil, fmt.Errorf("qcow2: reading the L1 table: %w", err)
	}
	im.l1 = make([]uint64, need)
	for i := range im.l1 {
		im.l1[i] = binary.BigEndian.Uint64(raw[8*i:])
	}
	im.csizeShift = 62 - (im.clusterBits - 8)
	im.csizeMask = 1<<(im.clusterBits-8) - 1
	im.coffMask = 1<<im.csizeShift - 1
	return im, nil
}

// Size returns the virtual disk size.
func (im *Image) Size() int64 { return im.size }

// Version returns the format version, 2 or 3.
func (im *Image) Version() int { return int(im.version) }

// ClusterSize returns the cluster size in bytes.
func (im *Image) ClusterSize() int64 { return im.clusterSize }

// ReadAt reads the guest disk; unallocated and zero clusters read as zeros.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("qcow2: negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		if off >= im.size {
			return n, io.EOF
		}
		in := off % im.clusterSize
		k := min(int64(len(p)-n), im.clusterSize-in, im.size-off)
		if err := im.readCluster(p[n:n+int(k)], off/im.clusterSize, in); err != nil {
			return n, err
		}
		n += int(k)
		off += k
	}
	return n, nil
}

// l2Entry returns the L2 entry of guest cluster g.
func (im *Image) l2Entry(g int64) (uint64, error) {
	l2Entries := im.clusterSize / 8
	l1e := im.l1[g/l2Entries]
	l2Off := int64(l1e & offsetMask)
	if l2Off == 0 {
		return 0, nil
	}
	if l2Off%im.clusterSize != 0 || l2Off+im.clusterSize > im.fileSize {
		return 0, fmt.Errorf("qcow2: L2 table at %d is misaligned or past the end of the file", l2Off)
	}
	if im.l2At != l2Off {
		if im.l2 == nil {
			im.l2 = make([]byte, im.clusterSize)
		}
		if _, err := im.r.ReadAt(im.l2, l2Off); err != nil {
			im.l2At = -1
			return 0, fmt.Errorf("qcow2: reading the L2 table at %d: %w", l2Off, err)
		}
		im.l2At = l2Off
	}
	return binary.BigEndian.Uint64(im.l2[8*(g%l2Entries):]), nil
}

// readCluster fills p from guest cluster g starting in it at in.
func (im *Image) readCluster(p []byte, g, in int64) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	e, err := im.l2Entry(g)
	if err != nil {
		return err
	}
	switch {
	case e&l2Compressed != 0:
		if im.clAt != g {
			if err := im.decompress(e); err != nil {
				im.clAt = -1
				return fmt.Errorf("qcow2: guest cluster %d: %w", g, err)
			}
			im.clAt = g
		}
		copy(p, im.cl[in:])
		return nil
	case e&1 != 0 && im.version >= 3, e&offsetMask == 0:
		clear(p) // reads as zeros, or unallocated with no backing file
		return nil
	}
	host := int64(e & offsetMask)
	if host%im.clusterSize != 0 || host+im.clusterSize > im.fileSize {
		return fmt.Errorf("qcow2: guest cluster %d maps to %d, misaligned or past the end of the file", g, host)
	}
	if _, err := im.r.ReadAt(p, host+in); err != nil {
		return fmt.Errorf("qcow2: reading guest cluster %d at %d: %w", g, host, err)
	}
	return nil
}

// decompress inflates the compressed cluster described by e into im.cl.
func (im *Image) decompress(e uint64) error {
	coff := int64(e & im.coffMask)
	sectors := int64(e>>im.csizeShift&im.csizeMask) + 1
	csize := sectors*sectorSize - coff%sectorSize
	if coff+csize > im.fileSize {
		// The final sector may be cut short at the end of the file.
		csize = im.fileSize - coff
	}
	if csize <= 0 {
		return fmt.Errorf("compressed data at %d is past the end of the file", coff)
	}
	buf := make([]byte, csize)
	if _, err := im.r.ReadAt(buf, coff); err != nil {
		return fmt.Errorf("reading compressed data at %d: %w", coff, err)
	}
	if im.cl == nil {
		im.cl = make([]byte, im.clusterSize)
	}
	if im.zstd {
		// One or more zstd frames; what follows the one that completes
		// the cluster may belong to the next compressed cluster.
		if im.unzstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
			if err != nil {
				return err
			}
			im.unzstd = d
		}
		if err := im.unzstd.Reset(bytes.NewReader(buf)); err != nil {
			return err
		}
		if _, err := io.ReadFull(im.unzstd, im.cl); err != nil {
			return fmt.Errorf("decompressing zstd data at %d: %w", coff, err)
		}
		return nil
	}
	if im.inflater == nil {
		im.inflater = flate.NewReader(bytes.NewReader(buf))
	} else if err := im.inflater.(flate.Resetter).Reset(bytes.NewReader(buf), nil); err != nil {
		return err
	}
	// Decompression stops once a cluster is out; what follows in the last
	// sector may belong to the next compressed cluster.
	if _, err := io.ReadFull(im.inflater, im.cl); err != nil {
		return fmt.Errorf("inflating compressed data at %d: %w", coff, err)
	}
	return nil
}
