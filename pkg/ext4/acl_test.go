package ext4

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestACLRoundTrip(t *testing.T) {
	disk, err := aclToDisk(testACL)
	if err != nil {
		t.Fatal(err)
	}
	// Four short entries (4 bytes) and two with ids (8 bytes) after the
	// 4-byte header.
	if len(disk) != 4+4*4+2*8 {
		t.Errorf("ext4 form is %d bytes, want %d", len(disk), 4+4*4+2*8)
	}
	back, err := aclFromDisk(disk)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, testACL) {
		t.Errorf("round trip: %x, want %x", back, testACL)
	}
}

func FuzzACL(f *testing.F) {
	f.Add(testACL)
	f.Add([]byte{2, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0x40, 0, 7, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		disk, err := aclToDisk(v)
		if err != nil {
			return
		}
		back, err := aclFromDisk(disk)
		if err != nil {
			t.Fatalf("aclFromDisk(aclToDisk(%x)): %v", v, err)
		}
		// Ids of entries that carry none are reported as undefined.
		want := append([]byte(nil), v...)
		for e := want[4:]; len(e) > 0; e = e[8:] {
			if tag := binary.LittleEndian.Uint16(e); tag != aclUser && tag != aclGroup {
				binary.LittleEndian.PutUint32(e[4:], ^uint32(0))
			}
		}
		if !bytes.Equal(back, want) {
			t.Fatalf("round trip of %x gave %x", v, back)
		}
		aclFromDisk(v) // hostile input on the read side too
	})
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"usr/bin/sh", "/etc//passwd/", "./a/./b", "../x", "a/../b", "a\x00b", strings.Repeat("n", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		comps, err := cleanPath(p)
		if err != nil {
			return
		}
		for _, c := range comps {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\x00") || len(c) > 255 {
				t.Fatalf("cleanPath(%q) gave component %q", p, c)
			}
		}
	})
}
