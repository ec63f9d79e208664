package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/deb/debtest"
)

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	UID, GID   int
	Size       int64
	SHA        string
}

// collect reads the .deb and returns its package and data entries.
func collect(t testing.TB, b []byte, name string) (*Package, []entry, error) {
	t.Helper()
	var out []entry
	p, err := Read(context.Background(), bytes.NewReader(b), name, func(h *tar.Header, body io.Reader) error {
		e, err := newEntry(h, body)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return p, out, err
}

// newEntry describes a tar entry, with the SHA-256 of a regular file's body.
func newEntry(h *tar.Header, body io.Reader) (entry, error) {
	e := entry{Name: h.Name, Link: h.Linkname, Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, Size: h.Size}
	if h.Typeflag == tar.TypeReg {
		s := sha256.New()
		if _, err := io.Copy(s, body); err != nil {
			return e, fmt.Errorf("%s: %w", h.Name, err)
		}
		e.SHA = hex.EncodeToString(s.Sum(nil))
	}
	return e, nil
}

func TestCompressions(t *testing.T) {
	data := []debtest.Entry{
		debtest.Dir("./", 0o755),
		debtest.Dir("./usr/", 0o755),
		debtest.File("./usr/hello", 0o4755, strings.Repeat("hello\n", 1000)),
		debtest.Symlink("./usr/hi", "hello"),
		debtest.Hardlink("./usr/hello2", "./usr/hello"),
	}
	files := map[string]string{
		"postinst":  "#!/bin/sh\necho hi\n",
		"conffiles": "/etc/a\nremove-on-upgrade /etc/b\n",
		"md5sums":   "5d41402abc4b2a76b9719d911017c592  usr/hello\n",
	}
	for _, comp := range []string{"xz", "zstd", "gzip", "none"} {
		t.Run(comp, func(t *testing.T) {
			b := debtest.Build(debtest.Package{Comp: comp, Files: files, Data: data})
			p, got, err := collect(t, b, "test.deb")
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != "test" || p.Version != "1.0-1" || p.Architecture != "amd64" || p.Format != "2.0" {
				t.Errorf("package = %s %s %s format %s", p.Name, p.Version, p.Architecture, p.Format)
			}
			if p.ControlCompression != comp || p.DataCompression != comp {
				t.Errorf("compression = %s/%s, want %s", p.ControlCompression, p.DataCompression, comp)
			}
			if s, ok := p.File("postinst"); !ok || string(s) != files["postinst"] {
				t.Errorf("postinst = %q", s)
			}
			wantConf := []Conffile{{Path: "/etc/a"}, {Path: "/etc/b", RemoveOnUpgrade: true}}
			if fmt.Sprint(p.Conffiles) != fmt.Sprint(wantConf) {
				t.Errorf("conffiles = %v", p.Conffiles)
			}
			if len(p.MD5Sums) != 1 || p.MD5Sums[0] != (MD5Sum{"usr/hello", "5d41402abc4b2a76b9719d911017c592"}) {
				t.Errorf("md5sums = %v", p.MD5Sums)
			}
			if fmt.Sprint(p.FileNames()) != "[conffiles control md5sums postinst]" {
				t.Errorf("files = %v", p.FileNames())
			}
			if len(got) != len(data) {
				t.Fatalf("got %d entries, want %d", len(got), len(data))
			}
			sum := sha256.Sum256([]byte(data[2].Body))
			if got[2].Name != "./usr/hello" || got[2].Mode != 0o4755 || got[2].SHA != hex.EncodeToString(sum[:]) {
				t.Errorf("file entry = %+v", got[2])
			}
			if got[3].Type != tar.TypeSymlink || got[3].Link != "hello" || got[4].Type != tar.TypeLink {
				t.Errorf("links = %+v %+v", got[3], got[4])
			}
		})
	}
}

// TestBzip2AndLzma reads .debs whose members were compressed by the bzip2
// and xz --format=lzma tools (testdata/gen.sh), which Go cannot write.
func TestBzip2AndLzma(t *testing.T) {
	for _, f := range []string{"bzip2.deb", "lzma.deb"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		p, got, err := collect(t, b, f)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "fixture" || len(got) != 2 || got[1].Name != "./hello" || got[1].Size != 6 {
			t.Errorf("%s: package %s, entries %+v", f, p.Name, got)
		}
	}
}

// TestControlOnly checks that a nil callback stops after control.tar, so
// reading a package's metadata does not decompress its files.
func TestControlOnly(t *testing.T) {
	b := debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.File("./a", 0o644, "x")}})
	// Corrupt the data member: a full read would fail.
	b = b[:len(b)-40]
	p, err := Read(context.Background(), bytes.NewReader(b), "test.deb", nil)
	if err != nil || p.Name != "test" {
		t.Fatalf("Read = %v, %v", p, err)
	}
	if _, _, err := collect(t, b, "test.deb"); err == nil {
		t.Fatal("full read of a truncated package succeeded")
	}
}

