// Package diskimage writes bootable, upgradable UEFI disk images of an
// OSTree commit: a GPT disk with a FAT32 EFI system partition and an ext4
// root holding the sysroot pkg/deploy lays out, as a sparse raw file or a
// qcow2 image. Nothing is executed and nothing is mounted.
//
// Layout: partition 1 "ESP" (EFI system type, FAT32, 512 MiB by default),
// partition 2 "root" (the discoverable x86-64 root type, ext4 labelled
// "root"). Disk, partition and file-system identifiers are derived from
// the commit checksum, so one commit always gives the same bytes.
//
// # Bootloader: systemd-boot on the ESP
//
// The ESP holds systemd-boot (usr/lib/systemd/boot/efi/systemd-bootx64.efi
// from the commit itself, never the host's) as EFI/BOOT/BOOTX64.EFI, ostree's
// BLS entries in loader/entries and the kernel directories under ostree/,
// at the same relative paths the entries name in /boot. systemd-boot reads
// BLS entries natively, so no bootloader configuration has to be generated,
// and the entries are exactly the ones ostree writes.
//
// The alternative, Debian's signed shim and GRUB reading /boot on ext4, was
// not taken: Debian's GRUB has no blscfg command, so every upgrade would
// have to regenerate grub.cfg through grub-mkconfig and ostree-boot's
// 15_ostree script inside the guest, which is more moving parts than the
// problem needs. The price of systemd-boot is that ostree refuses /boot on
// FAT while systemd-boot reads only FAT: ostree keeps /boot on the ext4
// root, and a small unit written into the deployment's /etc
// (debatom-esp-sync.service, running /etc/debatom/esp-sync at boot and,
// ordered before ostree-finalize-staged.service, again at shutdown) copies
// new kernel directories and the current entries onto the ESP and points
// loader.conf's default at the newest entry (ostree numbers the default
// deployment's entry highest). `ostree admin upgrade`, `deploy` and
// `set-default` (a rollback) therefore take effect at the next reboot as
// they do with a bootloader that reads /boot itself; pkg/diskimage/boottest
// proves all three under QEMU. Secure Boot is not covered:
// systemd-boot from the archive is not signed by a key OVMF trusts.
package diskimage

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/deploy"
	"github.com/debatom/debatom/pkg/ext4"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gpt"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/qcow2"
	"github.com/debatom/debatom/pkg/vfat"
	"golang.org/x/sync/errgroup"
)

// Defaults.
const (
	DefaultESPSize = 512 << 20
	// DefaultFreeSpace is added to what the root's content needs, so that
	// upgrades (new objects, a second deployment's /etc) and the system's
	// own /var have room.
	DefaultFreeSpace = 2 << 30
	mib              = 1 << 20
)

// DefaultKernelArgs follow root= and rw on every entry.
var DefaultKernelArgs = []string{"console=tty0", "console=ttyS0,115200"}

// Options describe an image.
type Options struct {
	// OSName is the ostree stateroot (default "debian").
	OSName string
	// Ref is the branch the origin follows; Remote (default "debatom")
	// and RemoteURL name where upgrades come from.
	Ref, Remote, RemoteURL string
	// KernelArgs are appended after the defaults and the commit's
	// kargs.d (e.g. --karg flags, customizations.kernel.append).
	KernelArgs []string
	// Size is the whole disk in bytes; 0 sizes the root to its content
	// plus DefaultFreeSpace (at least RootMinSize).
	Size int64
	// ESPSize defaults to DefaultESPSize.
	ESPSize int64
	// RootMinSize is a lower bound for the root partition.
	RootMinSize int64
	// Customize is applied to the deployment's /etc.
	Customize deploy.Customizations
}

// Image is a planned disk image: deployed, sized, not yet written.
type Image struct {
	Sysroot   *deploy.Sysroot
	Size      int64 // whole disk
	ESPSize   int64
	RootSize  int64
	Timestamp time.Time

	table gpt.Table
	esp   *fstree.Tree
	// The planned file systems: planning the root of a full system is a
	// noticeable part of writing it, and where their data lies is what
	// a qcow2 image is laid out from.
	espLayout  *vfat.Layout
	rootLayout *ext4.Layout
}

