package initramfs

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/depmod"
	"github.com/debatom/debatom/pkg/elfdeps"
)

var (
	treeOnce sync.Once
	treeDir  string
	treeErr  error
)

// archiveTree extracts every package of the frozen archive into one
// directory, once per test binary (it takes tens of seconds).
func archiveTree(t testing.TB) string {
	t.Helper()
	archive := testenv.Archive(t)
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	treeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "initramfs-tree-")
		if err != nil {
			treeErr = err
			return
		}
		treeDir = dir
		debs, _ := filepath.Glob(filepath.Join(archive, "pool/*/*/*/*.deb"))
		for _, d := range debs {
			if out, err := exec.Command(dpkgDeb, "-x", d, dir).CombinedOutput(); err != nil {
				treeErr = &exec.ExitError{Stderr: append([]byte(d+": "), out...)}
				return
			}
		}
	})
	if treeErr != nil {
		t.Fatalf("extracting the archive: %v", treeErr)
	}
	return treeDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if treeDir != "" {
		os.RemoveAll(treeDir)
	}
	os.Exit(code)
}

func dirFS(dir string) FS { return os.DirFS(dir).(FS) }

// extractImage unpacks a compressed image with the real zstd and cpio.
func extractImage(t *testing.T, img []byte) string {
	t.Helper()
	zstdTool, cpioTool := testenv.Tool(t, "zstd"), testenv.Tool(t, "cpio")
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", zstdTool+" -dc | "+cpioTool+" -id --quiet --no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(img)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd | cpio -i: %v: %s", err, out)
	}
	return dir
}

func TestArchiveImage(t *testing.T) {
	root := archiveTree(t)
	t0 := time.Now()
	img, err := Build(context.Background(), dirFS(root), Options{MTime: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initramfs: %d bytes in %v (no modules.dep in the tree: full depmod included)", len(img), time.Since(t0))
	dir := extractImage(t, img)

	// Listing with cpio -t: the things the boot chain needs.
	list := exec.Command(testenv.Tool(t, "cpio"), "-t", "--quiet")
	list.Stdin = bytes.NewReader(zstdDecode(t, img))
	out, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		listed[l] = true
	}
	kver := onlyKernel(t, root)
	mods := "usr/lib/modules/" + kver + "/"
	for _, want := range []string{
		"init", "bin", "lib", "lib64", "sbin", "etc/initrd-release", "usr/lib/initrd-release",
		"usr/lib/systemd/systemd", "usr/lib/systemd/systemd-udevd", "usr/bin/udevadm", "usr/bin/kmod", "usr/sbin/modprobe",
		"usr/lib/systemd/system/initrd.target", "usr/lib/systemd/system/initrd-switch-root.service",
		"usr/lib/systemd/system/ostree-prepare-root.service", "usr/lib/ostree/ostree-prepare-root",
		"etc/systemd/system/initrd-root-fs.target.wants/ostree-prepare-root.service",
		"usr/lib/systemd/system-generators/systemd-fstab-generator", "usr/sbin/e2fsck", "usr/sbin/fsck.ext4",
		"usr/lib/udev/rules.d/60-persistent-storage.rules", "dev/console",
		mods + "modules.dep", mods + "modules.dep.bin", mods + "modules.alias.bin", mods + "modules.symbols.bin",
		mods + "modules.builtin.bin", mods + "kernel/drivers/block/virtio_blk.ko.xz", mods + "kernel/fs/xfs/xfs.ko.xz",
	} {
		if !listed[want] {
			t.Errorf("image lacks %s", want)
		}
	}

	// Every program a unit runs is there.
	units, _ := filepath.Glob(filepath.Join(dir, "usr/lib/systemd/system/*"))
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			continue // a dangling alias link would fail here and below
		}
		for _, line := range strings.Split(string(data), "\n") {
			key, val, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(key, "Exec") {
				continue
			}
			prefix := val[:len(val)-len(strings.TrimLeft(val, "@-:+!|"))]
			f := strings.Fields(val[len(prefix):])
			if len(f) == 0 || strings.Contains(prefix, "-") {
				continue // "-" marks a command whose failure systemd ignores
			}
			found := false
			for _, c := range []string{f[0], "usr/bin/" + f[0], "usr/sbin/" + f[0]} {
				if _, err := os.Stat(filepath.Join(dir, c)); err == nil && (strings.HasPrefix(f[0], "/") == (c == f[0])) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s runs %s, which is not in the image", filepath.Base(u), f[0])
			}
		}
	}

	// Every ELF file's interpreter and libraries are in the image, found
	// the way the loader would without a cache.
	checkELFs(t, dir)

	// modprobe inside the image resolves what the initrd asks for.
	modprobe := testenv.Tool(t, "modprobe")
	for _, name := range []string{"virtio_blk", "fs-xfs", "fs-btrfs", "fs-vfat", "dm-verity", "overlay", "virtio:d00000002v00001AF4"} {
		out, err := exec.Command(modprobe, "-d", dir, "-S", kver, "--show-depends", name).CombinedOutput()
		if err != nil {
			t.Errorf("modprobe --show-depends %s in the image: %v: %s", name, err, out)
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "insmod" {
				if _, err := os.Stat(f[1]); err != nil {
					t.Errorf("%s: modprobe would load %s, which is not in the image", name, f[1])
				}
			}
		}
	}

	// The image's depmod files are what the host depmod writes for the
	// same module subset (text files: identical across kmod releases).
	ref := t.TempDir()
	if out, err := exec.Command("cp", "-a", dir+"/.", ref).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if out, err := exec.Command(testenv.Tool(t, "depmod"), "-b", ref, kver).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v: %s", err, out)
	}
	for _, f := range []string{"modules.dep", "modules.alias", "modules.symbols", "modules.softdep", "modules.devname"} {
		a, _ := os.ReadFile(filepath.Join(dir, mods, f))
		b, _ := os.ReadFile(filepath.Join(ref, mods, f))
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s in the image (%d bytes) differs from host depmod's (%d bytes)", f, len(a), len(b))
		}
	}

	// Figures against dracut's 39.7 MB for the same kind of system.
	if len(img) > 39_700_000/2 {
		t.Errorf("image is %d bytes, more than half of dracut's 39.7 MB", len(img))
	}
}