func TestUnderscoreMembersIgnored(t *testing.T) {
	ctl, _ := debtest.Compress("gzip", debtest.Tar(debtest.File("./control", 0o644, "Package: u\nVersion: 1\nArchitecture: all\n")))
	data := debtest.Tar(debtest.File("./a", 0o644, "x"))
	b := debtest.Ar(
		debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")},
		debtest.Member{Name: "_gpgbuilder", Data: []byte("sig")},
		debtest.Member{Name: "control.tar.gz", Data: ctl},
		debtest.Member{Name: "_extra", Data: []byte("x")},
		debtest.Member{Name: "data.tar", Data: data},
		debtest.Member{Name: "trailing-future-member", Data: []byte("ignored")},
	)
	p, got, err := collect(t, b, "u.deb")
	if err != nil || p.Name != "u" || len(got) != 1 {
		t.Fatalf("got %v %v %v", p, got, err)
	}
}

func TestBadInput(t *testing.T) {
	okCtl, _ := debtest.Compress("xz", debtest.Tar(debtest.File("./control", 0o644, "Package: a\nVersion: 1\nArchitecture: all\n")))
	okData, _ := debtest.Compress("xz", debtest.Tar(debtest.File("./a", 0o644, "x")))
	bin := debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")}
	ctlM := debtest.Member{Name: "control.tar.xz", Data: okCtl}
	dataM := debtest.Member{Name: "data.tar.xz", Data: okData}
	tarxz := func(es ...debtest.Entry) []byte { b, _ := debtest.Compress("xz", debtest.Tar(es...)); return b }
	corrupt := bytes.Clone(okData)
	corrupt[len(corrupt)/2] ^= 0xff
	bomb, _ := debtest.Compress("xz", debtest.Tar(debtest.File("./control", 0o644, strings.Repeat("x", maxControlFile+1))))

	tests := []struct {
		name string
		deb  []byte
		want string
	}{
		{"not ar", []byte("PK\x03\x04 a zip file, not a deb"), "bad.deb: not an ar archive"},
		{"empty ar", debtest.Ar(), "bad.deb: empty ar archive"},
		{"first member not debian-binary", debtest.Ar(ctlM, dataM), `first member is "control.tar.xz", not debian-binary`},
		{"format 3", debtest.Ar(debtest.Member{Name: "debian-binary", Data: []byte("3.0\n")}, ctlM, dataM), `unsupported package format "3.0"`},
		{"huge debian-binary", debtest.Ar(debtest.Member{Name: "debian-binary", Data: bytes.Repeat([]byte("2"), 100)}), "debian-binary is 100 bytes"},
		{"no control", debtest.Ar(bin), "no control.tar member"},
		{"data before control", debtest.Ar(bin, dataM, ctlM), `member "data.tar.xz" where control.tar was expected`},
		{"no data", debtest.Ar(bin, ctlM), "no data.tar member"},
		{"unknown compression", debtest.Ar(bin, debtest.Member{Name: "control.tar.rar", Data: okCtl}), `unknown compression ".rar"`},
		{"control not xz", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: []byte("plain text")}), "bad.deb: member control.tar.xz: xz:"},
		{"corrupt data", debtest.Ar(bin, ctlM, debtest.Member{Name: "data.tar.xz", Data: corrupt}), "bad.deb: data.tar.xz"},
		{"truncated data", debtest.Ar(bin, ctlM, dataM)[:len(debtest.Ar(bin, ctlM, dataM))-30], "bad.deb"},
		{"control file missing", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("./postinst", 0o755, "x"))}, dataM), "control.tar has no control file"},
		{"two paragraphs", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("./control", 0o644, "Package: a\n\nPackage: b\n"))}, dataM), "control file has 2 paragraphs"},
		{"no version", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("./control", 0o644, "Package: a\nArchitecture: all\n"))}, dataM), "control file has no Version field"},
		{"control subdir", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("./x/control", 0o644, "x"))}, dataM), `entry "./x/control" is not a top-level file`},
		{"control symlink", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.Symlink("./control", "/etc/passwd"))}, dataM), `entry "./control" is not a regular file`},
		{"control dotdot", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("../control", 0o644, "x"))}, dataM), `is not a top-level file`},
		{"control file too big", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: bomb}, dataM), "control is 16777217 bytes, over the"},
		{"duplicate control file", debtest.Ar(bin, debtest.Member{Name: "control.tar.xz", Data: tarxz(debtest.File("./control", 0o644, "Package: a\nVersion: 1\nArchitecture: all\n"), debtest.File("control", 0o644, "x"))}, dataM), "control appears twice"},
		{"bad md5sums", debtest.Build(debtest.Package{Files: map[string]string{"md5sums": "nothex  usr/a\n"}}), "md5sums line 1 is not"},
		{"bad conffiles", debtest.Build(debtest.Package{Files: map[string]string{"conffiles": "etc/relative\n"}}), `conffiles line 1: "etc/relative" is not an absolute path`},
		{"data not tar", debtest.Ar(bin, ctlM, debtest.Member{Name: "data.tar", Data: bytes.Repeat([]byte("garbage!"), 200)}), "bad.deb: data.tar:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := collect(t, tt.deb, "bad.deb")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestControlBomb checks that a control.tar decompressing past
// MaxControlSize fails instead of filling memory.
func TestControlBomb(t *testing.T) {
	var es []debtest.Entry
	for i := 0; i*maxControlFile <= MaxControlSize; i++ {
		es = append(es, debtest.File(fmt.Sprintf("./f%d", i), 0o644, strings.Repeat("x", maxControlFile)))
	}
	ctl, _ := debtest.Compress("zstd", debtest.Tar(es...))
	b := debtest.Ar(debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")}, debtest.Member{Name: "control.tar.zst", Data: ctl})
	_, err := Read(context.Background(), bytes.NewReader(b), "bomb.deb", nil)
	if err == nil || !strings.Contains(err.Error(), "exceeds the size limit") {
		t.Fatalf("error = %v, want the size limit", err)
	}
}

func TestCallbackErrorNamesEntry(t *testing.T) {
	b := debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.File("./a", 0o644, "x"), debtest.File("./b", 0o644, "y")}})
	_, err := Read(context.Background(), bytes.NewReader(b), "cb.deb", func(h *tar.Header, _ io.Reader) error {
		if h.Name == "./b" {
			return fmt.Errorf("refused")
		}
		return nil
	})
	if err == nil || err.Error() != "cb.deb: data.tar.xz: entry ./b: refused" {
		t.Fatalf("error = %v", err)
	}
}