// New deploys commit from repo and plans the image; errors that need no
// writing (no kernel, a disk too small) come from here.
func New(ctx context.Context, repo *ostreerepo.Repo, commit string, opts Options) (*Image, error) {
	if opts.ESPSize == 0 {
		opts.ESPSize = DefaultESPSize
	}
	if opts.ESPSize < 33*mib || opts.ESPSize%mib != 0 {
		return nil, fmt.Errorf("disk image: ESP size %d must be a whole number of MiB, at least 33 MiB (FAT32)", opts.ESPSize)
	}
	if !ostreerepo.ValidChecksum(commit) {
		c, err := repo.ResolveRef(commit)
		if err != nil {
			return nil, fmt.Errorf("disk image: %w", err)
		}
		commit = c
	}
	c, err := repo.ReadCommit(commit)
	if err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	s, err := deploy.Deploy(ctx, repo, commit, deploy.Options{
		OSName: opts.OSName, Remote: opts.Remote, Ref: opts.Ref, RemoteURL: opts.RemoteURL,
		KernelArgs:      append([]string{"root=LABEL=root", "rw"}, DefaultKernelArgs...),
		ExtraKernelArgs: opts.KernelArgs,
		Customize:       opts.Customize,
	})
	if err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if err := addESPSync(s); err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if err := addSSHKeygen(s); err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	img := &Image{Sysroot: s, ESPSize: opts.ESPSize, Timestamp: time.Unix(int64(c.Timestamp), 0).UTC()}
	if err := img.planESP(); err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if img.espLayout, err = vfat.Plan(ctx, img.espFS(), img.espOptions()); err != nil {
		return nil, fmt.Errorf("disk image: ESP: %w", err)
	}

	seed := "debatom/" + commit + "/"
	rootOpts := ext4.Options{Label: "root", UUID: gpt.DeriveGUID(seed + "root-fs"), HashSeed: gpt.DeriveGUID(seed + "root-hash"), Timestamp: img.Timestamp}
	espFirst := gpt.AlignLBA(gpt.FirstUsableLBA)
	rootFirst := gpt.AlignLBA(espFirst + uint64(opts.ESPSize)/gpt.SectorSize)
	// Room the backup GPT needs after the root, rounded to 1 MiB.
	const tail = mib
	if opts.Size > 0 {
		rootOpts.Size = (opts.Size - int64(rootFirst)*gpt.SectorSize - tail) &^ (4096 - 1)
		if rootOpts.Size <= 0 {
			return nil, fmt.Errorf("disk image: disk size %d bytes is too small: the ESP alone needs %d", opts.Size, int64(rootFirst)*gpt.SectorSize+tail)
		}
	}
	root := ext4.NewBuilder(rootOpts)
	if err := s.AddTo(root, ""); err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if opts.Size == 0 {
		// ext4's own sizing (1.5 × content, at least 1 GiB) plus free
		// space; then the same tree is planned again at that size.
		probe, err := root.Plan()
		if err != nil {
			return nil, fmt.Errorf("disk image: root file system: %w", err)
		}
		rootOpts.Size = roundUp(max(probe.Size()+DefaultFreeSpace, opts.RootMinSize), 128*mib)
		root.SetSize(rootOpts.Size)
	}
	if rootOpts.Size < opts.RootMinSize {
		return nil, fmt.Errorf("disk image: disk size %d bytes leaves %d for the root, less than its minimum size %d", opts.Size, rootOpts.Size, opts.RootMinSize)
	}
	if img.rootLayout, err = root.Plan(); err != nil {
		if opts.Size > 0 {
			return nil, fmt.Errorf("disk image: disk size %d bytes is too small for the root file system: %w", opts.Size, err)
		}
		return nil, fmt.Errorf("disk image: root file system: %w", err)
	}
	img.RootSize = rootOpts.Size
	img.Size = opts.Size
	if img.Size == 0 {
		img.Size = int64(rootFirst)*gpt.SectorSize + img.RootSize + tail
	}
	espLast := espFirst + uint64(opts.ESPSize)/gpt.SectorSize - 1
	rootLast := rootFirst + uint64(img.RootSize)/gpt.SectorSize - 1
	if rootLast > gpt.LastUsableLBA(img.Size) {
		return nil, fmt.Errorf("disk image: disk size %d bytes is too small", img.Size)
	}
	img.table = gpt.Table{
		DiskGUID: gpt.DeriveGUID(seed + "disk"),
		Partitions: []gpt.Partition{
			{Type: gpt.TypeEFISystem, GUID: gpt.DeriveGUID(seed + "esp"), Name: "ESP", FirstLBA: espFirst, LastLBA: espLast},
			{Type: gpt.TypeLinuxRootAMD64, GUID: gpt.DeriveGUID(seed + "root"), Name: "root", FirstLBA: rootFirst, LastLBA: rootLast},
		},
	}
	return img, nil
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// planESP collects the ESP's files: systemd-boot, loader.conf, the entry
// and the kernel directory.
func (img *Image) planESP() error {
	s := img.Sysroot
	img.esp = fstree.New()
	link := func(espPath, sysPath string) error {
		n := s.Get(sysPath)
		if n != nil && n.Kind == deploy.Hardlink {
			n = s.Get(n.Link)
		}
		if n == nil || n.Kind != deploy.File {
			return fmt.Errorf("the commit has no /%s", strings.TrimPrefix(sysPath, s.Deployment+"/"))
		}
		// Object names the sysroot file the content comes from; the
		// ESP tree is never committed, so it needs no checksum there.
		return img.esp.Put(espPath, &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Size: n.Size, Object: sysPath})
	}
	data := func(p, content string) error {
		return img.esp.Put(p, &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Size: int64(len(content)), Data: []byte(content)})
	}
	const sdboot = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"
	if err := link("EFI/BOOT/BOOTX64.EFI", s.Deployment+"/"+sdboot); err != nil {
		return fmt.Errorf("%w (systemd-boot-efi must be installed)", err)
	}
	if err := link("EFI/systemd/systemd-bootx64.efi", s.Deployment+"/"+sdboot); err != nil {
		return err
	}
	if err := link(strings.TrimPrefix(s.Kernel, "boot/"), s.Kernel); err != nil {
		return err
	}
	if err := link(strings.TrimPrefix(s.Initramfs, "boot/"), s.Initramfs); err != nil {
		return err
	}
	entry := strings.TrimPrefix(s.Entry, "boot/loader.1/")
	if err := data("loader/"+entry, s.EntryText); err != nil {
		return err
	}
	return data("loader/loader.conf", loaderConf(filepath.Base(entry)))
}

