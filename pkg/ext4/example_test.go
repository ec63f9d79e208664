package ext4_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/debatom/debatom/pkg/ext4"
)

func Example() {
	b := ext4.NewBuilder(ext4.Options{
		Label:     "root",
		Timestamp: time.Unix(1748779200, 0), // SOURCE_DATE_EPOCH
		UUID:      [16]byte{1, 2, 3, 4},
		HashSeed:  [16]byte{5, 6, 7, 8},
	})
	hello := "hello\n"
	b.Mkdir("etc", 0o755, 0, 0, nil)
	b.AddFile("etc/motd", 0o644, 0, 0, []ext4.Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:etc_t:s0\x00")}},
		int64(len(hello)), func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(hello)), nil })
	b.Hardlink("etc/motd.link", "etc/motd")
	b.Symlink("etc/issue", "motd", 0, 0, nil)

	img := filepath.Join(os.TempDir(), "example-root.img")
	defer os.Remove(img)
	if err := b.WriteFile(context.Background(), img); err != nil {
		fmt.Println(err)
		return
	}

	f, _ := os.Open(img)
	defer f.Close()
	r, _ := ext4.NewReader(f)
	in, _ := r.Lookup("etc/motd")
	fmt.Printf("%s: mode %o, %d links, %d bytes\n", r.Label, in.Mode, in.Links, in.Size)
	// Output: root: mode 100644, 2 links, 6 bytes
}
