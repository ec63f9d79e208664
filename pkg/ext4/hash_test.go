package ext4

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

func readNames(t testing.TB) []string {
	t.Helper()
	f, err := os.Open("testdata/hashnames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l)
		}
	}
	return names
}

// TestDirHashDebugfs compares the half-MD4 directory hash with debugfs's
// dx_hash (signed chars, as mkfs.ext4 records on x86), with and without a
// seed.
func TestDirHashDebugfs(t *testing.T) {
	debugfs := testenv.Tool(t, "debugfs")
	re := regexp.MustCompile(`is (0x[0-9a-f]+) \(minor (0x[0-9a-f]+)\)`)
	seeds := []string{"00000000-0000-0000-0000-000000000000", "11111111-2222-3333-4444-555555555555"}
	for _, seedStr := range seeds {
		var seed [4]uint32
		raw, err := hex.DecodeString(strings.ReplaceAll(seedStr, "-", ""))
		if err != nil {
			t.Fatal(err)
		}
		for i := range seed {
			seed[i] = get32(raw, 4*i)
		}
		for _, name := range readNames(t) {
			out, err := exec.Command(debugfs, "-R", fmt.Sprintf("dx_hash -h half_md4 -s %s %s", seedStr, name)).CombinedOutput()
			if err != nil {
				t.Fatalf("debugfs dx_hash %q: %v\n%s", name, err, out)
			}
			m := re.FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("debugfs dx_hash %q: unexpected output %s", name, out)
			}
			major, minor := dirHash([]byte(name), seed)
			if got := fmt.Sprintf("%#x", major); got != m[1] {
				t.Errorf("seed %s, %q: hash %s, debugfs %s", seedStr, name, got, m[1])
			}
			if got := fmt.Sprintf("%#x", minor); got != m[2] {
				t.Errorf("seed %s, %q: minor hash %s, debugfs %s", seedStr, name, got, m[2])
			}
		}
	}
}

func TestXattrIndex(t *testing.T) {
	tests := []struct {
		name   string
		index  uint8
		suffix string
		bad    bool
	}{
		{"user.foo", 1, "foo", false},
		{"trusted.overlay.opaque", 4, "overlay.opaque", false},
		{"security.selinux", 6, "selinux", false},
		{"security.capability", 6, "capability", false},
		{"system.data", 7, "data", false},
		{"system.richacl", 8, "", false},
		{"system.posix_acl_access", 2, "", false},
		{"system.posix_acl_default", 3, "", false},
		{"system.posix_acl_accessx", 7, "posix_acl_accessx", false},
		{"user.", 0, "", true},
		{"os2.foo", 0, "", true},
		{"", 0, "", true},
	}
	for _, tt := range tests {
		idx, suffix, err := xattrIndex(tt.name)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err = %v, want error %v", tt.name, err, tt.bad)
			continue
		}
		if !tt.bad && (idx != tt.index || suffix != tt.suffix) {
			t.Errorf("%q: (%d, %q), want (%d, %q)", tt.name, idx, suffix, tt.index, tt.suffix)
		}
	}
}
