package vfat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

// mem is an in-memory image.
type mem []byte

func (m mem) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m)) {
		return 0, io.ErrShortWrite
	}
	return copy(m[off:], p), nil
}

func (m mem) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

var buildTime = time.Date(2026, 11, 26, 10, 30, 44, 0, time.UTC)

func data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// espTree is an ESP as debatom lays it out, plus the awkward cases: long
// names that collide in 8.3, names needing case flags or LFNs, Unicode,
// empty files and directories, a directory spanning several clusters and
// files spanning many.
func espTree() fstest.MapFS {
	t := fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI":         {Data: data(1, 900_000)},
		"EFI/debian/grubx64.efi":       {Data: data(2, 70_001)},
		"EFI/debian/grub.cfg":          {Data: []byte("search --label root\n")},
		"loader/loader.conf":           {Data: []byte("timeout 3\n")},
		"loader/entries/ostree-1.conf": {Data: []byte("title Debian\nlinux /ostree/debian-x/vmlinuz-6.12\n")},
		"ostree/debian-0123456789abcdef/vmlinuz-6.12.48+deb13-amd64":       {Data: data(3, 3_000_000)},
		"ostree/debian-0123456789abcdef/initramfs-6.12.48+deb13-amd64.img": {Data: data(4, 1_234_567)},
		"Long File Name One.txt": {Data: []byte("one")},
		"Long File Name Two.txt": {Data: []byte("two")},
		"LONGFI~1.TXT":           {Data: []byte("literal tail")},
		"MixedCase.Txt":          {Data: []byte("mixed")},
		".hidden":                {Data: []byte("dot")},
		"tärkeä ünïcødé ☃.conf":  {Data: []byte("unicode")},
		"exactly13char":          {Data: []byte("13")},
		"empty":                  {Data: nil},
		"emptydir":               {Mode: fs.ModeDir | 0o755},
		"a/b/c/d/e/f/g/deep.txt": {Data: []byte("deep")},
		strings.Repeat("n", 255): {Data: []byte("longest name")},
	}
	for i := range 150 {
		t[filepath.Join("many", "file number "+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"-"+strconv.Itoa(i)+".dat")] = &fstest.MapFile{Data: []byte(strconv.Itoa(i))}
	}
	return t
}

var espOpts = Options{Size: 64 << 20, VolumeID: 0x1234ABCD, Label: "ESP", Time: buildTime}