func zstdDecode(t *testing.T, img []byte) []byte {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "zstd"), "-dc")
	cmd.Stdin = bytes.NewReader(img)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd -dc: %v", err)
	}
	return out
}

func onlyKernel(t *testing.T, root string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "usr/lib/modules"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one kernel: %v %v", ents, err)
	}
	return ents[0].Name()
}

// checkELFs walks an extracted image and resolves every ELF's needs
// inside it, with symlinks followed within the image.
func checkELFs(t *testing.T, dir string) {
	t.Helper()
	n := 0
	loaded := map[string]bool{}
	var objs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && elfdeps.IsELF(b) && !strings.HasSuffix(p, ".ko") {
			objs = append(objs, p)
			loaded[filepath.Base(p)] = true
		}
		return nil
	})
	// Sonames are link names (libc.so.6 → file), so collect link names too.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				loaded[filepath.Base(p)] = true
			}
		}
		return nil
	})
	for _, p := range objs {
		b, _ := os.ReadFile(p)
		info, err := elfdeps.Parse(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		n++
		if info.Interp != "" {
			if _, err := os.Stat(filepath.Join(dir, info.Interp)); err != nil {
				t.Errorf("%s: interpreter %s missing", p, info.Interp)
			}
		}
		rel := "/" + strings.TrimPrefix(p, dir+"/")
		for _, so := range info.Needed {
			found := false
			for _, d := range info.Search(rel, systemDirs) {
				if _, err := os.Stat(filepath.Join(dir, d, so)); err == nil {
					found = true
					break
				}
			}
			// Already loaded by soname in the same process (systemd's
			// private libraries) is how the loader finds those.
			if !found && !loaded[so] {
				t.Errorf("%s needs %s: not in the image", rel, so)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d ELF files in the image", n)
	}
}

func TestDeterministic(t *testing.T) {
	root := archiveTree(t)
	a, err := Build(context.Background(), dirFS(root), Options{MTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(context.Background(), dirFS(root), Options{MTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same tree differ")
	}
	c, err := Build(context.Background(), dirFS(root), Options{MTime: 2})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("MTime does not reach the image")
	}
}

// hiding wraps a tree and pretends some paths do not exist.
type hiding struct {
	FS
	hide func(name string) bool
}

func (h hiding) check(name string) error {
	if h.hide(name) {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

func (h hiding) Open(name string) (fs.File, error) {
	if err := h.check(name); err != nil {
		return nil, err
	}
	return h.FS.Open(name)
}

func (h hiding) Lstat(name string) (fs.FileInfo, error) {
	if err := h.check(name); err != nil {
		return nil, err
	}
	return h.FS.Lstat(name)
}

func (h hiding) ReadLink(name string) (string, error) {
	if err := h.check(name); err != nil {
		return "", err
	}
	return h.FS.ReadLink(name)
}

func TestMissingLibrary(t *testing.T) {
	root := archiveTree(t)
	fsys := hiding{dirFS(root), func(n string) bool { return strings.HasPrefix(path.Base(n), "libblkid.so") }}
	_, err := Assemble(context.Background(), fsys, Options{})
	if err == nil || !strings.Contains(err.Error(), "libblkid.so.1") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want a one-line error naming libblkid.so.1", err)
	}
}

func TestKernelChoice(t *testing.T) {
	tree := func(kvers ...string) FS {
		m := fstest.MapFS{}
		for _, k := range kvers {
			m["usr/lib/modules/"+k+"/modules.order"] = &fstest.MapFile{Data: []byte{}}
		}
		m["usr/lib/os-release"] = &fstest.MapFile{Data: []byte("ID=debian\n")}
		return m
	}
	for _, tc := range []struct {
		name  string
		fsys  FS
		kver  string
		wants []string
	}{
		{"no kernel", tree(), "", []string{"no kernel"}},
		{"two kernels", tree("6.1.0-a", "6.12.0-b"), "", []string{"6.1.0-a", "6.12.0-b", "choose"}},
		{"chosen kernel missing", tree("6.1.0-a"), "6.9.9", []string{"6.9.9", "6.1.0-a"}},
	} {
		_, err := Assemble(context.Background(), tc.fsys, Options{KVer: tc.kver})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error", tc.name, err)
			continue
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
	if k, err := pickKernel(tree("6.1.0-a", "6.12.0-b"), "6.12.0-b"); err != nil || k != "6.12.0-b" {
		t.Errorf("explicit choice: %q %v", k, err)
	}
}

func TestRequiredModuleMissing(t *testing.T) {
	root := archiveTree(t)
	_, err := Assemble(context.Background(), dirFS(root), Options{Modules: []string{"no_such_driver"}})
	if err == nil || !strings.Contains(err.Error(), "no_such_driver") {
		t.Fatalf("got %v", err)
	}
}

func TestExtraFiles(t *testing.T) {
	root := archiveTree(t)
	im, err := Assemble(context.Background(), dirFS(root), Options{Files: []string{"/usr/bin/nano"}})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range im.Entries {
		have[e.Name] = true
	}
	// nano and the curses library it needs.
	if !have["usr/bin/nano"] || !have["usr/lib/x86_64-linux-gnu/libncursesw.so.6"] {
		t.Errorf("extra file or its library missing")
	}
	if _, err := Assemble(context.Background(), dirFS(root), Options{Files: []string{"/usr/bin/no-such-tool"}}); err == nil || !strings.Contains(err.Error(), "no-such-tool") {
		t.Errorf("missing extra file: err = %v", err)
	}
}

// TestBootQEMU boots the cloud kernel with the image under QEMU (TCG) on a
// tiny ext4 root and waits until systemd in the initrd has loaded
// virtio_blk, mounted /sysroot and reached initrd.target.
func TestBootQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boot test is slow")
	}
	root := archiveTree(t)
	mkfs := testenv.Tool(t, "mkfs.ext4")
	img, err := Build(context.Background(), dirFS(root), Options{MTime: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	initrd := filepath.Join(work, "initramfs.img")
	if err := os.WriteFile(initrd, img, 0o644); err != nil {
		t.Fatal(err)
	}
	rootDir := filepath.Join(work, "rootfs")
	os.MkdirAll(filepath.Join(rootDir, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootDir, "etc/os-release"), []byte("ID=debatom-test\n"), 0o644)
	disk := filepath.Join(work, "root.img")
	if out, err := exec.Command(mkfs, "-q", "-L", "root", "-d", rootDir, disk, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	kernels, _ := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	if len(kernels) != 1 {
		t.Fatalf("kernels: %v", kernels)
	}

	bootQEMU(t, kernels[0], initrd, disk, "root=LABEL=root rw",
		[]string{"Run /init as init process", "[vda]", "Mounted sysroot.mount", "Reached target initrd-root-fs.target", "Reached target initrd.target"})
}

// bootQEMU boots kernel+initrd on disk (virtio) under QEMU TCG and reads
// the serial console until every wanted line has shown up, an emergency
// shell or panic appears, or 15 minutes pass; on failure the test log gets
// the last console lines.
func bootQEMU(t *testing.T, kernel, initrd, disk, cmdline string, want []string) {
	t.Helper()
	const timeout = 15 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	vm := testenv.StartVM(ctx, t, testenv.VMOptions{
		CPU: "max", MemoryMiB: 2048, NoReboot: true,
		Kernel: kernel, Initrd: initrd,
		Append: "console=ttyS0 " + cmdline + " panic=-1 systemd.log_color=0 systemd.show_status=1 " +
			"systemd.default_device_timeout_sec=900 systemd.default_timeout_start_sec=900",
		Disks: []testenv.Disk{{File: disk, Format: "raw"}},
	})
	var missing []string
	err := vm.Wait(timeout, func(console []byte) bool {
		missing = missing[:0]
		for _, w := range want {
			if !bytes.Contains(console, []byte(w)) {
				missing = append(missing, w)
			}
		}
		return len(missing) == 0 || bytes.Contains(console, []byte("Kernel panic")) || bytes.Contains(console, []byte("emergency mode"))
	})
	if len(missing) > 0 {
		t.Fatalf("boot did not show %q after %v (%v)", missing, vm.Elapsed().Round(time.Second), err)
	}
	t.Logf("boot showed every wanted line after %v", vm.Elapsed().Round(time.Second))
}

// withFiles adds generated files to a tree, the way the build's configure
// stage adds depmod's output before the initramfs is made.
type withFiles struct {
	FS
	extra fstest.MapFS
}

func (w withFiles) Open(name string) (fs.File, error) {
	if _, ok := w.extra[name]; ok {
		return w.extra.Open(name)
	}
	return w.FS.Open(name)
}

func (w withFiles) Lstat(name string) (fs.FileInfo, error) {
	if _, ok := w.extra[name]; ok {
		return w.extra.Lstat(name)
	}
	return w.FS.Lstat(name)
}

// treeWithDepmod is the archive tree plus its depmod files.
func treeWithDepmod(b testing.TB, root string) FS {
	b.Helper()
	kver := ""
	if ents, err := os.ReadDir(filepath.Join(root, "usr/lib/modules")); err == nil && len(ents) == 1 {
		kver = ents[0].Name()
	}
	files, err := depmod.Generate(context.Background(), dirFS(root), kver, depmod.Options{})
	if err != nil {
		b.Fatal(err)
	}
	extra := fstest.MapFS{}
	for n, data := range files {
		extra[depmod.ModulesDir(kver)+"/"+n] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return withFiles{dirFS(root), extra}
}

// BenchmarkBuild is the build pipeline's case: depmod has already written
// modules.dep and modules.alias into the tree.
func BenchmarkBuild(b *testing.B) {
	fsys := treeWithDepmod(b, archiveTree(b))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Build(context.Background(), fsys, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildNoDepmod includes depmod over the whole kernel.
func BenchmarkBuildNoDepmod(b *testing.B) {
	root := archiveTree(b)
	for b.Loop() {
		if _, err := Build(context.Background(), dirFS(root), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBuildWithDepmodFilesMatches(t *testing.T) {
	root := archiveTree(t)
	a, err := Build(context.Background(), dirFS(root), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fsys := treeWithDepmod(t, root)
	t0 := time.Now()
	b, err := Build(context.Background(), fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("with depmod files in the tree: %v", time.Since(t0))
	if !bytes.Equal(a, b) {
		t.Fatal("the image differs depending on whether the tree already had depmod's files")
	}
}

// TestBuildWithKernelTreeMatches: handing Build the parsed module tree
// (what the build pipeline does) gives the image computed from the files,
// and a tree of another kernel is refused.
func TestBuildWithKernelTreeMatches(t *testing.T) {
	root := archiveTree(t)
	kver := onlyKernel(t, root)
	want, err := Build(context.Background(), dirFS(root), Options{})
	if err != nil {
		t.Fatal(err)
	}
	full, err := depmod.Load(context.Background(), dirFS(root), kver, depmod.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Build(context.Background(), dirFS(root), Options{Kernel: full, Modules: []string{"raid1"}})
	if err != nil {
		t.Fatal(err)
	}
	want2, err := Build(context.Background(), dirFS(root), Options{Modules: []string{"raid1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want2) {
		t.Fatal("with Modules: the image differs when the parsed module tree is given")
	}
	got, err = Build(context.Background(), dirFS(root), Options{Kernel: full})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the image differs when the parsed module tree is given")
	}
	other := *full
	other.KVer = "0.0.0-other"
	if _, err := Build(context.Background(), dirFS(root), Options{Kernel: &other}); err == nil || !strings.Contains(err.Error(), "0.0.0-other") {
		t.Fatalf("a tree of another kernel: err = %v", err)
	}
}

// TestBootOSTreeDeployment makes a real OSTree deployment of the archive
// tree with the ostree tool (kernel and this initramfs in
// usr/lib/modules/KVER), puts the sysroot on an ext4 disk and boots the BLS
// entry ostree wrote: ostree-prepare-root must set up the deployment and
// systemd must switch into it.
func TestBootOSTreeDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("boot test is slow")
	}
	testenv.Root(t) // the ostree commit must record root ownership
	ostree := testenv.Tool(t, "ostree")
	mkfs := testenv.Tool(t, "mkfs.ext4")
	root := archiveTree(t)
	kver := onlyKernel(t, root)
	work := t.TempDir()
	// ostree makes deployment directories immutable; undo that so the
	// temporary directory can be removed (cleanups run last-in first-out).
	chattr := testenv.Tool(t, "chattr")
	t.Cleanup(func() {
		deploys, _ := filepath.Glob(filepath.Join(work, "sysroot/ostree/deploy/*/deploy/*.0"))
		for _, d := range deploys {
			exec.Command(chattr, "-i", d).Run()
		}
	})
	tree := filepath.Join(work, "tree")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
	}
	// The bootable layout of DESIGN.md: /etc in /usr/etc, kernel and
	// initramfs beside the modules, an empty /boot, /sysroot and /ostree.
	run("cp", "-al", root, tree)
	run("mv", filepath.Join(tree, "etc"), filepath.Join(tree, "usr/etc"))
	kdir := filepath.Join(tree, "usr/lib/modules", kver)
	run("cp", filepath.Join(tree, "boot/vmlinuz-"+kver), filepath.Join(kdir, "vmlinuz"))
	run("rm", "-rf", filepath.Join(tree, "boot"))
	os.Mkdir(filepath.Join(tree, "boot"), 0o755)
	os.Mkdir(filepath.Join(tree, "sysroot"), 0o755)
	os.Symlink("sysroot/ostree", filepath.Join(tree, "ostree"))
	img, err := Build(context.Background(), dirFS(tree), Options{MTime: 1700000000})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kdir, "initramfs.img"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	sysroot := filepath.Join(work, "sysroot")
	os.Mkdir(sysroot, 0o755)
	run(ostree, "admin", "init-fs", sysroot)
	run(ostree, "admin", "os-init", "debian", "--sysroot="+sysroot)
	run(ostree, "--repo="+sysroot+"/ostree/repo", "commit", "-b", "debian/test", "--tree=dir="+tree,
		"--owner-uid=0", "--owner-gid=0", "--no-xattrs", "--add-metadata-string=version=1")
	run(ostree, "admin", "deploy", "--sysroot="+sysroot, "--os=debian", "debian/test", "--karg=root=LABEL=root", "--karg=rw")
	entries, _ := filepath.Glob(filepath.Join(sysroot, "boot/loader/entries/*.conf"))
	if len(entries) != 1 {
		t.Fatalf("BLS entries: %v", entries)
	}
	bls, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	var options, linux, initrd string
	for _, l := range strings.Split(string(bls), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "options":
			options = v
		case "linux":
			linux = filepath.Join(sysroot, "boot", v)
		case "initrd":
			initrd = filepath.Join(sysroot, "boot", v)
		}
	}
	disk := filepath.Join(work, "disk.img")
	run(mkfs, "-q", "-L", "root", "-d", sysroot, disk, "2G")
	bootQEMU(t, linux, initrd, disk, options,
		[]string{"Mounted sysroot.mount", "Finished ostree-prepare-root.service", "Reached target initrd.target", "Stopped initrd-switch-root.service"})
}
