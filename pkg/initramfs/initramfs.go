// Package initramfs builds a generic (not host-specific) initramfs for an
// OSTree-booted Debian system from the files of the OS tree itself: systemd
// in initrd mode, udev, kmod, the storage, filesystem and device-mapper
// modules with depmod indexes for exactly that subset, ostree-prepare-root
// wired into initrd-root-fs.target, fsck for ext2/3/4 and vfat, and every
// shared library these need. The result is a deterministic newc cpio,
// zstd-compressed; nothing is executed.
//
// The kernel command line is systemd's: root=, rootfstype=, rootflags=,
// rw/ro, ostree=, console=, rd.systemd.unit=, systemd.debug_shell work
// because systemd-fstab-generator and systemd-debug-generator are present.
// dracut's own rd.break=… hooks do not exist here; rd.systemd.unit=
// emergency.target (or any target) is the systemd way to stop early.
//
// # Compared with dracut (--no-hostonly, Debian 13)
//
// dracut put 782 kernel modules and ~1500 files in; this image is much
// smaller. Each class of difference, and why leaving it out is safe:
//
//   - dracut's shell framework (dracut-*.service, hooks under
//     var/lib/dracut, dracut-lib.sh, initqueue, rdsosreport, loginit) and
//     the coreutils it calls (cat, cp, ls, sed, …): systemd's initrd
//     targets and generators do the same work natively (root= → sysroot.mount,
//     fsck, switch-root), so nothing in this image runs shell scripts.
//   - Kernel modules beyond storage, filesystems and device-mapper
//     (network, sound, graphics, input beyond USB HID, crypto drivers
//     other than dependencies): mounting a local root needs none of them;
//     the real root loads everything else after switch-root from its own
//     /usr/lib/modules with its own full depmod indexes.
//   - Network root (NFS, iSCSI, NBD) and encrypted/LVM/RAID/multipath roots
//     with their tools (cryptsetup, lvm, mdadm): not supported by this
//     generic image; OSTree disks made by debatom use a plain ext4 root.
//   - ld.so.cache and /etc/ld.so.conf: every library is placed where
//     Debian's loader searches by default (/usr/lib/x86_64-linux-gnu via
//     the lib → usr/lib link) or where the program's RUNPATH points
//     (systemd's private libraries), so no cache is consulted.
//   - shadow, gshadow, machine-id, udev hwdb.bin, terminfo, sysctl.d,
//     tmpfiles.d and journald drop-ins: the initrd has no logins
//     (emergency shells are root's), systemd makes a transient machine-id
//     when there is none, hwdb only names devices, and the remaining files
//     tune services that run fine with their defaults.
package initramfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/debatom/debatom/pkg/cpio"
	"github.com/debatom/debatom/pkg/depmod"
	"github.com/debatom/debatom/pkg/elfdeps"
)

// FS is the OS tree: files plus symlinks. os.DirFS satisfies it; the build
// passes an adapter over the OSTree object store.
type FS = fs.ReadLinkFS

// Options control Build.
type Options struct {
	// KVer picks the kernel under usr/lib/modules. Empty means the only
	// one; a tree with several kernels then is an error naming them.
	KVer string
	// MTime is every entry's modification time (SOURCE_DATE_EPOCH).
	MTime int64
	// Modules are loaded on top of DefaultModules; unlike those, each must
	// exist in the kernel (as a module or built in).
	Modules []string
	// Files are paths of the tree copied in as well (programs get their
	// libraries), for a treefile's initramfs.files; each must exist.
	Files []string
	// Depmod tunes the module index computation.
	Depmod depmod.Options
	// Kernel, when set, is the kernel's whole module tree as depmod.Load
	// parsed it (for KVer, with Depmod's Compat). The build has parsed it
	// already for the system's own indexes; with it no module is
	// decompressed again here, where otherwise the whole kernel is read
	// once for modules.dep (when the tree lacks it) and the chosen modules
	// once more per soft-dependency round.
	Kernel *depmod.Tree
}

