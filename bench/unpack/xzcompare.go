//go:build ignore

// xzcompare decodes every xz member of the .debs given (default: the
// frozen archive's pool) with each pure-Go xz decoder and with xz-utils,
// single core, and prints MB/s of decompressed output by wall and by CPU
// time. xzcompare.sh runs it in a scratch module (with debatom replaced by
// this checkout), so the decoders that lose stay out of debatom's go.mod.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	dxz "github.com/debatom/debatom/pkg/deb/xz"
	trc "github.com/therootcompany/xz"
	uxz "github.com/ulikunitz/xz"
	xi2 "github.com/xi2/xz"
)

// members returns the xz-compressed ar members of a .deb; this benchmark
// trusts its input, unlike pkg/deb.
func members(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = b[8:]
	var out [][]byte
	for len(b) >= 60 {
		name := strings.TrimSpace(string(b[:16]))
		size, err := strconv.Atoi(strings.TrimSpace(string(b[48:58])))
		if err != nil || 60+size > len(b) {
			return nil, fmt.Errorf("%s: bad member %q", path, name)
		}
		if strings.HasSuffix(name, ".xz") {
			out = append(out, b[60:60+size])
		}
		b = b[min(len(b), 60+size+size%2):]
	}
	return out, nil
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(name string, n int64, wall, cpu time.Duration) {
	fmt.Printf("| %-26s | %11d | %6.2f | %6.1f | %6.2f | %6.1f |\n", name, n,
		wall.Seconds(), float64(n)/1e6/wall.Seconds(), cpu.Seconds(), float64(n)/1e6/cpu.Seconds())
}

func main() {
	pool := flag.String("debs", "/work/shared/debian-archive/pool/*/*/*/*.deb", "glob of .deb files")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	debs, _ := filepath.Glob(*pool)
	var ms [][]byte
	var comp int
	for _, d := range debs {
		m, err := members(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ms = append(ms, m...)
	}
	for _, m := range ms {
		comp += len(m)
	}
	fmt.Printf("%d xz members of %d packages, %d compressed bytes\n\n", len(ms), len(debs), comp)
	fmt.Println("| decoder                    | output bytes | wall s | MB/s | cpu s | MB/s (cpu) |")
	fmt.Println("|---|---|---|---|---|---|")
	decoders := []struct {
		name string
		open func([]byte) (io.Reader, error)
	}{
		{"ulikunitz/xz v0.5.17", func(b []byte) (io.Reader, error) { return uxz.NewReader(bytes.NewReader(b)) }},
		{"xi2/xz (2017-12-30)", func(b []byte) (io.Reader, error) { return xi2.NewReader(bytes.NewReader(b), 0) }},
		{"therootcompany/xz v1.0.1", func(b []byte) (io.Reader, error) { return trc.NewReader(bytes.NewReader(b), 0) }},
		{"debatom pkg/deb/xz", func(b []byte) (io.Reader, error) { return dxz.NewReader(bytes.NewReader(b), 128<<20) }},
	}
	var want int64 = -1
	for _, d := range decoders {
		w0, c0 := time.Now(), cpu()
		var n int64
		for _, m := range ms {
			r, err := d.open(m)
			if err != nil {
				fmt.Fprintln(os.Stderr, d.name, err)
				os.Exit(1)
			}
			k, err := io.Copy(io.Discard, r)
			if err != nil {
				fmt.Fprintln(os.Stderr, d.name, err)
				os.Exit(1)
			}
			n += k
		}
		report(d.name, n, time.Since(w0), cpu()-c0)
		if want >= 0 && n != want {
			fmt.Fprintf(os.Stderr, "%s decoded %d bytes, others %d\n", d.name, n, want)
			os.Exit(1)
		}
		want = n
	}
	// xz-utils as an external process on the same bytes: its CPU time is
	// the child's, so process start-up is in wall time only.
	w0 := time.Now()
	var n int64
	var c time.Duration
	for _, m := range ms {
		cmd := exec.Command("xz", "-dc", "-T1")
		cmd.Stdin = bytes.NewReader(m)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "xz:", err)
			os.Exit(1)
		}
		n += int64(out.Len())
		c += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	report("xz-utils (xz -dc -T1)", n, time.Since(w0), c)
}
