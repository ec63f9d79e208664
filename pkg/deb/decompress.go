package deb

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"

	"github.com/debatom/debatom/pkg/deb/xz"
)

// maxWindow bounds the memory a hostile member can make a decoder take:
// xz -9 and zstd --long=27 both fit.
const maxWindow = 128 << 20

// Decompress returns a reader of the decompressed bytes of r for the
// compression comp ("xz", "zstd", "gzip", "bzip2", "lzma" or "none"), and
// a function that releases the decoder. Multi-stream xz, zstd and gzip
// input decodes as the concatenation of its streams, as xz-utils, zstd
// and gzip do.
func Decompress(comp string, r io.Reader) (io.Reader, func(), error) {
	return new(Decoder).decompress(comp, r)
}

// Decoder is decoding state that one goroutine reuses from member to
// member and package to package: the xz decoder's window, probability
// tables and input buffer, and the buffer the tar reader reads through.
// Unpacking hundreds of packages with a fresh xz decoder each allocated
// over a gigabyte of windows per build. The zero Decoder is ready to use;
// a Decoder is not safe for concurrent use, and a stream it returned is
// valid only until its next use.
type Decoder struct {
	xz *xz.Reader
	br *bufio.Reader
}

// Open is the package-level Open reusing d's state.
func (d *Decoder) Open(r io.Reader, name string) (*Reader, error) {
	return open(r, name, d)
}

func (d *Decoder) decompress(comp string, r io.Reader) (io.Reader, func(), error) {
	nop := func() {}
	switch comp {
	case "none":
		return r, nop, nil
	case "xz":
		if d.xz == nil {
			z, err := xz.NewReader(nil, maxWindow)
			if err != nil {
				return nil, nil, fmt.Errorf("xz: %w", err)
			}
			d.xz = z
		}
		if err := d.xz.Reset(r); err != nil {
			return nil, nil, fmt.Errorf("xz: %w", err)
		}
		return errPrefix{d.xz, "xz"}, nop, nil
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return errPrefix{d, "zstd"}, d.Close, nil
	case "gzip":
		d, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return errPrefix{d, "gzip"}, func() { d.Close() }, nil
	case "bzip2":
		return errPrefix{bzip2.NewReader(r), "bzip2"}, nop, nil
	case "lzma":
		c := lzma.ReaderConfig{DictCap: maxWindow}
		d, err := c.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("lzma: %w", err)
		}
		return errPrefix{d, "lzma"}, nop, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %q", comp)
}

// errPrefix names the decoder in its errors ("xz: data is corrupt"), so a
// corrupt member is told apart from a truncated file.
type errPrefix struct {
	r    io.Reader
	name string
}

func (e errPrefix) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		if err == io.ErrUnexpectedEOF {
			return n, fmt.Errorf("%s: truncated stream: %w", e.name, err)
		}
		return n, fmt.Errorf("%s: %w", e.name, err)
	}
	return n, err
}

// tarBufSize is the buffer between the decompressor and archive/tar,
// which reads in 512-byte blocks: it keeps the decompressor's per-call
// overhead off the hot path.
const tarBufSize = 256 << 10

// buffered returns r behind d's reusable read buffer.
func (d *Decoder) buffered(r io.Reader) *bufio.Reader {
	if d.br == nil {
		d.br = bufio.NewReaderSize(r, tarBufSize)
	} else {
		d.br.Reset(r)
	}
	return d.br
}