// DefaultModules are the drivers a generic image carries when the kernel
// has them as modules; names the kernel lacks or has built in are skipped.
var DefaultModules = []string{
	// storage: virtio, SATA/AHCI, NVMe, SCSI disks and CD-ROMs, USB storage
	"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_scsi", "ahci", "ata_piix", "nvme",
	"sd_mod", "sr_mod", "xhci_pci", "xhci_hcd", "ehci_pci", "ohci_pci", "uhci_hcd", "usb_storage", "uas",
	// a keyboard for the emergency shell
	"usbhid", "hid_generic",
	// filesystems and what vfat needs to mount with Debian's iocharset
	"ext4", "vfat", "nls_cp437", "nls_ascii", "nls_iso8859_1", "nls_utf8", "xfs", "btrfs", "overlay", "erofs", "squashfs",
	// device-mapper
	"dm_mod", "dm_verity",
	// composefs roots (ostree-prepare-root) may mount their EROFS image via loop
	"loop",
}

// Image is an assembled initramfs before compression.
type Image struct {
	KVer    string
	Entries []cpio.Entry
	mtime   int64
}

// Build assembles the initramfs and returns it zstd-compressed.
func Build(ctx context.Context, fsys FS, opts Options) ([]byte, error) {
	im, err := Assemble(ctx, fsys, opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := im.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Write writes the image as zstd-compressed newc cpio. The encoder runs
// single-threaded at a fixed level with an 8 MiB window (what the kernel's
// zstd initramfs decoder accepts), so the bytes depend only on the entries.
func (im *Image) Write(w io.Writer) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(8<<20), zstd.WithEncoderCRC(true))
	if err != nil {
		return fmt.Errorf("initramfs: zstd: %w", err)
	}
	if err := cpio.Write(zw, im.Entries, im.mtime); err != nil {
		zw.Close()
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: zstd: %w", err)
	}
	return nil
}

// WriteCPIO writes the uncompressed archive.
func (im *Image) WriteCPIO(w io.Writer) error { return cpio.Write(w, im.Entries, im.mtime) }

// item is one path of the tree the image wants.
type item struct {
	path     string
	required bool
}

func req(paths ...string) []item {
	var out []item
	for _, p := range paths {
		out = append(out, item{p, true})
	}
	return out
}

func opt(paths ...string) []item {
	var out []item
	for _, p := range paths {
		out = append(out, item{p, false})
	}
	return out
}

// programs are the executables (and their links) the initrd runs.
var programs = slices.Concat(
	req("usr/lib/systemd/systemd", "usr/lib/systemd/systemd-journald", "usr/lib/systemd/systemd-udevd",
		"usr/lib/systemd/systemd-shutdown", "usr/lib/systemd/systemd-sulogin-shell", "usr/lib/systemd/systemd-fsck",
		"usr/lib/systemd/systemd-modules-load", "usr/lib/systemd/systemd-sysctl", "usr/lib/systemd/systemd-executor",
		"usr/bin/systemctl", "usr/bin/udevadm", "usr/bin/journalctl", "usr/bin/systemd-tmpfiles",
		"usr/bin/systemd-ask-password", "usr/bin/systemd-tty-ask-password-agent", "usr/bin/systemd-escape",
		"usr/lib/systemd/system-generators/systemd-fstab-generator",
		"usr/lib/systemd/system-generators/systemd-debug-generator",
		"usr/bin/kmod", "usr/sbin/modprobe", "usr/sbin/insmod", "usr/sbin/rmmod", "usr/sbin/lsmod",
		"usr/lib/ostree/ostree-prepare-root",
		"usr/bin/mount", "usr/bin/umount", "usr/sbin/sulogin", "usr/sbin/fsck",
		"usr/sbin/e2fsck", "usr/sbin/fsck.ext2", "usr/sbin/fsck.ext3", "usr/sbin/fsck.ext4",
		"usr/bin/sh", "usr/bin/dash"),
	opt("usr/lib/systemd/system-generators/systemd-gpt-auto-generator",
		"usr/lib/systemd/system-generators/systemd-hibernate-resume-generator",
		"usr/lib/systemd/systemd-hibernate-resume", "usr/lib/systemd/systemd-makefs", "usr/lib/systemd/systemd-growfs",
		"usr/sbin/fsck.fat", "usr/sbin/fsck.vfat", "usr/sbin/fsck.msdos", "usr/sbin/blkid",
		"usr/lib/udev/ata_id", "usr/lib/udev/scsi_id", "usr/lib/udev/cdrom_id"),
)

