package shacrypt

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Split(sc.Text(), "\t")
		rounds, _ := strconv.Atoi(fields[2])
		got, err := Hash(fields[0], fields[1], rounds)
		if err != nil || got != fields[3] {
			t.Errorf("Hash(%q, %q, %d) = %q, %v; want %q", fields[0], fields[1], rounds, got, err, fields[3])
		}
		n++
	}
	if n == 0 {
		t.Fatal("no vectors")
	}
}

// TestOpenSSL compares with `openssl passwd -6` over password lengths that
// exercise every branch (shorter and longer than a digest).
func TestOpenSSL(t *testing.T) {
	openssl := testenv.Tool(t, "openssl")
	for _, pw := range []string{"a", "debatom", strings.Repeat("x", 64), strings.Repeat("long password ", 10)} {
		salt := Salt([]byte(pw))
		want, err := exec.Command(openssl, "passwd", "-6", "-salt", salt, pw).Output()
		if err != nil {
			t.Fatalf("openssl passwd: %v", err)
		}
		got, err := Hash(pw, salt, 0)
		if err != nil || got != strings.TrimSpace(string(want)) {
			t.Errorf("password %q: got %q, openssl %q", pw, got, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tt := range []struct {
		salt   string
		rounds int
	}{{"a$b", 0}, {"a:b", 0}, {"ok", 999}, {"ok", 1 << 30}} {
		if _, err := Hash("pw", tt.salt, tt.rounds); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("Hash(salt %q, rounds %d): err = %v, want one line", tt.salt, tt.rounds, err)
		}
	}
}

func TestIsHash(t *testing.T) {
	for s, want := range map[string]bool{"$6$salt$abc": true, "$y$j9T$x$y": true, "password": false, "$6$": false, "$$x": false, "$6$a b$c": false} {
		if IsHash(s) != want {
			t.Errorf("IsHash(%q) = %v", s, !want)
		}
	}
}

func TestSaltDeterministic(t *testing.T) {
	a, b := Salt([]byte("commit/user")), Salt([]byte("commit/user"))
	if a != b || len(a) != 16 || a == Salt([]byte("commit/other")) {
		t.Errorf("Salt: %q %q", a, b)
	}
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		Hash("password", "saltsaltsaltsalt", 0)
	}
}
