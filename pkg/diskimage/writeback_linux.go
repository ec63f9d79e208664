//go:build linux

package diskimage

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback starts writing out f's dirty pages without waiting for
// them (sync_file_range with SYNC_FILE_RANGE_WRITE only).
func startWriteback(f *os.File) {
	conn, err := f.SyscallConn()
	if err != nil {
		return
	}
	// Errors are ignored: this is a hint, and the fsync that follows
	// reports any failure to write.
	conn.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	})
}