func TestContextCanceled(t *testing.T) {
	b := debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.File("./a", 0o644, "x")}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, bytes.NewReader(b), "c.deb", func(*tar.Header, io.Reader) error { return nil }); err != context.Canceled {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

// archiveDebs returns the .deb files of the frozen archive.
func archiveDebs(t testing.TB) []string {
	debs, err := filepath.Glob(filepath.Join(testenv.Archive(t), "pool", "*", "*", "*", "*.deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no .debs in the archive: %v", err)
	}
	return debs
}

// TestArchiveAgainstDpkgDeb reads real packages and compares every data
// entry (name, type, mode, owner, size, content hash) and the control
// fields with what dpkg-deb extracts from the same file.
func TestArchiveAgainstDpkgDeb(t *testing.T) {
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	debs := archiveDebs(t)
	// A spread of shapes: setuid binaries, hardlinks, many symlinks,
	// conffiles, and the big kernel package.
	want := []string{"coreutils_", "passwd_", "libc6_", "base-files_", "perl-base_", "linux-image-6"}
	if testing.Short() {
		want = want[:2]
	}
	for _, prefix := range want {
		var path string
		for _, d := range debs {
			if strings.HasPrefix(filepath.Base(d), prefix) {
				path = d
			}
		}
		if path == "" {
			t.Fatalf("no %s* package in the archive", prefix)
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, got, err := collect(t, b, path)
			if err != nil {
				t.Fatal(err)
			}
			fsys, err := exec.Command(dpkgDeb, "--fsys-tarfile", path).Output()
			if err != nil {
				t.Fatalf("dpkg-deb --fsys-tarfile: %v", err)
			}
			var ref []entry
			tr := tar.NewReader(bytes.NewReader(fsys))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				e, err := newEntry(h, tr)
				if err != nil {
					t.Fatal(err)
				}
				ref = append(ref, e)
			}
			if len(got) != len(ref) || len(got) == 0 {
				t.Fatalf("%d entries, dpkg-deb has %d", len(got), len(ref))
			}
			for i := range got {
				if got[i] != ref[i] {
					t.Errorf("entry %d: got %+v, dpkg-deb %+v", i, got[i], ref[i])
				}
			}
			for _, field := range []string{"Package", "Version", "Architecture", "Depends", "Description"} {
				out, err := exec.Command(dpkgDeb, "-f", path, field).Output()
				if err != nil {
					t.Fatal(err)
				}
				// dpkg-deb -f prints continuation lines with their leading space.
				wantV := strings.ReplaceAll(strings.TrimSuffix(string(out), "\n"), "\n ", "\n")
				if got := p.Control.Get(field); got != wantV {
					t.Errorf("%s = %q, dpkg-deb says %q", field, got, wantV)
				}
			}
			ctl, err := exec.Command(dpkgDeb, "--ctrl-tarfile", path).Output()
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = testenv.TarFiles(bytes.NewReader(ctl), func(h *tar.Header, r io.Reader) error {
				n++
				body, err := io.ReadAll(r)
				if mine, _ := p.File(strings.TrimPrefix(h.Name, "./")); !bytes.Equal(mine, body) {
					t.Errorf("control file %s differs from dpkg-deb's", h.Name)
				}
				return err
			})
			if err != nil {
				t.Fatalf("dpkg-deb --ctrl-tarfile: %v", err)
			}
			if n != len(p.Files) {
				t.Errorf("%d control files, dpkg-deb has %d", len(p.Files), n)
			}
		})
	}
}

