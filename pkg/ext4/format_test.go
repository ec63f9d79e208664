package ext4

import (
	"testing"
	"time"
)

func TestEncodeTime(t *testing.T) {
	tests := []struct {
		t     time.Time
		lo    uint32
		extra uint32
	}{
		{time.Unix(0, 0), 0, 0},
		{time.Unix(1748779200, 123456789), 1748779200, 123456789 << 2},
		// Before 1970: a negative 32-bit seconds field, epoch bits 0.
		{time.Unix(-315619200, 0), 0xED300880, 0},
		// After 2038: the epoch bits carry the overflow.
		{time.Unix(1<<31+5, 7), uint32(1<<31 + 5), 1 | 7<<2},
		{time.Unix(1<<32+9, 0), 9, 1},
		// The last second ext4 can hold, in 2446.
		{time.Unix(3<<32+1<<31-1, 0), 1<<31 - 1, 3},
	}
	for _, tt := range tests {
		lo, extra := encodeTime(tt.t)
		if lo != tt.lo || extra != tt.extra {
			t.Errorf("%v: (%#x, %#x), want (%#x, %#x)", tt.t, lo, extra, tt.lo, tt.extra)
		}
		// Decoding as the kernel does gives the time back.
		sec := int64(int32(lo)) + int64(extra&3)<<32
		if sec != tt.t.Unix() || int(extra>>2) != tt.t.Nanosecond() {
			t.Errorf("%v: decodes to %d.%09d", tt.t, sec, extra>>2)
		}
	}
}

// TestCRC32C checks the raw (uninverted) CRC-32C against the standard
// check value of "123456789" (0xE3069283), which is its inverse.
func TestCRC32C(t *testing.T) {
	if got := ^crc32c(^uint32(0), []byte("123456789")); got != 0xE3069283 {
		t.Errorf("crc32c check value %#x, want 0xe3069283", got)
	}
	// Continuing a checksum equals checksumming the concatenation.
	a, b := []byte("ext4 "), []byte("metadata")
	if crc32c(crc32c(1, a), b) != crc32c(1, append(a, b...)) {
		t.Error("crc32c does not continue")
	}
}