func TestRoundTrip(t *testing.T) {
	tree := espTree()
	// Outside the BMP: a surrogate pair in the long name (which mtools
	// 4.0.32 shows as "__", so only this test has it).
	tree["emoji 😀 name.txt"] = &fstest.MapFile{Data: []byte("surrogates")}
	img := make(mem, espOpts.Size)
	if err := Write(context.Background(), img, tree, espOpts); err != nil {
		t.Fatal(err)
	}
	f, err := Open(img, int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Label() != "ESP" || f.VolumeID() != 0x1234ABCD {
		t.Errorf("label %q, volume ID %08X", f.Label(), f.VolumeID())
	}
	testenv.CompareTree(t, f, tree)
	var paths []string
	for p := range tree {
		paths = append(paths, p)
	}
	if err := fstest.TestFS(f, paths...); err != nil {
		t.Fatal(err)
	}
	info, err := fs.Stat(f, "EFI/BOOT/BOOTX64.EFI")
	if err != nil {
		t.Fatal(err)
	}
	if !info.ModTime().Equal(buildTime) {
		t.Errorf("mtime %v, want %v", info.ModTime(), buildTime)
	}
}

func TestReproducible(t *testing.T) {
	sum := func() [32]byte {
		img := make(mem, espOpts.Size)
		if err := Write(context.Background(), img, espTree(), espOpts); err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(img)
	}
	if a, b := sum(), sum(); a != b {
		t.Fatal("the same tree and options gave different images")
	}
}

func TestShortNames(t *testing.T) {
	cases := []struct {
		longs []string
		want  []string // 11-byte entry names
		lfn   []bool
	}{
		{[]string{"BOOTX64.EFI"}, []string{"BOOTX64 EFI"}, []bool{false}},
		{[]string{"grubx64.efi"}, []string{"GRUBX64 EFI"}, []bool{true}},
		{[]string{"loader"}, []string{"LOADER     "}, []bool{true}},
		{[]string{"ostree-1.conf"}, []string{"OSTREE~1CON"}, []bool{true}},
		{[]string{"Long File Name One.txt", "Long File Name Two.txt"}, []string{"LONGFI~1TXT", "LONGFI~2TXT"}, []bool{true, true}},
		{[]string{"longfilename.txt", "LONGFI~1.TXT"}, []string{"LONGFI~2TXT", "LONGFI~1TXT"}, []bool{true, false}},
		{[]string{".hidden"}, []string{"HIDDEN~1   "}, []bool{true}},
		{[]string{"a+b=c.d"}, []string{"A_B_C~1 D  "}, []bool{true}},
		{[]string{"ünï.txt"}, []string{"_N_~1   TXT"}, []bool{true}},
		{[]string{"x.tar.gz"}, []string{"XTAR~1  GZ "}, []bool{true}},
	}
	for _, c := range cases {
		names := shortNamer{taken: map[[11]byte]bool{}}
		got := make([][11]byte, len(c.longs))
		lfn := make([]bool, len(c.longs))
		for _, tails := range []bool{false, true} {
			for i, l := range c.longs {
				if got[i] != ([11]byte{}) {
					continue
				}
				s, needLFN, err := names.assign(l, tails)
				if err != nil {
					t.Fatal(err)
				}
				got[i], lfn[i] = s, needLFN
			}
		}
		for i := range c.longs {
			if string(got[i][:]) != c.want[i] || lfn[i] != c.lfn[i] {
				t.Errorf("%q: got %q (LFN %v), want %q (LFN %v)", c.longs[i], got[i], lfn[i], c.want[i], c.lfn[i])
			}
		}
	}
}

func TestWriteRejects(t *testing.T) {
	cases := map[string]struct {
		tree fstest.MapFS
		opts Options
		want string
	}{
		"symlink":     {fstest.MapFS{"link": {Mode: fs.ModeSymlink, Data: []byte("x")}}, espOpts, "holds only files and directories"},
		"bad char":    {fstest.MapFS{"a:b": {}}, espOpts, "does not allow"},
		"trailing .":  {fstest.MapFS{"name.": {}}, espOpts, "ends in a dot"},
		"case clash":  {fstest.MapFS{"README": {}, "readme": {}}, espOpts, "differ only in case"},
		"too long":    {fstest.MapFS{strings.Repeat("n", 256): {}}, espOpts, "FAT allows 255"},
		"too big":     {fstest.MapFS{"big": {Data: make([]byte, 40<<20)}}, Options{Size: 34 << 20}, "does not fit"},
		"small":       {fstest.MapFS{}, Options{Size: 16 << 20}, "at least 65525"},
		"odd size":    {fstest.MapFS{}, Options{Size: 64<<20 + 1}, "multiple of 512"},
		"long label":  {fstest.MapFS{}, Options{Size: 64 << 20, Label: "ABCDEFGHIJKL"}, "longer than 11"},
		"label chars": {fstest.MapFS{}, Options{Size: 64 << 20, Label: "A/B"}, "cannot hold"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			img := make(mem, max(c.opts.Size, 1<<20))
			err := Write(context.Background(), img, c.tree, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Write: %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "vfat: ") {
				t.Errorf("error is not one line starting with vfat: %q", err)
			}
		})
	}
}

// tinyImage writes tree on a geometry far too small for real FAT32 (which
// the reader accepts, as Linux does), to make compact fuzz seeds.
func tinyImage(t testing.TB, tree fs.FS) mem {
	g := geometry{totalSecs: 128, secPerClus: 1, fatSecs: 1, clusters: 126 - reservedSecs}
	img := make(mem, int64(g.totalSecs)*sectorSize)
	label, _ := volumeLabel("TINY")
	if err := write(context.Background(), img, tree, Options{VolumeID: 1, Time: buildTime}, label, g); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestReadRejects(t *testing.T) {
	tree := fstest.MapFS{"dir/file.txt": {Data: bytes.Repeat([]byte("x"), 3000)}}
	const fat = reservedSecs * sectorSize
	cases := map[string]struct {
		corrupt func(mem)
		want    string
	}{
		"signature":   {func(m mem) { m[510] = 0 }, "no boot sector signature"},
		"FAT16":       {func(m mem) { binary.LittleEndian.PutUint16(m[22:], 1) }, "not a FAT32"},
		"sector size": {func(m mem) { binary.LittleEndian.PutUint16(m[11:], 300) }, "bytes per sector"},
		"oversize":    {func(m mem) { binary.LittleEndian.PutUint32(m[32:], 1<<30) }, "larger than its"},
		"root range":  {func(m mem) { binary.LittleEndian.PutUint32(m[44:], 1<<20) }, "out of range"},
		"loop": {func(m mem) {
			// The file's chain (clusters 4…9) points back at its start.
			binary.LittleEndian.PutUint32(m[fat+4*6:], 4)
		}, "loops back"},
		"short chain":   {func(m mem) { binary.LittleEndian.PutUint32(m[fat+4*6:], fatEOC) }, "shorter than"},
		"free in chain": {func(m mem) { binary.LittleEndian.PutUint32(m[fat+4*5:], 0) }, "invalid cluster"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			img := tinyImage(t, tree)
			if _, err := fs.ReadFile(must(Open(img, int64(len(img)))), "dir/file.txt"); err != nil {
				t.Fatalf("uncorrupted image: %v", err)
			}
			c.corrupt(img)
			f, err := Open(img, int64(len(img)))
			if err == nil {
				_, err = fs.ReadFile(f, "dir/file.txt")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func must(f *FS, err error) *FS {
	if err != nil {
		panic(err)
	}
	return f
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte(tinyImage(f, fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI":         {Data: []byte("MZ")},
		"loader/entries/ostree-1.conf": {Data: []byte("title x\n")},
		"Long Name.txt":                {Data: bytes.Repeat([]byte("y"), 1500)},
	})))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys, err := Open(mem(b), int64(len(b)))
		if err != nil {
			return
		}
		n := 0
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			// A directory entry may point back at an ancestor, making the
			// tree infinite: bound the walk.
			if n++; err != nil || n > 200 || strings.Count(p, "/") > 8 {
				return fs.SkipDir
			}
			if !d.IsDir() {
				fs.ReadFile(fsys, p)
			}
			return nil
		})
	})
}

