package ext4

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// TestGrow grows an image 40-fold with resize2fs, as a deployment grows
// its root filesystem to the disk, and wants e2fsck still clean and the
// files intact. Without resize_inode there are no reserved descriptor
// blocks, so resize2fs has to move blocks to make room for new ones.
func TestGrow(t *testing.T) {
	resize2fs := testenv.Tool(t, "resize2fs")
	if testing.Short() {
		t.Skip("short")
	}
	s := buildSynthetic(t, testOptions(), false)
	img := filepath.Join(t.TempDir(), "grow.img")
	if err := s.b.WriteFile(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 40<<30); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(resize2fs, img).CombinedOutput(); err != nil {
		t.Fatalf("resize2fs: %v\n%s", err, out)
	}
	e2fsck(t, img)
	head := dumpe2fsHeader(t, img)
	if head["Block count"] != "10485760" {
		t.Errorf("block count after resize2fs %q, want 10485760", head["Block count"])
	}
	checkWithReader(t, img, s)
}