// dlopened libraries: systemd and kmod load these at run time, so no
// DT_NEEDED names them. libkmod lets udev autoload modules; liblzma and
// libzstd let kmod read .ko.xz/.ko.zst modules.
var dlopened = []string{"libkmod.so.2", "liblzma.so.5", "libzstd.so.1"}

// units from usr/lib/systemd/system. The targets' .wants/.requires links
// are copied when both ends are in the image.
var units = slices.Concat(
	req("initrd.target", "initrd-fs.target", "initrd-root-device.target", "initrd-root-fs.target",
		"initrd-usr-fs.target", "initrd-switch-root.target", "initrd-switch-root.service",
		"initrd-cleanup.service", "initrd-parse-etc.service", "initrd-udevadm-cleanup-db.service",
		"basic.target", "sysinit.target", "sockets.target", "paths.target", "slices.target", "timers.target",
		"local-fs.target", "local-fs-pre.target", "swap.target", "emergency.target", "emergency.service",
		"rescue.target", "rescue.service", "shutdown.target", "final.target", "umount.target",
		"reboot.target", "poweroff.target", "halt.target", "systemd-reboot.service", "systemd-poweroff.service",
		"systemd-halt.service", "systemd-journald.service", "systemd-journald.socket",
		"systemd-journald-dev-log.socket", "systemd-udevd.service", "systemd-udevd-control.socket",
		"systemd-udevd-kernel.socket", "systemd-udev-trigger.service", "systemd-fsck@.service",
		"systemd-fsck-root.service", "kmod-static-nodes.service", "modprobe@.service",
		"systemd-modules-load.service", "systemd-tmpfiles-setup-dev-early.service",
		"systemd-tmpfiles-setup-dev.service", "ostree-prepare-root.service"),
	opt("ctrl-alt-del.target", "remote-fs.target", "remote-fs-pre.target", "network.target", "network-pre.target",
		"network-online.target", "nss-lookup.target", "cryptsetup.target", "veritysetup.target", "integritysetup.target",
		"systemd-udev-settle.service", "systemd-ask-password-console.path", "systemd-ask-password-console.service",
		"debug-shell.service", "systemd-sysctl.service", "sys-kernel-config.mount", "systemd-kexec.service", "kexec.target",
		"systemd-hibernate-resume.service", "systemd-makefs@.service", "systemd-growfs@.service",
		"systemd-growfs-root.service", "-.slice", "system.slice"),
)

// configDirs are copied whole when present: small files programs read.
var configDirs = []string{"usr/lib/udev/rules.d", "etc/udev/rules.d", "usr/lib/modprobe.d", "etc/modprobe.d"}

var configFiles = opt("etc/udev/udev.conf", "usr/lib/ostree/prepare-root.conf", "etc/ostree/prepare-root.conf",
	"usr/lib/systemd/system.conf", "etc/systemd/system.conf")

// systemDirs are where Debian's loader looks without a cache (its trusted
// directories, in its order).
var systemDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", "/lib64", "/usr/lib64"}