func BenchmarkWrite(b *testing.B) {
	tree := fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI": {Data: data(1, 1<<20)},
		"ostree/vmlinuz":       {Data: data(2, 12<<20)},
		"ostree/initramfs.img": {Data: data(3, 50<<20)},
	}
	img := make(mem, DefaultSize)
	b.SetBytes(63 << 20)
	for b.Loop() {
		if err := Write(context.Background(), img, tree, Options{VolumeID: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// writeFile writes tree into a sparse image file.
func writeFile(t *testing.T, tree fs.FS, opts Options) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "esp.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(opts.Size); err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), f, tree, opts); err != nil {
		t.Fatal(err)
	}
	return p
}

// utf8Env makes mtools convert long names to UTF-8 rather than '_'.
var utf8Env = append(os.Environ(), "LC_ALL=C.UTF-8")

func TestOracle(t *testing.T) {
	fsck := testenv.Tool(t, "fsck.vfat")
	mcopy := testenv.Tool(t, "mcopy")
	mdir := testenv.Tool(t, "mdir")
	tree := espTree()
	for _, size := range []int64{64 << 20, DefaultSize, 260 << 20} {
		opts := espOpts
		opts.Size = size
		img := writeFile(t, tree, opts)

		out, err := exec.Command(fsck, "-n", "-v", img).CombinedOutput()
		if err != nil {
			t.Fatalf("fsck.vfat -n (size %d): %v\n%s", size, err, out)
		}
		for _, bad := range []string{"rror", "differ", "wrong", "Dirty", "orrupt", "Orphan", "checksum", "Bad "} {
			if strings.Contains(string(out), bad) {
				t.Errorf("fsck.vfat -n (size %d) reports %q:\n%s", size, bad, out)
			}
		}

		// mtools reads the long names and the contents.
		cmd := exec.Command(mdir, "-/", "-a", "-i", img, "::")
		cmd.Env = utf8Env
		out, err = cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mdir: %v\n%s", err, out)
		}
		for _, want := range []string{"BOOTX64  EFI", "grubx64.efi", "ostree-1.conf", "Long File Name Two.txt", "tärkeä ünïcødé ☃.conf", "deep.txt", "ESP"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("mdir -/ does not list %q", want)
			}
		}
		for _, p := range []string{"EFI/BOOT/BOOTX64.EFI", "loader/entries/ostree-1.conf", "EFI/debian/grubx64.efi", "Long File Name One.txt", "LONGFI~1.TXT"} {
			cmd := exec.Command(mcopy, "-n", "-i", img, "::/"+p, "-")
			cmd.Env = utf8Env
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("mcopy %s: %v", p, err)
			}
			if !bytes.Equal(got, tree[p].Data) {
				t.Errorf("mcopy %s: %d bytes differ from the %d written", p, len(got), len(tree[p].Data))
			}
		}
		// And the whole tree, copied out recursively, is the tree written.
		dst := t.TempDir()
		cmd = exec.Command(mcopy, "-s", "-n", "-i", img, "::/", dst)
		cmd.Env = utf8Env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mcopy -s: %v\n%s", err, out)
		}
		testenv.CompareTree(t, os.DirFS(dst), tree)
	}
}

// TestReadMkfsImage checks the reader against an independent writer:
// mkfs.vfat makes the file system and mtools copies the tree in.
func TestReadMkfsImage(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.vfat")
	mcopy := testenv.Tool(t, "mcopy")
	tree := espTree()
	src := t.TempDir()
	for p, f := range tree {
		full := filepath.Join(src, p)
		if f.Mode.IsDir() {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "mkfs.img")
	if out, err := exec.Command(mkfs, "-F", "32", "-n", "MKFS", "-i", "0badcafe", "-C", img, "65536").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v\n%s", err, out)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-s", "-i", img}
	for _, e := range ents {
		args = append(args, filepath.Join(src, e.Name()))
	}
	cmd := exec.Command(mcopy, append(args, "::/")...)
	cmd.Env = utf8Env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy -s: %v\n%s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	fsys, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Label() != "MKFS" || fsys.VolumeID() != 0x0BADCAFE {
		t.Errorf("label %q, volume ID %08X", fsys.Label(), fsys.VolumeID())
	}
	testenv.CompareTree(t, fsys, tree)
}
