// Package cpio writes and reads the "newc" cpio format (magic 070701), the
// format the Linux kernel unpacks an initramfs from.
//
// The writer is deterministic: entries are sorted by name (so a directory
// always precedes its contents, as the kernel requires), inode numbers are
// assigned in that order starting at 1, owners are 0 and every entry gets
// the same modification time.
package cpio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Entry is one member of an archive.
type Entry struct {
	Name string      // slash-separated, relative, no leading "/" or "./"
	Mode fs.FileMode // type and permission bits, incl. setuid/setgid/sticky
	Data []byte      // regular file contents
	// Target is a symlink's target.
	Target string
	// RdevMajor and RdevMinor identify a character or block device.
	RdevMajor, RdevMinor uint32
}

const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000

	trailer = "TRAILER!!!"
	// maxName bounds names when reading: PATH_MAX.
	maxName = 4096
)

// unixMode converts a Go FileMode to st_mode.
func unixMode(m fs.FileMode) (uint32, error) {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	switch m.Type() {
	case 0:
		u |= sIFREG
	case fs.ModeDir:
		u |= sIFDIR
	case fs.ModeSymlink:
		u |= sIFLNK
	case fs.ModeDevice | fs.ModeCharDevice:
		u |= sIFCHR
	case fs.ModeDevice:
		u |= sIFBLK
	case fs.ModeNamedPipe:
		u |= sIFIFO
	case fs.ModeSocket:
		u |= sIFSOCK
	default:
		return 0, fmt.Errorf("unsupported file type %v", m.Type())
	}
	return u, nil
}

func goMode(u uint32) (fs.FileMode, error) {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch u & sIFMT {
	case sIFREG:
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	case sIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		m |= fs.ModeDevice
	case sIFIFO:
		m |= fs.ModeNamedPipe
	case sIFSOCK:
		m |= fs.ModeSocket
	default:
		return 0, fmt.Errorf("unknown file type %#o", u&sIFMT)
	}
	return m, nil
}

func validName(n string) bool {
	return n != "" && n != "." && !strings.HasPrefix(n, "/") && path.Clean(n) == n && !strings.HasPrefix(n, "../") && n != ".." && !strings.Contains(n, "\x00")
}

// Write writes entries as a newc archive with the trailer. Names must be
// unique, clean and relative.
func Write(w io.Writer, entries []Entry, mtime int64) error {
	if mtime < 0 || mtime > 0xFFFFFFFF {
		return fmt.Errorf("cpio: mtime %d does not fit newc's 32 bits", mtime)
	}
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	bw := bufio.NewWriterSize(w, 1<<20)
	for i, e := range sorted {
		if !validName(e.Name) {
			return fmt.Errorf("cpio: bad entry name %q", e.Name)
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return fmt.Errorf("cpio: entry %s appears twice", e.Name)
		}
		mode, err := unixMode(e.Mode)
		if err != nil {
			return fmt.Errorf("cpio: %s: %w", e.Name, err)
		}
		var data []byte
		nlink := uint32(1)
		switch e.Mode.Type() {
		case 0:
			data = e.Data
		case fs.ModeSymlink:
			data = []byte(e.Target)
		case fs.ModeDir:
			nlink = 2
		}
		if uint64(len(data)) > 0xFFFFFFFF {
			return fmt.Errorf("cpio: %s: %d bytes exceed newc's 4 GiB limit", e.Name, len(data))
		}
		if err := writeEntry(bw, header{ino: uint32(i + 1), mode: mode, nlink: nlink, mtime: uint32(mtime), size: uint32(len(data)), rmaj: e.RdevMajor, rmin: e.RdevMinor}, e.Name, data); err != nil {
			return err
		}
	}
	if err := writeEntry(bw, header{nlink: 1}, trailer, nil); err != nil {
		return err
	}
	return bw.Flush()
}

type header struct {
	ino, mode, uid, gid, nlink, mtime, size, maj, min, rmaj, rmin uint32
}

var zeros [4]byte

func pad4(n int) int { return (4 - n%4) % 4 }

func writeEntry(w *bufio.Writer, h header, name string, data []byte) error {
	var hb [110]byte
	copy(hb[:], "070701")
	for i, v := range []uint32{h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, h.size, h.maj, h.min, h.rmaj, h.rmin, uint32(len(name) + 1), 0} {
		const hexd = "0123456789abcdef"
		for j := range 8 {
			hb[6+8*i+j] = hexd[v>>(28-4*j)&0xF]
		}
	}
	w.Write(hb[:])
	w.WriteString(name)
	w.WriteByte(0)
	w.Write(zeros[:pad4(110+len(name)+1)])
	w.Write(data)
	_, err := w.Write(zeros[:pad4(len(data))])
	return err
}

// Read parses a newc archive up to its trailer. It exists for tests and
// tools that inspect images; it bounds names and sizes and never panics.
func Read(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	var out []Entry
	var off int64
	for {
		var hb [110]byte
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			return nil, fmt.Errorf("cpio: header at offset %d: %w", off, noEOF(err))
		}
		if string(hb[:6]) != "070701" && string(hb[:6]) != "070702" {
			return nil, fmt.Errorf("cpio: bad magic %q at offset %d (want newc 070701)", hb[:6], off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hb[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("cpio: bad header field %d at offset %d: %q", i, off, hb[6+8*i:14+8*i])
			}
			f[i] = uint32(v)
		}
		mode, size, nameLen := f[1], f[6], f[11]
		if nameLen == 0 || nameLen > maxName {
			return nil, fmt.Errorf("cpio: name length %d at offset %d", nameLen, off)
		}
		nb := make([]byte, int(nameLen)+pad4(110+int(nameLen)))
		if _, err := io.ReadFull(br, nb); err != nil {
			return nil, fmt.Errorf("cpio: name at offset %d: %w", off, noEOF(err))
		}
		if nb[nameLen-1] != 0 {
			return nil, fmt.Errorf("cpio: name at offset %d lacks its NUL", off)
		}
		name := string(nb[:nameLen-1])
		off += 110 + int64(len(nb))
		if name == trailer {
			return out, nil
		}
		data := make([]byte, 0, min(int(size), 1<<20))
		buf := make([]byte, 32<<10)
		for remaining := int(size); remaining > 0; {
			n, err := br.Read(buf[:min(remaining, len(buf))])
			data = append(data, buf[:n]...)
			remaining -= n
			if err != nil && remaining > 0 {
				return nil, fmt.Errorf("cpio: %s: data: %w", name, noEOF(err))
			}
		}
		if _, err := io.ReadFull(br, make([]byte, pad4(int(size)))); err != nil {
			return nil, fmt.Errorf("cpio: %s: padding: %w", name, noEOF(err))
		}
		off += int64(size) + int64(pad4(int(size)))
		gm, err := goMode(mode)
		if err != nil {
			return nil, fmt.Errorf("cpio: %s: %w", name, err)
		}
		e := Entry{Name: strings.TrimPrefix(name, "./"), Mode: gm, RdevMajor: f[9], RdevMinor: f[10]}
		if gm.Type() == fs.ModeSymlink {
			e.Target = string(data)
		} else {
			e.Data = data
		}
		out = append(out, e)
	}
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