// Assemble collects the image's entries.
func Assemble(ctx context.Context, fsys FS, opts Options) (*Image, error) {
	kver, err := pickKernel(fsys, opts.KVer)
	if err != nil {
		return nil, err
	}
	b := &builder{fsys: fsys, entries: map[string]*cpio.Entry{}, sonames: map[string]bool{}}
	b.skeleton()
	for _, it := range programs {
		if err := b.add(it.path, it.required); err != nil {
			return nil, err
		}
	}
	for _, it := range units {
		if err := b.add("usr/lib/systemd/system/"+it.path, it.required); err != nil {
			return nil, err
		}
	}
	if err := b.unitLinks(); err != nil {
		return nil, err
	}
	if err := b.unitPrograms(); err != nil {
		return nil, err
	}
	for _, d := range configDirs {
		if err := b.addDir(d); err != nil {
			return nil, err
		}
	}
	for _, it := range configFiles {
		if err := b.add(it.path, it.required); err != nil {
			return nil, err
		}
	}
	for _, f := range opts.Files {
		if err := b.add(strings.TrimPrefix(f, "/"), true); err != nil {
			return nil, err
		}
	}
	if err := b.identity(); err != nil {
		return nil, err
	}
	if err := b.libraries(ctx); err != nil {
		return nil, err
	}
	if err := b.modules(ctx, kver, opts); err != nil {
		return nil, err
	}
	im := &Image{KVer: kver, mtime: opts.MTime}
	for _, e := range b.entries {
		im.Entries = append(im.Entries, *e)
	}
	sort.Slice(im.Entries, func(i, j int) bool { return im.Entries[i].Name < im.Entries[j].Name })
	return im, nil
}

// pickKernel finds the kernel version under usr/lib/modules.
func pickKernel(fsys FS, want string) (string, error) {
	ents, err := fs.ReadDir(fsys, "usr/lib/modules")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	var kvers []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, "usr/lib/modules/"+e.Name()+"/modules.order"); err == nil {
			kvers = append(kvers, e.Name())
		}
	}
	switch {
	case want != "":
		if !slices.Contains(kvers, want) {
			return "", fmt.Errorf("initramfs: kernel %s is not in usr/lib/modules (found %s)", want, orNone(kvers))
		}
		return want, nil
	case len(kvers) == 0:
		return "", errors.New("initramfs: the tree has no kernel (no usr/lib/modules/*/modules.order)")
	case len(kvers) > 1:
		return "", fmt.Errorf("initramfs: the tree has several kernels (%s); choose one", strings.Join(kvers, ", "))
	}
	return kvers[0], nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

type builder struct {
	fsys    FS
	entries map[string]*cpio.Entry
	elfs    []string // regular files to scan for DT_NEEDED
	// sonames already placed: the loader satisfies a DT_NEEDED by a
	// library of that soname already loaded in the process, which is how
	// systemd's private libraries find each other without a RUNPATH.
	sonames map[string]bool
}

func (b *builder) put(e cpio.Entry) {
	if _, ok := b.entries[e.Name]; !ok {
		b.entries[e.Name] = &e
	}
}

func (b *builder) mkdirs(p string) {
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if _, ok := b.entries[d]; ok {
			continue
		}
		b.put(cpio.Entry{Name: d, Mode: fs.ModeDir | 0o755})
	}
}

// skeleton is the merged-/usr layout, the mount points systemd and
// ostree-prepare-root expect, device nodes the kernel wants before devtmpfs,
// and the initrd identity.
func (b *builder) skeleton() {
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "sysroot", "root", "var", "etc", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc/systemd/system"} {
		b.mkdirs(d + "/x")
	}
	b.entries["tmp"].Mode = fs.ModeDir | fs.ModeSticky | 0o777
	b.entries["root"].Mode = fs.ModeDir | 0o700
	for link, target := range map[string]string{
		"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64",
		"init": "usr/lib/systemd/systemd", "var/run": "../run", "etc/mtab": "/proc/self/mounts",
		"etc/initrd-release": "../usr/lib/initrd-release", "etc/os-release": "initrd-release",
		"usr/lib/os-release":                    "initrd-release",
		"usr/lib/systemd/system/default.target": "initrd.target",
		"etc/systemd/system/initrd-root-fs.target.wants/ostree-prepare-root.service": "/usr/lib/systemd/system/ostree-prepare-root.service",
	} {
		b.mkdirs(link)
		b.put(cpio.Entry{Name: link, Mode: fs.ModeSymlink | 0o777, Target: target})
	}
	chr := fs.ModeDevice | fs.ModeCharDevice
	for _, d := range []cpio.Entry{
		{Name: "dev/console", Mode: chr | 0o600, RdevMajor: 5, RdevMinor: 1},
		{Name: "dev/kmsg", Mode: chr | 0o644, RdevMajor: 1, RdevMinor: 11},
		{Name: "dev/null", Mode: chr | 0o666, RdevMajor: 1, RdevMinor: 3},
		{Name: "dev/random", Mode: chr | 0o666, RdevMajor: 1, RdevMinor: 8},
		{Name: "dev/urandom", Mode: chr | 0o666, RdevMajor: 1, RdevMinor: 9},
	} {
		b.put(d)
	}
	b.put(cpio.Entry{Name: "etc/fstab", Mode: 0o644, Data: []byte{}})
}

