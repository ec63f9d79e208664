package ext4

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// dumpe2fsHeader returns dumpe2fs -h's "Key: value" lines.
func dumpe2fsHeader(t *testing.T, img string) map[string]string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "dumpe2fs"), "-h", img).Output()
	if err != nil {
		t.Fatalf("dumpe2fs -h %s: %v", img, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func uuidString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// TestMatchesMkfs compares the superblock with what mkfs.ext4 makes for
// the same size, label, UUID and hash seed, with the features this
// package leaves out (resize_inode, orphan_file, metadata_csum_seed)
// turned off in mkfs.
func TestMatchesMkfs(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	opts := testOptions()
	for _, size := range []int64{1 << 30, 3<<30 + 128<<20, 3<<30 + 100<<20, 200 << 20} {
		t.Run(fmt.Sprint(size>>20, "MiB"), func(t *testing.T) {
			dir := t.TempDir()
			ref := filepath.Join(dir, "mkfs.img")
			mine := filepath.Join(dir, "ext4.img")
			args := []string{"-q", "-F", "-b", "4096", "-L", opts.Label, "-U", uuidString(opts.UUID),
				"-E", "hash_seed=" + uuidString(opts.HashSeed),
				"-O", "^resize_inode,^metadata_csum_seed", ref, fmt.Sprint(size / 4096)}
			if out, err := exec.Command(mkfs, append([]string{"-O", "^orphan_file"}, args...)...).CombinedOutput(); err != nil {
				// mke2fs before 1.47 does not know orphan_file.
				if out2, err2 := exec.Command(mkfs, args...).CombinedOutput(); err2 != nil {
					t.Fatalf("mkfs.ext4: %v %s / %v %s", err, out, err2, out2)
				}
			}
			o := opts
			o.Size = size
			if err := NewBuilder(o).WriteFile(context.Background(), mine); err != nil {
				t.Fatal(err)
			}
			want, got := dumpe2fsHeader(t, ref), dumpe2fsHeader(t, mine)
			for _, k := range []string{
				"Filesystem volume name", "Filesystem UUID", "Filesystem magic number", "Filesystem revision #",
				"Filesystem features", "Filesystem flags", "Default mount options", "Filesystem state",
				"Errors behavior", "Filesystem OS type", "Inode count", "Block count", "Reserved block count",
				"First block", "Block size", "Group descriptor size", "Blocks per group", "Inodes per group",
				"Inode blocks per group", "Flex block group size", "Maximum mount count", "Check interval",
				"First inode", "Inode size", "Required extra isize", "Desired extra isize", "Journal inode",
				"Default directory hash", "Directory Hash Seed", "Journal backup", "Checksum type",
				"Total journal size", "Total journal blocks", "Journal sequence", "Journal start",
			} {
				if want[k] == "" {
					t.Errorf("mkfs image has no %q", k)
				}
				if got[k] != want[k] {
					t.Errorf("%s: %q, mkfs.ext4 %q", k, got[k], want[k])
				}
			}
			// A deliberate difference: the journal is created with
			// checksums (v3), which mkfs leaves to the kernel.
			if got["Journal features"] != "journal_checksum_v3" || got["Journal checksum type"] != "crc32c" {
				t.Errorf("journal features %q, checksum type %q", got["Journal features"], got["Journal checksum type"])
			}
		})
	}
}
