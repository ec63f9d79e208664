// Package ar reads Unix ar archives, the container of a Debian binary
// package, as a stream.
//
// It understands the common ("System V"/GNU) form with its "//" long-name
// table and "/N" references, and the BSD form with "#1/N" names stored at
// the start of the member data. Nothing in the archive is trusted: sizes
// are checked to be decimal and bounded, names are bounded, and a
// truncated archive is an error naming the member, never a panic.
package ar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Magic begins every ar archive.
const Magic = "!<arch>\n"

const (
	headerSize = 60
	// maxNameTable bounds the GNU long-name table, which is read into
	// memory; real tables are a few KB.
	maxNameTable = 1 << 20
	// maxBSDName bounds a BSD "#1/N" name, also read into memory.
	maxBSDName = 4096
)

// Header describes one member.
type Header struct {
	Name    string
	ModTime int64 // seconds since the epoch
	UID     int
	GID     int
	Mode    int64
	Size    int64 // bytes of data, after any BSD name
}

// Reader reads members one after another. Use Next to move to a member and
// Read to read its data.
type Reader struct {
	r       *bufio.Reader
	name    string // archive name for error messages
	started bool
	member  string // current member, for errors
	left    int64  // unread bytes of the current member
	pad     bool   // the current member is followed by one padding byte
	names   string // GNU long-name table
}

// NewReader returns a Reader for the archive in r; name (a file name) is
// used in error messages.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), name: name}
}

// Next skips what is left of the current member and returns the next
// member's header. It returns io.EOF at the clean end of the archive.
// The GNU name table ("//") is consumed and not returned; the symbol table
// ("/" or "__.SYMDEF") is returned like any member.
func (a *Reader) Next() (*Header, error) {
	if !a.started {
		a.started = true
		var m [len(Magic)]byte
		if _, err := io.ReadFull(a.r, m[:]); err != nil {
			return nil, fmt.Errorf("%s: not an ar archive: %w", a.name, noEOF(err))
		}
		if string(m[:]) != Magic {
			return nil, fmt.Errorf("%s: not an ar archive (bad magic %q)", a.name, m[:])
		}
	}
	for {
		if err := a.skipRest(); err != nil {
			return nil, err
		}
		h, err := a.readHeader()
		if err != nil {
			return nil, err
		}
		if h.Name == "//" {
			if h.Size > maxNameTable {
				return nil, fmt.Errorf("%s: long-name table of %d bytes is too large", a.name, h.Size)
			}
			b := make([]byte, h.Size)
			if _, err := io.ReadFull(a, b); err != nil {
				return nil, err
			}
			a.names = string(b)
			continue
		}
		return h, nil
	}
}

// Read reads from the current member's data.
func (a *Reader) Read(p []byte) (int, error) {
	if a.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.left {
		p = p[:a.left]
	}
	n, err := a.r.Read(p)
	a.left -= int64(n)
	if err == io.EOF {
		if a.left > 0 {
			return n, fmt.Errorf("%s: member %s: %w", a.name, a.member, io.ErrUnexpectedEOF)
		}
		err = nil
	} else if err != nil {
		err = fmt.Errorf("%s: member %s: %w", a.name, a.member, err)
	}
	return n, err
}

// skipRest discards the unread data and padding of the current member.
func (a *Reader) skipRest() error {
	if a.left > 0 {
		n, err := a.r.Discard(int(min(a.left, 1<<62)))
		a.left -= int64(n)
		if err != nil || a.left > 0 {
			return fmt.Errorf("%s: member %s: %w", a.name, a.member, io.ErrUnexpectedEOF)
		}
	}
	if a.pad {
		a.pad = false
		// Some writers omit the final padding byte; dpkg accepts that, so
		// EOF here is the end of the archive, not an error.
		b, err := a.r.Peek(1)
		if err == nil && b[0] == '\n' {
			a.r.Discard(1)
		}
	}
	return nil
}

func (a *Reader) readHeader() (*Header, error) {
	var b [headerSize]byte
	n, err := io.ReadFull(a.r, b[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: truncated member header after %s (%d of %d bytes)", a.name, a.describePrev(), n, headerSize)
	}
	if string(b[58:60]) != "`\n" {
		return nil, fmt.Errorf("%s: bad member header after %s (no terminator)", a.name, a.describePrev())
	}
	raw := strings.TrimRight(string(b[0:16]), " ")
	size, err := decimal(b[48:58])
	if err != nil {
		return nil, fmt.Errorf("%s: member %q: size: %w", a.name, raw, err)
	}
	h := &Header{Size: size}
	// The other numeric fields are informative only; a malformed one is
	// reported because it means the header is not what it claims to be.
	if h.ModTime, err = decimal(b[16:28]); err != nil {
		return nil, fmt.Errorf("%s: member %q: modification time: %w", a.name, raw, err)
	}
	uid, err := decimal(b[28:34])
	if err != nil {
		return nil, fmt.Errorf("%s: member %q: uid: %w", a.name, raw, err)
	}
	gid, err := decimal(b[34:40])
	if err != nil {
		return nil, fmt.Errorf("%s: member %q: gid: %w", a.name, raw, err)
	}
	h.UID, h.GID = int(uid), int(gid)
	if h.Mode, err = octal(b[40:48]); err != nil {
		return nil, fmt.Errorf("%s: member %q: mode: %w", a.name, raw, err)
	}
	a.member = raw
	a.left = size
	a.pad = size%2 == 1

	switch {
	case raw == "/" || raw == "//":
		h.Name = raw
	case strings.HasPrefix(raw, "#1/"):
		nlen, err := decimal([]byte(raw[3:]))
		if err != nil || nlen > maxBSDName || nlen > size {
			return nil, fmt.Errorf("%s: member %q: bad BSD name length", a.name, raw)
		}
		nb := make([]byte, nlen)
		if _, err := io.ReadFull(a, nb); err != nil {
			return nil, err
		}
		h.Name = strings.TrimRight(string(nb), "\x00")
		h.Size = size - nlen
	case strings.HasPrefix(raw, "/"):
		off, err := decimal([]byte(raw[1:]))
		if err != nil {
			return nil, fmt.Errorf("%s: member %q: bad long-name reference", a.name, raw)
		}
		if a.names == "" {
			return nil, fmt.Errorf("%s: member %q refers to a long-name table the archive lacks", a.name, raw)
		}
		if off >= int64(len(a.names)) {
			return nil, fmt.Errorf("%s: member %q: long-name offset beyond the table (%d bytes)", a.name, raw, len(a.names))
		}
		rest := a.names[off:]
		end := strings.Index(rest, "/\n")
		if end < 0 {
			return nil, fmt.Errorf("%s: member %q: unterminated long name", a.name, raw)
		}
		h.Name = rest[:end]
	default:
		// GNU ends short names with "/"; System V and dpkg write none.
		h.Name = strings.TrimSuffix(raw, "/")
	}
	if h.Name == "" {
		return nil, fmt.Errorf("%s: member after %s has an empty name", a.name, a.describePrev())
	}
	a.member = h.Name
	return h, nil
}

func (a *Reader) describePrev() string {
	if a.member == "" {
		return "the archive magic"
	}
	return "member " + a.member
}

// decimal parses a space-padded, left-aligned unsigned decimal field. An
// all-blank field is 0 (some writers leave unused fields blank).
func decimal(b []byte) (int64, error) {
	s := strings.TrimRight(string(b), " ")
	if s == "" {
		return 0, nil
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

func octal(b []byte) (int64, error) {
	s := strings.TrimRight(string(b), " ")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal number", s)
	}
	return int64(n), nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
