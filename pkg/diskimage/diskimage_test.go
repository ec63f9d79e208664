package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/deploy"
	"github.com/debatom/debatom/pkg/ext4"
	"github.com/debatom/debatom/pkg/gpt"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/vfat"
)

const testRef = "debian/13/x86_64/test"

// testCommit commits testdata/tree (or a copy without the kernel).
func testCommit(t testing.TB, withKernel bool) (*ostreerepo.Repo, string) {
	t.Helper()
	ctx := context.Background()
	src := "testdata/tree"
	if !withKernel {
		src = filepath.Join(t.TempDir(), "tree")
		if err := os.CopyFS(src, os.DirFS("testdata/tree")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(src, "usr/lib/modules")); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := ostreerepo.Create(filepath.Join(t.TempDir(), "repo"), ostreerepo.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	dt, dm, err := repo.WriteDir(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.Commit(ctx, dt, dm, ostreerepo.CommitOptions{Subject: "test", Ref: testRef, Timestamp: time.Unix(1750000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

func testOptions() Options {
	return Options{Ref: testRef, RemoteURL: "http://10.0.2.2/repo", KernelArgs: []string{"quiet"}, ESPSize: 64 << 20, Size: 192 << 20,
		Customize: deploy.Customizations{Hostname: "box", Users: []deploy.User{{Name: "alice", PasswordHash: "$6$s$h", Groups: []string{"sudo"}}}}}
}

// TestImage writes a raw and a qcow2 image of a small commit and reads
// them back with this repository's readers and the real tools (e2fsck,
// fsck.vfat, qemu-img): partitions, ESP contents, the sysroot on ext4.
func TestImage(t *testing.T) {
	ctx := context.Background()
	repo, commit := testCommit(t, true)
	img, err := New(ctx, repo, commit, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	if err := img.WriteRaw(ctx, raw); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() != img.Size {
		t.Fatalf("raw size %d, planned %d", st.Size(), img.Size)
	}
	table, err := gpt.Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Partitions) != 2 || table.Partitions[0].Name != "ESP" || table.Partitions[0].Type != gpt.TypeEFISystem ||
		table.Partitions[1].Name != "root" || table.Partitions[1].Type != gpt.TypeLinuxRootAMD64 {
		t.Fatalf("partitions: %+v", table.Partitions)
	}
	if table.Partitions[0].FirstLBA != 2048 || (table.Partitions[0].LastLBA+1-2048)*512 != 64<<20 {
		t.Errorf("ESP at %d..%d", table.Partitions[0].FirstLBA, table.Partitions[0].LastLBA)
	}

	// ESP.
	esp := table.Partitions[0]
	espR := io.NewSectionReader(f, int64(esp.FirstLBA)*512, int64(esp.LastLBA-esp.FirstLBA+1)*512)
	efs, err := vfat.Open(espR, espR.Size())
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := readFS(efs, p)
		if err != nil {
			t.Errorf("ESP %s: %v", p, err)
		}
		return string(b)
	}
	if got := read("EFI/BOOT/BOOTX64.EFI"); got != "not really systemd-boot\n" {
		t.Errorf("BOOTX64.EFI = %q", got)
	}
	entry := read("loader/entries/ostree-1.conf")
	if entry != img.Sysroot.EntryText {
		t.Errorf("ESP entry %q differs from /boot's %q", entry, img.Sysroot.EntryText)
	}
	if !strings.Contains(entry, "options root=LABEL=root rw console=tty0 console=ttyS0,115200 console=ttyS0 quiet ostree=/ostree/boot.1/debian/") {
		t.Errorf("entry options: %s", entry)
	}
	if got := read("loader/loader.conf"); !strings.Contains(got, "default ostree-1.conf\n") {
		t.Errorf("loader.conf = %q", got)
	}
	if got := read(strings.TrimPrefix(img.Sysroot.Kernel, "boot/")); got != "kernel image bytes\n" {
		t.Errorf("ESP kernel = %q", got)
	}

	// Root.
	root := table.Partitions[1]
	rootR := io.NewSectionReader(f, int64(root.FirstLBA)*512, int64(root.LastLBA-root.FirstLBA+1)*512)
	r, err := ext4.NewReader(rootR)
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "root" {
		t.Errorf("root label %q", r.Label)
	}
	dep := img.Sysroot.Deployment
	a, err := r.Lookup(dep + "/usr/lib/os-release")
	if err != nil {
		t.Fatal(err)
	}
	if a.Links < 2 {
		t.Errorf("os-release has %d links; the deployment should share the object's inode", a.Links)
	}
	k, err := r.Lookup(img.Sysroot.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := r.Lookup(dep + "/usr/lib/modules/6.12.0-test-amd64/vmlinuz")
	if err != nil || k.Ino != k2.Ino {
		t.Errorf("/boot kernel is not the deployment's inode: %v", err)
	}
	for _, p := range []string{"boot/loader.1/entries/ostree-1.conf", dep + "/etc/debatom/esp-sync", dep + "/etc/systemd/system/multi-user.target.wants/debatom-esp-sync.service", dep + ".origin", "ostree/repo/config"} {
		if _, err := r.Lookup(p); err != nil {
			t.Errorf("root: %s: %v", p, err)
		}
	}
	in, _ := r.Lookup(dep + "/etc/passwd")
	var passwd bytes.Buffer
	if err := r.ReadFile(in, &passwd); err != nil || !strings.Contains(passwd.String(), "alice:x:1000:1000:") {
		t.Errorf("passwd %q %v", passwd.String(), err)
	}

	// Real tools on the partitions.
	if e2fsck := testenv.Tool(t, "e2fsck"); e2fsck != "" {
		part := extract(t, f, root, filepath.Join(dir, "root.img"))
		if out, err := exec.Command(e2fsck, "-fn", part).CombinedOutput(); err != nil {
			t.Errorf("e2fsck: %v\n%s", err, out)
		}
	}
	if fsck := testenv.Tool(t, "fsck.vfat"); fsck != "" {
		part := extract(t, f, esp, filepath.Join(dir, "esp.img"))
		if out, err := exec.Command(fsck, "-n", part).CombinedOutput(); err != nil {
			t.Errorf("fsck.vfat: %v\n%s", err, out)
		}
	}

	// qcow2 holds the same disk.
	qc := filepath.Join(dir, "disk.qcow2")
	if err := img.WriteQcow2(ctx, qc, false); err != nil {
		t.Fatal(err)
	}
	if qemuImg := testenv.Tool(t, "qemu-img"); qemuImg != "" {
		if out, err := exec.Command(qemuImg, "compare", "-f", "raw", "-F", "qcow2", raw, qc).CombinedOutput(); err != nil {
			t.Errorf("qemu-img compare: %v\n%s", err, out)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func readFS(fsys *vfat.FS, p string) ([]byte, error) {
	fh, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(fh)
}

func extract(t *testing.T, f *os.File, p gpt.Partition, name string) string {
	t.Helper()
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(f, int64(p.FirstLBA)*512, int64(p.LastLBA-p.FirstLBA+1)*512)); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestReproducible: one commit and options give the same raw bytes twice.
func TestReproducible(t *testing.T) {
	ctx := context.Background()
	repo, commit := testCommit(t, true)
	sum := func() [32]byte {
		img, err := New(ctx, repo, commit, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "d.raw")
		if err := img.WriteRaw(ctx, p); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		return [32]byte(h.Sum(nil))
	}
	if a, b := sum(), sum(); a != b {
		t.Error("two images of one commit differ")
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	repo, commit := testCommit(t, true)
	noKernelRepo, noKernel := testCommit(t, false)
	for _, tt := range []struct {
		name   string
		repo   *ostreerepo.Repo
		commit string
		mod    func(*Options)
		want   string
	}{
		{"no kernel", noKernelRepo, noKernel, func(*Options) {}, "no kernel"},
		{"disk too small", repo, commit, func(o *Options) { o.Size = 67 << 20 }, "too small"},
		{"disk smaller than ESP", repo, commit, func(o *Options) { o.Size = 32 << 20 }, "too small"},
		{"root below minimum", repo, commit, func(o *Options) { o.Size = 1 << 30; o.RootMinSize = 2 << 30 }, "minimum size"},
		{"bad ESP size", repo, commit, func(o *Options) { o.ESPSize = 1000 }, "ESP size"},
		{"unknown ref", repo, "no/such/ref", func(*Options) {}, "no/such/ref"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			tt.mod(&o)
			_, err := New(ctx, tt.repo, tt.commit, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line with %q", err, tt.want)
			}
		})
	}
}

// TestNoPartialOutput: a failed write leaves nothing at the output path.
func TestNoPartialOutput(t *testing.T) {
	ctx := context.Background()
	repo, commit := testCommit(t, true)
	img, err := New(ctx, repo, commit, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "disk.raw"), filepath.Join(dir, "disk.qcow2")} {
		var err error
		if strings.HasSuffix(p, "raw") {
			err = img.WriteRaw(cctx, p)
		} else {
			err = img.WriteQcow2(cctx, p, false)
		}
		if err == nil {
			t.Errorf("%s: no error from a cancelled write", p)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func BenchmarkQcow2(b *testing.B) {
	ctx := context.Background()
	repo, commit := testCommit(b, true)
	dir := b.TempDir()
	for b.Loop() {
		img, err := New(ctx, repo, commit, testOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := img.WriteQcow2(ctx, filepath.Join(dir, "d.qcow2"), false); err != nil {
			b.Fatal(err)
		}
	}
}