// loaderConf is systemd-boot's configuration: the newest ostree entry is the
// default; a short menu allows picking the rollback by hand.
func loaderConf(defaultEntry string) string {
	return "# Written by debatom; /etc/debatom/esp-sync rewrites it after upgrades.\ndefault " + defaultEntry + "\ntimeout 3\neditor no\n"
}

func (img *Image) espOptions() vfat.Options {
	volID := gpt.DeriveGUID("esp-volume/" + img.Sysroot.Commit)
	// The ESP is partition 1, at the first aligned sector, which is also
	// where New puts it.
	return vfat.Options{
		Size: img.ESPSize, VolumeID: uint32(volID[0])<<24 | uint32(volID[1])<<16 | uint32(volID[2])<<8 | uint32(volID[3]),
		Label: "ESP", Time: img.Timestamp, HiddenSectors: uint32(gpt.AlignLBA(gpt.FirstUsableLBA)),
	}
}

func (img *Image) espFS() fs.FS {
	return img.esp.FS(func(p string, e *fstree.Entry) (io.ReadCloser, error) {
		rc, _, err := img.Sysroot.Open(e.Object)
		return rc, err
	})
}

// WriteRaw writes the image to path as a sparse raw file, through a
// temporary file renamed into place when complete.
func (img *Image) WriteRaw(ctx context.Context, path string) error {
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		if err := f.Truncate(img.Size); err != nil {
			return err
		}
		return img.write(ctx, &writebackFile{File: f})
	})
	if err != nil {
		return fmt.Errorf("disk image: %w", err)
	}
	return nil
}

