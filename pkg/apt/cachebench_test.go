package apt

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user + system CPU time: on a shared machine
// it varies far less than wall time. It counts the GC's work on other
// threads, which is part of what a load costs.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadIndexCache loads the full trixie amd64 index from its
// cache file, as a warm build does, and reports CPU time per load.
func BenchmarkReadIndexCache(b *testing.B) {
	pkgs, err := parsePackages(realIndexText(b), "Packages", "o")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := writeIndexCache(dir, "k", pkgs); err != nil {
		b.Fatal(err)
	}
	pkgs = nil
	// Each load starts from a collected heap, as in a build where the
	// index is the first big thing loaded: how much the GC works during
	// the load depends on that.
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		start := cpuTime(b)
		b.StartTimer()
		got, err := readIndexCache(dir, "k")
		if err != nil || len(got) != 68829 {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - start
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkFetchRelease is what every run pays before any cache is
// trusted: the keyring read, InRelease read and signature check.
func BenchmarkFetchRelease(b *testing.B) {
	src := archiveSource(b)
	c := newClient(nil, 0)
	opts := &Options{}
	start := cpuTime(b)
	for b.Loop() {
		if _, err := fetchRelease(context.Background(), c, src, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
