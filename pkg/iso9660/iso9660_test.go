package iso9660

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf16"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/gpt"
	"github.com/debatom/debatom/pkg/vfat"
)

var buildTime = time.Date(2026, 11, 26, 10, 30, 44, 0, time.UTC)

func data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// memWriterAt is an in-memory image for pkg/vfat.
type memWriterAt []byte

func (m memWriterAt) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// espImage returns a FAT image holding efi as \EFI\BOOT\BOOTX64.EFI.
func espImage(t testing.TB, efi []byte, cfg string) []byte {
	img := make(memWriterAt, 34<<20)
	esp := fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI": {Data: efi},
		"EFI/debian/grub.cfg":  {Data: []byte(cfg)},
	}
	if err := vfat.Write(context.Background(), img, esp, vfat.Options{Size: int64(len(img)), VolumeID: 0xEF1, Label: "EFIBOOT", Time: buildTime}); err != nil {
		t.Fatal(err)
	}
	return img
}

// isoTree is a live-ISO-like tree plus the awkward cases: long and
// Unicode names, names that collide once mapped to ISO 9660 characters,
// deep and empty directories, empty files, a directory of many sectors.
func isoTree(t testing.TB) fstest.MapFS {
	tree := fstest.MapFS{
		"boot/efiboot.img":                      {Data: espImage(t, data(1, 100_000), "echo x\n")},
		"live/vmlinuz-6.12.48+deb13-amd64":      {Data: data(2, 1_000_001)},
		"live/initrd.img-6.12.48+deb13-amd64":   {Data: data(3, 2048*3)},
		"EFI/debian/grub.cfg":                   {Data: []byte("set timeout=3\n")},
		"README.txt":                            {Data: []byte("Debian atomic\n")},
		"readme.TXT.bak":                        {Data: []byte("collides with README once upper-cased\n")},
		"Ünïcode – ☃ name.conf":                 {Data: []byte("unicode")},
		"a/b/c/d/e/f/g/h/i/deep.txt":            {Data: []byte("deep")},
		"empty":                                 {Data: nil},
		"emptydir":                              {Mode: fs.ModeDir | 0o755},
		strings.Repeat("long-name-", 6) + "end": {Data: []byte("64 units")},
		"same-prefix-for-truncation-aaaaaaaaaaaaaaa-1.txt": {Data: []byte("1")},
		"same-prefix-for-truncation-aaaaaaaaaaaaaaa-2.txt": {Data: []byte("2")},
	}
	for i := range 120 {
		tree["pool/package-number-"+strconv.Itoa(i)+".deb"] = &fstest.MapFile{Data: []byte(strconv.Itoa(i))}
	}
	return tree
}

var isoOpts = Options{VolumeID: "Debian atomic 13", Time: buildTime, EFIBootImage: "boot/efiboot.img"}

func writeISO(t testing.TB, tree fs.FS, opts Options) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.iso")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(context.Background(), f, tree, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReproducible(t *testing.T) {
	tree := isoTree(t)
	sum := func() [32]byte {
		var b bytes.Buffer
		if err := Write(context.Background(), &b, tree, isoOpts); err != nil {
			t.Fatal(err)
		}
		if b.Len()%sectorSize != 0 {
			t.Fatalf("image is %d bytes, not whole sectors", b.Len())
		}
		return sha256.Sum256(b.Bytes())
	}
	if sum() != sum() {
		t.Fatal("the same tree and options gave different images")
	}
}

func TestWriteRejects(t *testing.T) {
	cases := map[string]struct {
		tree fstest.MapFS
		opts Options
		want string
	}{
		"fifo":        {fstest.MapFS{"p": {Mode: fs.ModeNamedPipe}}, Options{}, "only files, directories and symlinks"},
		"empty link":  {fstest.MapFS{"l": {Mode: fs.ModeSymlink}}, Options{}, "symlink to nothing"},
		"long target": {fstest.MapFS{"l": {Mode: fs.ModeSymlink, Data: []byte(strings.Repeat("t", 300))}}, Options{}, "component longer than"},
		"no boot":     {fstest.MapFS{"a": {}}, Options{EFIBootImage: "efi.img"}, "not a file in the tree"},
		"boot is dir": {fstest.MapFS{"efi/x": {}}, Options{EFIBootImage: "efi"}, "not a file in the tree"},
		"empty boot":  {fstest.MapFS{"efi.img": {}}, Options{EFIBootImage: "efi.img"}, "is empty"},
		"volume ID":   {fstest.MapFS{}, Options{VolumeID: strings.Repeat("V", 33)}, "longer than 32"},
		"hybrid":      {fstest.MapFS{"a": {}}, Options{Hybrid: true}, "needs an EFI boot image"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := Write(context.Background(), io.Discard, c.tree, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Write: %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "iso9660: ") {
				t.Errorf("error is not one line starting with iso9660: %q", err)
			}
		})
	}
}

