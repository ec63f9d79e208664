package diskimage

import (
	"os"
	"sync/atomic"
)

// writebackEvery is how many bytes are written between two requests to
// start writing the file out.
const writebackEvery = 32 << 20

// writebackFile is an image file that asks the kernel to start writing its
// dirty pages to the disk every writebackEvery bytes, rather than leaving
// hundreds of MB for the fsync at the end: the disk then works while the
// writers are still inflating contents, and the final fsync has little
// left to wait for. It is only a hint; the fsync is what reports errors.
type writebackFile struct {
	*os.File
	written atomic.Int64
}

func (w *writebackFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.File.WriteAt(p, off)
	if t := w.written.Add(int64(n)); t/writebackEvery != (t-int64(n))/writebackEvery {
		startWriteback(w.File)
	}
	return n, err
}
