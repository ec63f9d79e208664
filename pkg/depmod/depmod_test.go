package depmod

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

const testKVer = "6.0.0-test"

// copyTree copies testdata/tree (or any tree) to a fresh temp root.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

// runHostDepmod runs the real depmod on root (a merged-/usr tree) and
// returns its files; the lib → usr/lib link lets older kmod find
// lib/modules.
func runHostDepmod(t testing.TB, root, kver string) (map[string][]byte, Compat) {
	t.Helper()
	depmod := testenv.Tool(t, "depmod")
	if _, err := os.Lstat(filepath.Join(root, "lib")); os.IsNotExist(err) {
		if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil {
			t.Fatal(err)
		}
	}
	compat := hostCompat(t, depmod)
	if out, err := exec.Command(depmod, "-b", root, kver).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v: %s", err, out)
	}
	return readOutputs(t, filepath.Join(root, ModulesDir(kver))), compat
}

func hostCompat(t testing.TB, depmod string) Compat {
	out, err := exec.Command(depmod, "-V").Output()
	if err != nil {
		t.Fatalf("depmod -V: %v", err)
	}
	m := regexp.MustCompile(`kmod version (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("depmod -V: no version in %q", out)
	}
	v, _ := strconv.Atoi(string(m[1]))
	switch {
	case v >= 34:
		return Kmod34
	case v <= 32:
		return Kmod30
	}
	t.Skipf("kmod %d writes a format between the two reproduced ones", v)
	return 0
}

func readOutputs(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "modules.") || n == "modules.order" || n == "modules.builtin" || n == "modules.builtin.modinfo" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

func compareFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for n, w := range want {
		g, ok := got[n]
		if !ok {
			t.Errorf("%s: depmod wrote it, we did not", n)
			continue
		}
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs: ours %d bytes, depmod's %d bytes; first difference at byte %d", n, len(g), len(w), firstDiff(g, w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("%s: we wrote it, depmod did not", n)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestTestdataMatchesHostDepmod(t *testing.T) {
	root := copyTree(t, "testdata/tree")
	want, compat := runHostDepmod(t, copyTree(t, "testdata/tree"), testKVer)
	got, err := Generate(context.Background(), os.DirFS(root), testKVer, Options{Compat: compat})
	if err != nil {
		t.Fatal(err)
	}
	compareFiles(t, got, want)
	// The tree has a real dependency: make sure it was found, so the
	// comparison above is not two empty files agreeing.
	if !bytes.Contains(got["modules.dep"], []byte("async_memcpy.ko.xz: kernel/crypto/async_tx/async_tx.ko.xz")) {
		t.Errorf("modules.dep lacks async_memcpy's dependency:\n%s", got["modules.dep"])
	}
}

func TestDeterministic(t *testing.T) {
	var prev map[string][]byte
	for _, workers := range []int{1, 7} {
		got, err := Generate(context.Background(), os.DirFS("testdata/tree"), testKVer, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			compareFiles(t, got, prev)
		}
		prev = got
	}
}

// cloudKernel extracts the Debian 13 cloud kernel package into a temp root.
func cloudKernel(t testing.TB) (root, kver string) {
	t.Helper()
	archive := testenv.Archive(t)
	debs, _ := filepath.Glob(filepath.Join(archive, "pool/main/l/linux-signed-amd64/linux-image-[0-9]*-cloud-amd64_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one cloud kernel package in %s, found %v", archive, debs)
	}
	root = t.TempDir()
	extract(t, root, debs...)
	ents, err := os.ReadDir(filepath.Join(root, "usr/lib/modules"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one kernel in %s: %v %v", debs[0], ents, err)
	}
	return root, ents[0].Name()
}

func extract(t testing.TB, root string, debs ...string) {
	t.Helper()
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	for _, d := range debs {
		if out, err := exec.Command(dpkgDeb, "-x", d, root).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x %s: %v: %s", d, err, out)
		}
	}
}

func TestCloudKernelMatchesHostDepmod(t *testing.T) {
	root, kver := cloudKernel(t)
	modprobe := testenv.Tool(t, "modprobe")
	compat := hostCompat(t, testenv.Tool(t, "depmod"))
	t0 := time.Now()
	got, err := Generate(context.Background(), os.DirFS(root), kver, Options{Compat: compat})
	if err != nil {
		t.Fatal(err)
	}
	ours := time.Since(t0)
	t0 = time.Now()
	want, _ := runHostDepmod(t, root, kver)
	t.Logf("debatom depmod %v, host depmod %v", ours, time.Since(t0))
	compareFiles(t, got, want)
	if n := bytes.Count(got["modules.dep"], []byte("\n")); n < 1000 {
		t.Errorf("modules.dep has only %d modules", n)
	}

	// modprobe must resolve the same way against our indexes: a second
	// root holds only our files and a link to the real module files.
	ourRoot := t.TempDir()
	dir := filepath.Join(ourRoot, ModulesDir(kver))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range got {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, ModulesDir(kver), "kernel"), filepath.Join(dir, "kernel")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("usr/lib", filepath.Join(ourRoot, "lib"))
	for _, name := range []string{"pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", "fs-ext4", "fs-vfat", "virtio_blk", "virtio_scsi", "nvme", "fs-xfs", "fs-btrfs", "overlay", "dm-mod", "symbol:dm_get_device", "char-major-10-236", "crypto-crc32c", "virtio:d00000002v00001AF4"} {
		show := func(r string) string {
			out, err := exec.Command(modprobe, "-d", r, "-S", kver, "--show-depends", name).CombinedOutput()
			s := strings.ReplaceAll(string(out), r, "ROOT")
			if err != nil {
				s += "error: " + err.Error()
			}
			return s
		}
		w, g := show(root), show(ourRoot)
		if w != g {
			t.Errorf("modprobe --show-depends %s:\n depmod's indexes: %s\n ours: %s", name, w, g)
		}
		if strings.TrimSpace(w) == "" {
			t.Errorf("modprobe --show-depends %s resolved to nothing", name)
		}
	}
}

// TestCloudKernelMatchesTrixieDepmod runs Debian 13's own depmod (kmod 34)
// in a chroot of the packages it needs, so the Kmod34 format is checked
// against the real thing too.
func TestCloudKernelMatchesTrixieDepmod(t *testing.T) {
	testenv.Root(t)
	root, kver := cloudKernel(t)
	archive := testenv.Archive(t)
	var debs []string
	for _, pat := range []string{"k/kmod/kmod_*", "g/glibc/libc6_*", "o/openssl/libssl3t64_*", "x/xz-utils/liblzma5_*", "libz/libzstd/libzstd1_*", "b/base-files/base-files_*", "z/zlib/zlib1g_*"} {
		m, _ := filepath.Glob(filepath.Join(archive, "pool/main", pat+"_amd64.deb"))
		if len(m) == 0 {
			m, _ = filepath.Glob(filepath.Join(archive, "pool/main", pat+".deb"))
		}
		if len(m) != 1 {
			t.Fatalf("package %s: found %v", pat, m)
		}
		debs = append(debs, m[0])
	}
	got, err := Generate(context.Background(), os.DirFS(root), kver, Options{Compat: Kmod34})
	if err != nil {
		t.Fatal(err)
	}
	extract(t, root, debs...)
	if out, err := exec.Command(testenv.Tool(t, "chroot"), root, "/usr/sbin/depmod", kver).CombinedOutput(); err != nil {
		t.Fatalf("chroot depmod: %v: %s", err, out)
	}
	compareFiles(t, got, readOutputs(t, filepath.Join(root, ModulesDir(kver))))
}

// decompressed returns the ELF image of a testdata module.
func decompressed(t testing.TB, rel string) []byte {
	t.Helper()
	p := filepath.Join("testdata/tree", ModulesDir(testKVer), rel)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decompress(p, raw)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// corruptSection moves a section's data offset past the end of the file.
func corruptSection(t testing.TB, img []byte, name string) []byte {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range f.Sections {
		if s.Name == name {
			out := slices.Clone(img)
			shoff := binary.LittleEndian.Uint64(img[0x28:])
			entsize := uint64(binary.LittleEndian.Uint16(img[0x3a:]))
			binary.LittleEndian.PutUint64(out[shoff+uint64(i)*entsize+0x18:], uint64(len(img))+1000)
			return out
		}
	}
	t.Fatalf("no section %s", name)
	return nil
}

func TestBadModules(t *testing.T) {
	const rel = "kernel/lib/math/cordic.ko.xz"
	raw, err := os.ReadFile(filepath.Join("testdata/tree", ModulesDir(testKVer), rel))
	if err != nil {
		t.Fatal(err)
	}
	img := decompressed(t, rel)
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"truncated xz", "bad.ko.xz", raw[:len(raw)/2], "xz"},
		{"xz garbage", "bad.ko.xz", []byte("not xz at all"), "xz"},
		{"not ELF", "bad.ko", []byte("\x7fELF but not really"), "not a kernel module"},
		{"modinfo outside file", "bad.ko", corruptSection(t, img, ".modinfo"), "section .modinfo"},
		{"symtab outside file", "bad.ko", corruptSection(t, img, ".symtab"), "section .symtab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyTree(t, "testdata/tree")
			p := filepath.Join(root, ModulesDir(testKVer), "kernel", tc.file)
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Generate(context.Background(), os.DirFS(root), testKVer, Options{})
			if err == nil || !strings.Contains(err.Error(), "kernel/"+tc.file) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got error %v, want one line naming kernel/%s and %q", err, tc.file, tc.want)
			}
			// Lenient mode: warn and keep the module, as depmod does.
			var warnings []string
			files, err := Generate(context.Background(), os.DirFS(root), testKVer, Options{Warnf: func(f string, a ...any) {
				warnings = append(warnings, fmt.Sprintf(f, a...))
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tc.file) {
				t.Errorf("warnings %q, want one naming %s", warnings, tc.file)
			}
			if !bytes.Contains(files["modules.dep"], []byte("kernel/"+tc.file+":\n")) {
				t.Errorf("modules.dep lacks the bad module:\n%s", files["modules.dep"])
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	for _, kver := range []string{"", "../etc", "9.9.9-missing"} {
		if _, err := Load(context.Background(), os.DirFS("testdata/tree"), kver, Options{}); err == nil {
			t.Errorf("kernel %q: no error", kver)
		}
	}
}

func TestModuleNameAndRelPath(t *testing.T) {
	for _, tc := range []struct{ path, name, unc string }{
		{"kernel/fs/ext4/ext4.ko.xz", "ext4", "kernel/fs/ext4/ext4.ko"},
		{"kernel/arch/x86/events/intel/intel-uncore.ko.zst", "intel_uncore", "kernel/arch/x86/events/intel/intel-uncore.ko"},
		{"top.ko", "top", "top.ko"},
	} {
		if n := ModuleName(tc.path); n != tc.name {
			t.Errorf("ModuleName(%s) = %s, want %s", tc.path, n, tc.name)
		}
		if u := uncompressedRelPath(tc.path, tc.name); u != tc.unc {
			t.Errorf("uncompressedRelPath(%s) = %s, want %s", tc.path, u, tc.unc)
		}
	}
}

func TestClosure(t *testing.T) {
	tr, err := Load(context.Background(), os.DirFS("testdata/tree"), testKVer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Closure([]string{"async-memcpy"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"async_tx", "async_memcpy"}) {
		t.Errorf("closure = %v", got)
	}
	if _, err := tr.Closure([]string{"nosuchmod"}); err == nil || !strings.Contains(err.Error(), "nosuchmod") {
		t.Errorf("unknown module: %v", err)
	}
	sub, err := tr.Subset(got).Files()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sub["modules.dep"], []byte("cordic")) || !bytes.Contains(sub["modules.dep"], []byte("async_tx.ko.xz:")) {
		t.Errorf("subset modules.dep:\n%s", sub["modules.dep"])
	}
}

func FuzzParseModule(f *testing.F) {
	for _, rel := range []string{"kernel/lib/math/cordic.ko.xz", "kernel/drivers/pci/pci-pf-stub.ko.xz"} {
		f.Add(decompressed(f, rel))
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, img []byte) {
		mi, err := ParseModule(img)
		if err == nil && mi == nil {
			t.Fatal("nil info without error")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

func FuzzBuiltinModinfo(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata/tree", ModulesDir(testKVer), "modules.builtin.modinfo"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("a.alias=x[\x00b.alias=\x00.alias=y\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &Tree{KVer: testKVer, builtinModinfo: data, builtin: data}
		if _, err := tr.Files(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

func BenchmarkParseModule(b *testing.B) {
	img := decompressed(b, "kernel/drivers/pci/pci-pf-stub.ko.xz")
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := ParseModule(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloudKernel runs the whole computation over Debian 13's cloud
// kernel (1138 modules, xz-compressed).
func BenchmarkCloudKernel(b *testing.B) {
	root, kver := cloudKernel(b)
	for b.Loop() {
		if _, err := Generate(context.Background(), os.DirFS(root), kver, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseDep(t *testing.T) {
	files, err := Generate(context.Background(), os.DirFS("testdata/tree"), testKVer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := ParseDep(files["modules.dep"])
	if err != nil {
		t.Fatal(err)
	}
	if got := deps["kernel/crypto/async_tx/async_memcpy.ko.xz"]; !slices.Equal(got, []string{"kernel/crypto/async_tx/async_tx.ko.xz"}) {
		t.Errorf("async_memcpy deps = %v", got)
	}
	if len(deps) != 4 {
		t.Errorf("%d modules, want 4", len(deps))
	}
	for _, bad := range []string{"no colon here\n", "kernel/a.ko: notamodule\n", ": kernel/a.ko\n"} {
		if _, err := ParseDep([]byte(bad)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseDep(%q) = %v, want a one-line error", bad, err)
		}
	}
}

func FuzzParseDep(f *testing.F) {
	f.Add([]byte("kernel/a.ko.xz: kernel/b.ko.xz\nkernel/b.ko.xz:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseDep(b); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error %q", err)
		}
	})
}

func TestOnly(t *testing.T) {
	tr, err := Load(context.Background(), os.DirFS("testdata/tree"), testKVer, Options{Only: func(n string) bool { return n != "cordic" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Modules) != 3 || tr.Find("cordic") != nil || tr.Find("async_tx") == nil {
		t.Errorf("modules %v", tr.Modules)
	}
}

// BenchmarkHostDepmod runs the real depmod over the same tree as
// BenchmarkCloudKernel, so one `go test -bench` run compares the two.
func BenchmarkHostDepmod(b *testing.B) {
	root, kver := cloudKernel(b)
	depmod := testenv.Tool(b, "depmod")
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	for b.Loop() {
		if out, err := exec.Command(depmod, "-b", root, kver).CombinedOutput(); err != nil {
			b.Fatalf("depmod: %v: %s", err, out)
		}
	}
}

// TestReuseAfterBadModule: one worker reads every module with one decoder
// and one set of buffers; a broken module (truncated xz, garbage) among
// them must not change what is read for the modules after it.
func TestReuseAfterBadModule(t *testing.T) {
	root := copyTree(t, "testdata/tree")
	const rel = "kernel/lib/math/cordic.ko.xz"
	dir := filepath.Join(root, ModulesDir(testKVer))
	raw, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	// "0"/"1" sort first, so the bad files are read before the good ones.
	for name, data := range map[string][]byte{"kernel/0bad.ko.xz": raw[:len(raw)/2], "kernel/1bad.ko.xz": []byte("not xz")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []string
	tr, err := Load(context.Background(), os.DirFS(root), testKVer, Options{Workers: 1, Warnf: func(f string, a ...any) {
		warnings = append(warnings, fmt.Sprintf(f, a...))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings %q, want two", warnings)
	}
	good := 0
	for _, m := range tr.Modules {
		if strings.Contains(m.Path, "bad") {
			continue
		}
		img := decompressed(t, m.Path)
		want, err := ParseModule(img)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.ModuleInfo, *want) {
			t.Errorf("%s: read after bad modules differs from a fresh read", m.Path)
		}
		good++
	}
	if good < 3 {
		t.Fatalf("only %d good modules in testdata", good)
	}
}

// TestParsed: a module Parsed answers for is taken from it and not read
// (here the file is garbage, which would fail Load), the others are read,
// and Parser.Parse over a reader gives what Load reads.
func TestParsed(t *testing.T) {
	root := copyTree(t, "testdata/tree")
	const rel = "kernel/lib/math/cordic.ko.xz"
	dir := ModulesDir(testKVer)
	raw, err := os.ReadFile(filepath.Join(root, dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	var p Parser
	info, err := p.Parse(rel, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(context.Background(), os.DirFS(root), testKVer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, dir, rel), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var asked []string
	tr, err := Load(context.Background(), os.DirFS(root), testKVer, Options{Parsed: func(name string) (*ModuleInfo, bool) {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		return info, name == dir+"/"+rel
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != len(tr.Modules) {
		t.Errorf("Parsed was asked %d times for %d modules", len(asked), len(tr.Modules))
	}
	got, err := tr.Files()
	if err != nil {
		t.Fatal(err)
	}
	compareFiles(t, got, want)
	if Compression(rel) != "xz" || Compression("a.ko.zst") != "zst" || Compression("a.ko.gz") != "gz" || Compression("a.ko") != "" {
		t.Error("Compression names the wrong decompression")
	}
}