func TestISONames(t *testing.T) {
	kids := []*node{
		{name: "README.txt"}, {name: "readme.TXT"}, {name: "boot", dir: true},
		{name: "vmlinuz-6.12.48+deb13-amd64"}, {name: strings.Repeat("a", 40) + ".conf"}, {name: strings.Repeat("a", 40) + ".conf2"},
	}
	assignISONames(kids)
	want := []string{"README.TXT;1", "README_1.TXT;1", "BOOT", "VMLINUZ_6_12.48_DEB13;1", strings.Repeat("A", 26) + ".CONF;1", strings.Repeat("A", 25) + ".CONF2;1"}
	for i, k := range kids {
		if k.isoName != want[i] {
			t.Errorf("%q: %q, want %q", k.name, k.isoName, want[i])
		}
	}
}

func TestBootCatalog(t *testing.T) {
	for _, c := range []struct {
		size  int64
		count uint16
	}{{1, 1}, {512, 1}, {513, 2}, {0xFFFF * 512, 0xFFFF}, {0xFFFF*512 + 1, 0}, {34 << 20, 0}} {
		b := bootCatalog(&node{size: c.size, extent: 1234})
		var sum uint16
		for i := 0; i < 32; i += 2 {
			sum += uint16(b[i]) | uint16(b[i+1])<<8
		}
		if sum != 0 || b[30] != 0x55 || b[31] != 0xAA || b[1] != 0xEF {
			t.Errorf("validation entry %x does not check out", b[:32])
		}
		if got := uint16(b[38]) | uint16(b[39])<<8; got != c.count {
			t.Errorf("image of %d bytes: sector count %d, want %d", c.size, got, c.count)
		}
		if b[32] != 0x88 || b[33] != 0 || b[40] != 1234&0xFF || b[41] != 1234>>8 {
			t.Errorf("default entry %x is not a bootable no-emulation entry at 1234", b[32:64])
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	tree := fstest.MapFS{
		"boot/efiboot.img": {Data: data(1, 8<<20)},
		"live/filesystem":  {Data: data(2, 56<<20)},
	}
	b.SetBytes(64 << 20)
	for b.Loop() {
		if err := Write(context.Background(), io.Discard, tree, Options{EFIBootImage: "boot/efiboot.img"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOracle(t *testing.T) {
	xorriso := testenv.Tool(t, "xorriso")
	isoinfo := testenv.Tool(t, "isoinfo")
	tree := isoTree(t)
	img := writeISO(t, tree, isoOpts)

	// El Torito: one UEFI no-emulation entry at the boot image.
	out, err := exec.Command(xorriso, "-indev", img, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -report_el_torito: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`El Torito boot img :\s+1\s+UEFI\s+y\s+none\s+0x0000\s+0x00\s+(\d+)\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("xorriso shows no UEFI boot image:\n%s", out)
	}
	if !strings.Contains(string(out), "El Torito img path :   1  /boot/efiboot.img") {
		t.Errorf("xorriso does not tie the boot entry to /boot/efiboot.img:\n%s", out)
	}
	count, _ := strconv.Atoi(string(m[1]))
	lba, _ := strconv.ParseInt(string(m[2]), 10, 64)
	boot := tree["boot/efiboot.img"].Data
	// A FAT32 image is always over the 32 MiB a 16-bit count of 512-byte
	// sectors can say, so the count is 0: "to the end of the volume".
	if want := (len(boot) + 511) / 512; count != want && !(want > 0xFFFF && count == 0) {
		t.Errorf("boot entry loads %d sectors, image has %d bytes", count, len(boot))
	}
	if st, _ := os.Stat(img); lba*sectorSize+int64(len(boot)+sectorSize-1)/sectorSize*sectorSize != st.Size() {
		t.Errorf("the boot image at sector %d is not the last thing in the %d-byte volume", lba, st.Size())
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(boot))
	if _, err := f.ReadAt(got, lba*sectorSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, boot) {
		t.Error("the bytes at the boot entry's LBA are not the boot image")
	}

	out, err = exec.Command(isoinfo, "-d", "-i", img).CombinedOutput()
	if err != nil {
		t.Fatalf("isoinfo -d: %v\n%s", err, out)
	}
	for _, want := range []string{"Volume id: DEBIAN_ATOMIC_13", "Joliet with UCS level 3 found", "El Torito VD version 1 found", "Arch 239", "Bootid 88 (bootable)", "No Emulation Boot"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("isoinfo -d does not say %q:\n%s", want, out)
		}
	}

	// The primary tree has ISO 9660 names; isoinfo lists every path.
	out, err = exec.Command(isoinfo, "-f", "-i", img).CombinedOutput()
	if err != nil {
		t.Fatalf("isoinfo -f: %v\n%s", err, out)
	}
	for _, want := range []string{"/BOOT/EFIBOOT.IMG;1", "/README.TXT;1", "/README_TXT.BAK;1", "/A/B/C/D/E/F/G/H/I/DEEP.TXT;1", "/EMPTYDIR"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("isoinfo -f does not list %s", want)
		}
	}

	// The Joliet tree, extracted by xorriso, is the tree written.
	dst := filepath.Join(t.TempDir(), "x")
	out, err = exec.Command(xorriso, "-joliet", "on", "-rockridge", "off", "-osirrox", "on", "-indev", img, "-extract", "/", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -extract: %v\n%s", err, out)
	}
	testenv.CompareTree(t, os.DirFS(dst), tree)
}

func TestHybridOracle(t *testing.T) {
	sfdisk := testenv.Tool(t, "sfdisk")
	sgdisk := testenv.Tool(t, "sgdisk")
	mcopy := testenv.Tool(t, "mcopy")
	isoinfo := testenv.Tool(t, "isoinfo")
	tree := isoTree(t)
	opts := isoOpts
	opts.Hybrid = true
	img := writeISO(t, tree, opts)
	plain := writeISO(t, tree, isoOpts)
	if got, want := fileSizeOf(t, img), fileSizeOf(t, plain)+gptTailSectors*sectorSize; got != want {
		t.Errorf("hybrid image is %d bytes, want the plain one's %d plus the GPT tail", got, want)
	}

	out, err := exec.Command(sfdisk, "--json", img).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var js struct {
		PartitionTable struct {
			Label      string `json:"label"`
			Partitions []struct {
				Start, Size int64
				Type        string
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatal(err)
	}
	pt := js.PartitionTable
	boot := tree["boot/efiboot.img"].Data
	if pt.Label != "gpt" || len(pt.Partitions) != 1 || pt.Partitions[0].Type != gpt.TypeEFISystem.String() ||
		pt.Partitions[0].Size != int64(len(boot)+511)/512 {
		t.Fatalf("sfdisk sees %s", out)
	}
	if out, err := exec.Command(sfdisk, "--verify", img).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
	if out, err := exec.Command(sgdisk, "-v", img).CombinedOutput(); err != nil || !strings.Contains(string(out), "No problems found") {
		t.Errorf("sgdisk -v: %v\n%s", err, out)
	}
	// The partition is the boot image: mtools reads the ESP through it.
	off := pt.Partitions[0].Start * 512
	got, err := exec.Command(mcopy, "-n", "-i", img+"@@"+strconv.FormatInt(off, 10), "::/EFI/debian/grub.cfg", "-").Output()
	if err != nil || string(got) != "echo x\n" {
		t.Errorf("mcopy from the ESP partition: %v, %q", err, got)
	}
	// And it is still an ISO with its El Torito catalog.
	if out, err := exec.Command(isoinfo, "-d", "-i", img).CombinedOutput(); err != nil || !strings.Contains(string(out), "El Torito VD version 1 found") {
		t.Errorf("isoinfo -d on the hybrid image: %v\n%s", err, out)
	}
}

func fileSizeOf(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// rrTree has what only Rock Ridge can carry: modes, symlinks, names over
// Joliet's 64 characters (such as OSTree object names) and characters
// Joliet forbids.
func rrTree() fstest.MapFS {
	obj := strings.Repeat("0123456789abcdef", 4)[:62]
	return fstest.MapFS{
		"bin/busybox":                            {Data: data(5, 5000), Mode: 0o755},
		"etc/shadow":                             {Data: []byte("root:*:1::::::\n"), Mode: 0o640},
		"etc/motd":                               {Data: []byte("hello\n"), Mode: 0o644},
		"usr/sbin/init":                          {Data: []byte("#!/bin/sh\n"), Mode: 0o4755},
		"sbin":                                   {Data: []byte("usr/sbin"), Mode: fs.ModeSymlink | 0o777},
		"abs":                                    {Data: []byte("/usr/lib/os-release"), Mode: fs.ModeSymlink | 0o777},
		"up":                                     {Data: []byte("../x/./y"), Mode: fs.ModeSymlink | 0o777},
		"repo/objects/ab/" + obj + ".filez":      {Data: []byte("object"), Mode: 0o644},
		"repo/objects/ab/" + obj + ".dirtree":    {Data: []byte("dirtree"), Mode: 0o644},
		strings.Repeat("long-", 40) + "name.txt": {Data: []byte("200+"), Mode: 0o644},
		strings.Repeat("m", 255):                 {Data: []byte("255"), Mode: 0o644},
		"semi;colon:and?star*.txt":               {Data: []byte("forbidden in Joliet"), Mode: 0o644},
		"private":                                {Mode: fs.ModeDir | 0o700},
		"a/b/c/d/e/f/g/h/i/j/k/deep":             {Data: []byte("deep"), Mode: 0o600},
	}
}

func TestRockRidgeOracle(t *testing.T) {
	xorriso := testenv.Tool(t, "xorriso")
	tree := rrTree()
	img := writeISO(t, tree, Options{VolumeID: "RR", Time: buildTime})

	dst := filepath.Join(t.TempDir(), "rr")
	if out, err := exec.Command(xorriso, "-osirrox", "on", "-indev", img, "-extract", "/", dst).CombinedOutput(); err != nil {
		t.Fatalf("xorriso -extract: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if rel == "." {
			return nil
		}
		seen[rel] = true
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		want, ok := tree[rel]
		if !ok {
			if !st.IsDir() {
				t.Errorf("unexpected %s", rel)
			}
			return nil
		}
		if st.Mode().Type() != want.Mode.Type() {
			t.Errorf("%s: type %v, want %v", rel, st.Mode().Type(), want.Mode.Type())
		}
		switch {
		case want.Mode&fs.ModeSymlink != 0:
			if target, err := os.Readlink(p); err != nil || target != string(want.Data) {
				t.Errorf("%s: link to %q (%v), want %q", rel, target, err, want.Data)
			}
		case st.Mode().IsRegular():
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, want.Data) {
				t.Errorf("%s: content differs (%v)", rel, err)
			}
			fallthrough
		default:
			if got, w := st.Mode()&(fs.ModePerm|fs.ModeSetuid), want.Mode&(fs.ModePerm|fs.ModeSetuid); got != w {
				t.Errorf("%s: mode %v, want %v", rel, got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range tree {
		if !seen[p] {
			t.Errorf("%s is missing from the Rock Ridge tree", p)
		}
	}

	// The Joliet tree holds every regular file, under a name cut to 64
	// characters where need be, and no symlinks.
	isoinfo := testenv.Tool(t, "isoinfo")
	out, err := exec.Command(isoinfo, "-J", "-f", "-i", img).Output()
	if err != nil {
		t.Fatalf("isoinfo -J -f: %v", err)
	}
	want := 0
	for p, f := range tree {
		if f.Mode.IsRegular() {
			want++
		}
		if f.Mode&fs.ModeSymlink != 0 && strings.Contains("\n"+string(out), "\n/"+p+"\n") {
			t.Errorf("the Joliet tree has symlink %s", p)
		}
	}
	files := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name := path.Base(line)
		if len(utf16.Encode([]rune(name))) > maxJolietName {
			t.Errorf("Joliet name %q is over 64 characters", name)
		}
		if strings.Contains(name, ".") || strings.HasPrefix(name, "m") || name == "busybox" || name == "shadow" || name == "init" || name == "deep" {
			files++
		}
	}
	for _, w := range []string{"/repo/objects/ab/0123456789abcdef0123456789abcdef0123456789abcdef0123456789.filez\n", "/semi_colon_and_star_.txt\n"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("isoinfo -J -f does not list %q:\n%s", w, out)
		}
	}
	if files != want {
		t.Errorf("the Joliet tree has %d files, want %d:\n%s", files, want, out)
	}
}