// WriteQcow2 writes the image to path as qcow2 (uncompressed clusters,
// unless compress), through a temporary file renamed into place when
// complete. Uncompressed, the image is written in place: its clusters
// are laid out from where the partition table and the planned file
// systems put their data (DataRanges), and the file systems then write
// straight into them. Compressed, the raw image is staged in a sparse
// temporary file next to path and converted, since compressed sizes are
// known only after compressing.
func (img *Image) WriteQcow2(ctx context.Context, path string, compress bool) error {
	if !compress {
		err := atomicfile.Write(path, 0o644, func(out *os.File) error {
			q, err := qcow2.Create(&writebackFile{File: out}, img.Size, img.DataRanges(), qcow2.Options{})
			if err != nil {
				return err
			}
			if err := img.write(ctx, q); err != nil {
				return err
			}
			return q.Close()
		})
		if err != nil {
			return fmt.Errorf("disk image: %w", err)
		}
		return nil
	}
	err := atomicfile.Write(path, 0o644, func(out *os.File) error {
		raw, err := os.CreateTemp(filepath.Dir(path), ".debatom-raw-*")
		if err != nil {
			return err
		}
		defer os.Remove(raw.Name())
		defer raw.Close()
		if err := raw.Truncate(img.Size); err != nil {
			return err
		}
		if err := img.write(ctx, raw); err != nil {
			return err
		}
		return ConvertQcow2(ctx, raw, out, compress)
	})
	if err != nil {
		return fmt.Errorf("disk image: %w", err)
	}
	return nil
}

// ConvertQcow2 writes the raw image in raw (a sparse file) to out as qcow2.
func ConvertQcow2(ctx context.Context, raw, out *os.File, compress bool) error {
	src, err := qcow2.FileSource(raw)
	if err != nil {
		return fmt.Errorf("qcow2 from %s: %w", raw.Name(), err)
	}
	if err := qcow2.Write(ctx, out, src, qcow2.Options{Compress: compress, TempDir: filepath.Dir(out.Name())}); err != nil {
		return fmt.Errorf("qcow2 %s: %w", out.Name(), err)
	}
	return nil
}

// DataRanges returns, sorted, the byte ranges of the disk that writing it
// may fill: both partition tables and the file systems' planned data.
// Everything else is zeros.
func (img *Image) DataRanges() []qcow2.Extent {
	backup := int64(gpt.LastUsableLBA(img.Size)+1) * gpt.SectorSize
	out := []qcow2.Extent{{Offset: 0, Length: gpt.FirstUsableLBA * gpt.SectorSize}}
	esp := int64(img.table.Partitions[0].FirstLBA) * gpt.SectorSize
	for _, r := range img.espLayout.DataRanges() {
		out = append(out, qcow2.Extent{Offset: esp + r.Offset, Length: r.Length})
	}
	root := int64(img.table.Partitions[1].FirstLBA) * gpt.SectorSize
	for _, r := range img.rootLayout.DataRanges() {
		out = append(out, qcow2.Extent{Offset: root + r.Offset, Length: r.Length})
	}
	return append(out, qcow2.Extent{Offset: backup, Length: img.Size - backup})
}

// write writes the disk to w, which must read as zeros where nothing is
// written (a new file truncated to the size, a new qcow2 image) and must
// take writes from several goroutines at once (*os.File and
// *qcow2.Writer do). The ESP is written beside the root rather than
// before it: it copies the kernel and initramfs one file at a time, on
// one core, while the root's writer keeps the others busy.
func (img *Image) write(ctx context.Context, w io.WriterAt) error {
	if err := gpt.Write(w, img.Size, img.table); err != nil {
		return fmt.Errorf("partition table: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		esp := img.table.Partitions[0]
		if err := img.espLayout.Write(ctx, io.NewOffsetWriter(w, int64(esp.FirstLBA)*gpt.SectorSize)); err != nil {
			return fmt.Errorf("ESP: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		root := img.table.Partitions[1]
		if err := img.rootLayout.Write(ctx, io.NewOffsetWriter(w, int64(root.FirstLBA)*gpt.SectorSize)); err != nil {
			return fmt.Errorf("root file system: %w", err)
		}
		return nil
	})
	return g.Wait()
}