// TestArchiveAll reads every package of the frozen archive, control and
// data, and checks each md5sums line against the file it names.
func TestArchiveAll(t *testing.T) {
	if testing.Short() {
		t.Skip("reads all 213 packages")
	}
	for _, path := range archiveDebs(t) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]string{}
		p, err := Read(context.Background(), f, path, func(h *tar.Header, body io.Reader) error {
			switch h.Typeflag {
			case tar.TypeReg:
				sums[strings.TrimPrefix(h.Name, "./")] = md5sum(body)
			case tar.TypeLink:
				sums[strings.TrimPrefix(h.Name, "./")] = sums[strings.TrimPrefix(h.Linkname, "./")]
			}
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p.DataCompression != "xz" || p.ControlCompression != "xz" {
			t.Errorf("%s: compression %s/%s, the archive README says xz", path, p.ControlCompression, p.DataCompression)
		}
		for _, m := range p.MD5Sums {
			if sums[m.Path] != m.Sum {
				t.Errorf("%s: %s: md5 %s, md5sums says %s", path, m.Path, sums[m.Path], m.Sum)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, comp := range []string{"none", "gzip", "xz"} {
		f.Add(debtest.Build(debtest.Package{Comp: comp, Files: map[string]string{"md5sums": "5d41402abc4b2a76b9719d911017c592  a\n", "conffiles": "/etc/a\n"},
			Data: []debtest.Entry{debtest.Dir("./", 0o755), debtest.File("./a", 0o644, "hello"), debtest.Symlink("./b", "a")}}))
	}
	for _, name := range []string{"bzip2.deb", "lzma.deb"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_, err := Read(context.Background(), bytes.NewReader(b), "fuzz.deb", func(h *tar.Header, body io.Reader) error {
			n++
			_, err := io.Copy(io.Discard, io.LimitReader(body, 1<<20))
			return err
		})
		if err != nil && (strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "fuzz.deb")) {
			t.Fatalf("error is not one line naming the file: %q", err)
		}
	})
}

// FuzzDataTar feeds arbitrary bytes as an uncompressed data.tar member,
// exercising tar header handling (ustar, GNU, PAX, sparse) behind Read.
func FuzzDataTar(f *testing.F) {
	f.Add(debtest.Tar(debtest.Dir("./", 0o755), debtest.File("./a", 0o644, "hello"), debtest.Symlink("./b", "a"), debtest.Hardlink("./c", "./a")))
	f.Add(debtest.Tar(debtest.Entry{Header: tar.Header{Name: "./" + strings.Repeat("long/", 40) + "x", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX, PAXRecords: map[string]string{"SCHILY.xattr.user.a": "b"}}}))
	f.Add(debtest.Tar(debtest.Entry{Header: tar.Header{Name: "./" + strings.Repeat("gnu/", 40) + "x", Typeflag: tar.TypeReg, Size: 3, Format: tar.FormatGNU}, Body: "abc"}))
	ctl, _ := debtest.Compress("none", debtest.Tar(debtest.File("./control", 0o644, "Package: a\nVersion: 1\nArchitecture: all\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := debtest.Ar(debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")}, debtest.Member{Name: "control.tar", Data: ctl}, debtest.Member{Name: "data.tar", Data: data})
		var total int64
		_, err := Read(context.Background(), bytes.NewReader(b), "fuzz.deb", func(h *tar.Header, body io.Reader) error {
			n, err := io.Copy(io.Discard, io.LimitReader(body, 1<<20))
			total += n
			return err
		})
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
		_ = total
	})
}

