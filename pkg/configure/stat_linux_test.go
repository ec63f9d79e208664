package configure

import "syscall"

// statOwner returns a path's owner, not following a final symlink.
func statOwner(p string) ([2]uint32, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return [2]uint32{}, false
	}
	return [2]uint32{st.Uid, st.Gid}, true
}
