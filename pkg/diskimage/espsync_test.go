package diskimage

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// TestESPSync runs the sync script on a /boot as ostree leaves it after an
// upgrade (two entries, two kernel directories) and an ESP holding the first
// deployment plus a stale kernel directory.
func TestESPSync(t *testing.T) {
	sh := testenv.Tool(t, "sh")
	dir := t.TempDir()
	boot, esp := filepath.Join(dir, "boot"), filepath.Join(dir, "esp")
	files := map[string]string{
		"boot/loader.1/entries/ostree-1.conf": "title old\n",
		"boot/loader.1/entries/ostree-2.conf": "title new\n",
		"boot/ostree/debian-aaa/vmlinuz-6":    "old kernel",
		"boot/ostree/debian-bbb/vmlinuz-6":    "new kernel",
		"esp/loader/entries/ostree-1.conf":    "title stale\n",
		"esp/loader/loader.conf":              "default ostree-1.conf\n",
		"esp/ostree/debian-aaa/vmlinuz-6":     "old kernel",
		"esp/ostree/debian-zzz/vmlinuz-5":     "removed kernel",
	}
	for p, c := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("loader.1", filepath.Join(boot, "loader")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "esp-sync")
	if err := os.WriteFile(script, []byte(espSyncScript), 0o755); err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ { // a second run changes nothing
		if out, err := exec.Command(sh, script, boot, esp).CombinedOutput(); err != nil {
			t.Fatalf("esp-sync: %v\n%s", err, out)
		}
		for p, want := range map[string]string{
			"loader/entries/ostree-1.conf": "title old\n",
			"loader/entries/ostree-2.conf": "title new\n",
			"ostree/debian-bbb/vmlinuz-6":  "new kernel",
			"ostree/debian-aaa/vmlinuz-6":  "old kernel",
		} {
			b, err := os.ReadFile(filepath.Join(esp, p))
			if err != nil || string(b) != want {
				t.Errorf("ESP %s = %q, %v; want %q", p, b, err, want)
			}
		}
		conf, _ := os.ReadFile(filepath.Join(esp, "loader/loader.conf"))
		if !strings.Contains(string(conf), "default ostree-2.conf\n") {
			t.Errorf("loader.conf:\n%s", conf)
		}
		if _, err := os.Stat(filepath.Join(esp, "ostree/debian-zzz")); !os.IsNotExist(err) {
			t.Errorf("stale kernel directory kept: %v", err)
		}
		left, _ := filepath.Glob(filepath.Join(esp, "*/*.*[a-z]"))
		for _, l := range left {
			if strings.HasSuffix(l, ".new") || strings.HasSuffix(l, ".old") || strings.HasSuffix(l, ".tmp") {
				t.Errorf("left behind: %s", l)
			}
		}
	}
}