// identity writes initrd-release (systemd's initrd switch), passwd and
// group (root's shell for emergency mode; group names udev rules use).
func (b *builder) identity() error {
	osr, err := b.readResolved("usr/lib/os-release")
	if err != nil {
		if osr, err = b.readResolved("etc/os-release"); err != nil {
			return fmt.Errorf("initramfs: the tree has no os-release: %w", err)
		}
	}
	b.put(cpio.Entry{Name: "usr/lib/initrd-release", Mode: 0o644, Data: append(bytes.TrimRight(osr, "\n"), "\nVARIANT=\"initramfs (debatom)\"\nVARIANT_ID=debatom-initramfs\n"...)})
	b.put(cpio.Entry{Name: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")})
	group, err := b.readResolved("etc/group")
	if err != nil {
		group, err = b.readResolved("usr/share/base-passwd/group.master")
	}
	if err != nil {
		group = []byte("root:x:0:\n")
	}
	b.put(cpio.Entry{Name: "etc/group", Mode: 0o644, Data: group})
	return nil
}

// resolve follows symlinks in p (tree-relative) the way the kernel would
// inside the tree, returning the final path. With record set, every link
// passed is added to the image so the same lookups work at boot.
func (b *builder) resolve(p string, record bool) (string, error) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	todo := strings.Split(p, "/")
	cur := ""
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = strings.TrimPrefix(path.Dir("/"+cur), "/")
			continue
		}
		next := c
		if cur != "" {
			next = cur + "/" + c
		}
		st, err := b.fsys.Lstat(next)
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := b.fsys.ReadLink(next)
		if err != nil {
			return "", err
		}
		if record {
			b.mkdirs(next)
			b.put(cpio.Entry{Name: next, Mode: fs.ModeSymlink | 0o777, Target: target})
		}
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

func (b *builder) readResolved(p string) ([]byte, error) {
	r, err := b.resolve(p, false)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(b.fsys, r)
}

// add copies path p of the tree (following and recording links) into the
// image. A missing optional path is skipped.
func (b *builder) add(p string, required bool) error {
	r, err := b.resolve(p, true)
	if err != nil {
		if !required && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("initramfs: %s: %w", p, err)
	}
	if _, ok := b.entries[r]; ok {
		return nil
	}
	st, err := b.fsys.Lstat(r)
	if err != nil {
		return fmt.Errorf("initramfs: %s: %w", r, err)
	}
	b.mkdirs(r)
	switch {
	case st.IsDir():
		b.put(cpio.Entry{Name: r, Mode: fs.ModeDir | st.Mode().Perm()})
	case st.Mode().IsRegular():
		data, err := fs.ReadFile(b.fsys, r)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		b.put(cpio.Entry{Name: r, Mode: st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), Data: data})
		if elfdeps.IsELF(data) {
			b.elfs = append(b.elfs, r)
		}
	default:
		return fmt.Errorf("initramfs: %s: unsupported file type %v", r, st.Mode().Type())
	}
	return nil
}

// addDir copies a directory's files (not recursively), if it exists.
func (b *builder) addDir(d string) error {
	ents, err := fs.ReadDir(b.fsys, d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if err := b.add(d+"/"+e.Name(), true); err != nil {
			return err
		}
	}
	return nil
}

