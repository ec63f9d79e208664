package qcow2

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents asks the file system where f's data is. SEEK_DATA and
// SEEK_HOLE move the file offset, which is harmless: sources are read with
// ReadAt only.
func dataExtents(ctx context.Context, f *os.File, size int64) ([]Extent, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var out []Extent
	var serr error
	err = conn.Control(func(fd uintptr) {
		for off := int64(0); off < size; {
			if serr = ctx.Err(); serr != nil {
				return
			}
			data, err := unix.Seek(int(fd), off, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) {
				return // no data past off
			}
			if errors.Is(err, unix.EINVAL) && off == 0 {
				// The file system cannot tell: all of it may be data.
				out = []Extent{{0, size}}
				return
			}
			if err != nil {
				serr = err
				return
			}
			hole, err := unix.Seek(int(fd), data, unix.SEEK_HOLE)
			if err != nil {
				serr = err
				return
			}
			hole = min(hole, size)
			if hole > data {
				out = append(out, Extent{data, hole - data})
			}
			off = hole
		}
	})
	if err != nil {
		return nil, err
	}
	return out, serr
}