// BenchmarkRead reads whole packages of the archive (control and every
// data entry, contents discarded): the decompression and tar hot path of
// unpacking, without the object store.
func BenchmarkRead(b *testing.B) {
	for _, prefix := range []string{"coreutils_", "libc6_", "linux-image-6"} {
		var path string
		for _, d := range archiveDebs(b) {
			if strings.HasPrefix(filepath.Base(d), prefix) {
				path = d
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(prefix, "_"), func(b *testing.B) {
			var n int64
			for i := 0; i < b.N; i++ {
				_, err := Read(context.Background(), bytes.NewReader(data), path, func(h *tar.Header, body io.Reader) error {
					k, err := io.Copy(io.Discard, body)
					n += k
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(n / int64(b.N))
		})
	}
}

// TestTarFormats checks that data.tar entries in ustar, GNU (long names
// and link targets) and PAX (long names, xattrs, large ids) form all come
// through with their names, links and metadata.
func TestTarFormats(t *testing.T) {
	long := "./usr/share/" + strings.Repeat("very-long-directory-name/", 8) + "file"
	data := []debtest.Entry{
		{Header: tar.Header{Name: "./ustar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1, Format: tar.FormatUSTAR}, Body: "u"},
		{Header: tar.Header{Name: long + ".gnu", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1, Format: tar.FormatGNU}, Body: "g"},
		{Header: tar.Header{Name: "./gnu-link", Typeflag: tar.TypeSymlink, Linkname: "/" + strings.Repeat("target/", 20), Format: tar.FormatGNU}},
		{Header: tar.Header{Name: long + ".pax", Typeflag: tar.TypeReg, Mode: 0o755, Uid: 3_000_000, Gid: 42, Size: 1, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}}, Body: "p"},
	}
	var got []*tar.Header
	_, err := Read(context.Background(), bytes.NewReader(debtest.Build(debtest.Package{Data: data})), "formats.deb", func(h *tar.Header, body io.Reader) error {
		got = append(got, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) {
		t.Fatalf("%d entries, want %d", len(got), len(data))
	}
	for i, h := range got {
		w := data[i].Header
		if h.Name != w.Name || h.Linkname != w.Linkname || h.Mode != w.Mode || h.Uid != w.Uid || h.Gid != w.Gid || h.Size != w.Size {
			t.Errorf("entry %d: got %q %q %o %d:%d size %d, want %q %q %o %d:%d size %d", i,
				h.Name, h.Linkname, h.Mode, h.Uid, h.Gid, h.Size, w.Name, w.Linkname, w.Mode, w.Uid, w.Gid, w.Size)
		}
	}
	if got[3].PAXRecords["SCHILY.xattr.security.capability"] != "\x01\x00\x00\x02" {
		t.Errorf("PAX xattr lost: %v", got[3].PAXRecords)
	}
}

// TestHostileTar feeds data.tar members that archive/tar must refuse: a
// PAX header larger than its 1 MiB limit, a negative size, and a header
// whose checksum is wrong. Each must be a one-line error naming the file.
func TestHostileTar(t *testing.T) {
	good := debtest.Tar(debtest.File("./a", 0o644, "x"))
	badSum := bytes.Clone(good)
	badSum[148] ^= 1 // header checksum field
	var pax bytes.Buffer
	ph := make([]byte, 512)
	copy(ph, "./PaxHeaders/a")
	copy(ph[100:], "0000644\x00")
	copy(ph[124:], fmt.Sprintf("%011o\x00", 2<<20))
	ph[156] = 'x'
	copy(ph[257:], "ustar\x0000")
	copy(ph[148:], "        ")
	sum := 0
	for _, c := range ph {
		sum += int(c)
	}
	copy(ph[148:], fmt.Sprintf("%06o\x00 ", sum))
	pax.Write(ph)
	pax.Write(bytes.Repeat([]byte("9"), 2<<20))
	negSize := bytes.Clone(good)
	copy(negSize[124:136], "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
	ctl := debtest.Tar(debtest.File("./control", 0o644, "Package: a\nVersion: 1\nArchitecture: all\n"))
	for name, data := range map[string][]byte{"bad checksum": badSum, "huge pax header": pax.Bytes(), "negative size": negSize} {
		t.Run(name, func(t *testing.T) {
			b := debtest.Ar(debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")}, debtest.Member{Name: "control.tar", Data: ctl}, debtest.Member{Name: "data.tar", Data: data})
			_, _, err := collect(t, b, "hostile.deb")
			t.Log(err)
			if err == nil || !strings.HasPrefix(err.Error(), "hostile.deb: data.tar: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v", err)
			}
		})
	}
}
