package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONOneObjectPerLine(t *testing.T) {
	var b bytes.Buffer
	r := JSON(&b)
	s := Start(r, "fetch", "213 packages")
	s.Progress(10, 100, "bytes")
	s.Warn("slow\nmirror")
	s.End("done")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines: %q", len(lines), b.String())
	}
	kinds := []string{"start", "progress", "warning", "end"}
	for i, l := range lines {
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e.Kind != kinds[i] || e.Stage != "fetch" {
			t.Errorf("line %d = %+v", i, e)
		}
	}
}

func TestTerminalEndsWithNewlines(t *testing.T) {
	var b bytes.Buffer
	r := Terminal(&b)
	s := Start(r, "unpack", "")
	s.Progress(5, 10, "packages")
	s.End("10 packages")
	out := b.String()
	if !strings.HasSuffix(out, "s\n") || !strings.Contains(out, "10 packages") {
		t.Errorf("terminal output %q", out)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 * 1024: "1.5 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
