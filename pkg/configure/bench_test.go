package configure

import (
	"context"
	"testing"
)

// BenchmarkConfigure runs the whole configure step (accounts, PAM,
// alternatives, units, ld.so.cache over every library, CA bundle, dpkg
// database) on the archive's 213 packages; copying the unpacked tree is
// outside the timer.
func BenchmarkConfigure(b *testing.B) {
	benchConfigure(b, Options{})
}

// BenchmarkConfigureOSTree adds the OSTree layout transform.
func BenchmarkConfigureOSTree(b *testing.B) {
	benchConfigure(b, Options{OSTree: true})
}

func benchConfigure(b *testing.B, opts Options) {
	_, pkgs := archiveSet(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tr, _ := archiveSet(b)
		b.StartTimer()
		if _, err := Configure(context.Background(), tr, nil, pkgs, opts); err != nil {
			b.Fatal(err)
		}
	}
}
