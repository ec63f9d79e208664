package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"512M", 512 << 20}, {"8G", 8 << 30}, {"10GiB", 10 << 30}, {"4096", 4096}, {"1T", 1 << 40}, {"64MiB", 64 << 20},
		{"", 0}, {"-1G", 0}, {"lots", 0}, {"99999999999T", 0},
	} {
		got, err := parseSize(tt.in)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFormats(t *testing.T) {
	f, err := parseFormats("ostree, raw,qcow2")
	if err != nil || !f["ostree"] || !f["raw"] || !f["qcow2"] {
		t.Errorf("parseFormats: %v %v", f, err)
	}
	if _, err := parseFormats("ostree,iso"); err == nil || !strings.Contains(err.Error(), `"iso"`) {
		t.Errorf("unknown format: %v", err)
	}
}

func TestDiskUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"disk"},
		{"disk", "--repo", "r", "--ref", "x"},
		{"disk", "--repo", "r", "--ref", "x", "-o", "out.vmdk"},
		{"disk", "--repo", "r", "--ref", "x", "-o", "out.raw", "--disk-size", "big"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage); stderr %s", args, code, errb.String())
		}
	}
}
