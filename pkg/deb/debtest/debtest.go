// Package debtest builds small .deb files in memory for tests, including
// malformed ones: every member and header can be set by hand.
package debtest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Member is one ar member.
type Member struct {
	Name string
	Data []byte
}

// Ar returns an ar archive of the members in the form dpkg-deb writes
// (System V names, "\n" padding).
func Ar(members ...Member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", m.Name, 0, 0, 0, 0o100644, len(m.Data))
		b.Write(m.Data)
		if len(m.Data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Entry is one tar entry; Body is the content of a regular file.
type Entry struct {
	Header tar.Header
	Body   string
}

// File returns a regular-file entry owned by root.
func File(name string, mode int64, body string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}, Body: body}
}

// Dir returns a directory entry owned by root.
func Dir(name string, mode int64) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}}
}

// Symlink returns a symlink entry owned by root.
func Symlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

// Hardlink returns a hardlink entry owned by root.
func Hardlink(name, target string) Entry {
	return Entry{Header: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644}}
}

// Tar returns a tar archive (GNU format, like dpkg-deb) of the entries. A
// zero ModTime is set to a fixed date so the bytes are reproducible. An
// entry whose Header.Size exceeds its Body ends the archive there,
// truncated.
func Tar(entries ...Entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.Header
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatGNU
		}
		if err := tw.WriteHeader(&h); err != nil {
			panic(fmt.Sprintf("debtest: tar header %s: %v", h.Name, err))
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			panic(fmt.Sprintf("debtest: tar body %s: %v", h.Name, err))
		}
	}
	// An entry whose Body is shorter than its Size makes a truncated
	// archive, which hostile-input tests want; Close then fails and the
	// bytes so far are returned as they are.
	tw.Close()
	return b.Bytes()
}

// Compress compresses b with comp ("xz", "zstd", "gzip" or "none") and
// returns the bytes and the member-name extension.
func Compress(comp string, b []byte) ([]byte, string) {
	var out bytes.Buffer
	switch comp {
	case "none":
		return b, ""
	case "xz":
		w, err := xz.NewWriter(&out)
		if err != nil {
			panic(err)
		}
		w.Write(b)
		w.Close()
		return out.Bytes(), ".xz"
	case "zstd":
		w, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		w.Write(b)
		w.Close()
		return out.Bytes(), ".zst"
	case "gzip":
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes(), ".gz"
	}
	panic("debtest: unknown compression " + comp)
}

// Package describes a .deb to build.
type Package struct {
	Control string            // control file text; default: a minimal paragraph for "test"
	Files   map[string]string // other control.tar files (postinst, md5sums, ...)
	Data    []Entry
	Comp    string // compression of both members; default "xz"
}

// Build returns the .deb.
func Build(p Package) []byte {
	comp := p.Comp
	if comp == "" {
		comp = "xz"
	}
	control := p.Control
	if control == "" {
		control = "Package: test\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: T <t@example.org>\nDescription: test package\n"
	}
	ctl := []Entry{Dir("./", 0o755), File("./control", 0o644, control)}
	for _, name := range sortedKeys(p.Files) {
		ctl = append(ctl, File("./"+name, 0o755, p.Files[name]))
	}
	cb, cext := Compress(comp, Tar(ctl...))
	db, dext := Compress(comp, Tar(p.Data...))
	return Ar(
		Member{"debian-binary", []byte("2.0\n")},
		Member{"control.tar" + cext, cb},
		Member{"data.tar" + dext, db},
	)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