// unitLinks copies, for every unit in the image, its .wants/.requires
// links whose targets are in the image too.
func (b *builder) unitLinks() error {
	const dir = "usr/lib/systemd/system"
	var names []string
	for n := range b.entries {
		if path.Dir(n) == dir {
			names = append(names, path.Base(n))
		}
	}
	slices.Sort(names)
	for _, u := range names {
		for _, suffix := range []string{".wants", ".requires"} {
			d := dir + "/" + u + suffix
			ents, err := fs.ReadDir(b.fsys, d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.Type()&fs.ModeSymlink == 0 {
					continue
				}
				target, err := b.fsys.ReadLink(d + "/" + e.Name())
				if err != nil {
					return fmt.Errorf("initramfs: %w", err)
				}
				if _, ok := b.entries[dir+"/"+path.Base(target)]; !ok {
					continue
				}
				b.mkdirs(d + "/" + e.Name())
				b.put(cpio.Entry{Name: d + "/" + e.Name(), Mode: fs.ModeSymlink | 0o777, Target: target})
			}
		}
	}
	return nil
}

// unitPrograms adds the programs the image's units run (Exec*= lines),
// so no unit can fail for a missing binary: initrd-parse-etc.service, for
// one, runs systemd-sysroot-fstab-check, which nothing else names.
func (b *builder) unitPrograms() error {
	const dir = "usr/lib/systemd/system/"
	var units []string
	for n, e := range b.entries {
		if strings.HasPrefix(n, dir) && e.Mode.IsRegular() {
			units = append(units, n)
		}
	}
	slices.Sort(units)
	for _, u := range units {
		for _, line := range strings.Split(string(b.entries[u].Data), "\n") {
			key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok || !strings.HasPrefix(key, "Exec") || key == "ExecSearchPath" {
				continue
			}
			prog := strings.TrimLeft(strings.TrimSpace(val), "@-:+!|")
			if f := strings.Fields(prog); len(f) > 0 {
				prog = f[0]
			} else {
				continue
			}
			cands := []string{strings.TrimPrefix(prog, "/")}
			if !strings.HasPrefix(prog, "/") {
				// systemd's default search path for bare names
				cands = []string{"usr/sbin/" + prog, "usr/bin/" + prog}
			}
			for _, c := range cands {
				if _, err := b.resolve(c, false); err == nil {
					if err := b.add(c, true); err != nil {
						return err
					}
					break
				}
			}
		}
	}
	return nil
}

// libraries adds the loader and every DT_NEEDED library, transitively, plus
// the dlopened ones.
func (b *builder) libraries(ctx context.Context) error {
	for _, so := range dlopened {
		p, err := b.findLib(so, systemDirs)
		if err != nil {
			return fmt.Errorf("initramfs: %s (loaded at run time by systemd/kmod) is not in the tree", so)
		}
		if err := b.add(p, true); err != nil {
			return err
		}
	}
	for i := 0; i < len(b.elfs); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj := b.elfs[i]
		info, err := elfdeps.Parse(bytes.NewReader(b.entries[obj].Data))
		if err != nil {
			return fmt.Errorf("initramfs: %s: %w", obj, err)
		}
		if info.Interp != "" {
			if err := b.add(info.Interp, true); err != nil {
				return fmt.Errorf("initramfs: %s needs its loader: %w", obj, err)
			}
		}
		dirs := info.Search("/"+obj, systemDirs)
		for _, so := range info.Needed {
			if b.sonames[so] {
				continue
			}
			p, err := b.findLib(so, dirs)
			if err != nil {
				return fmt.Errorf("initramfs: %s needs %s, which is not in the tree (searched %s)", obj, so, strings.Join(dirs, ":"))
			}
			if err := b.add(p, true); err != nil {
				return err
			}
			b.sonames[so] = true
		}
	}
	return nil
}

func (b *builder) findLib(so string, dirs []string) (string, error) {
	if strings.Contains(so, "/") {
		return strings.TrimPrefix(so, "/"), nil
	}
	for _, d := range dirs {
		p := strings.TrimPrefix(d, "/") + "/" + so
		r, err := b.resolve(p, false)
		if err != nil {
			continue
		}
		if st, err := b.fsys.Lstat(r); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fs.ErrNotExist
}
