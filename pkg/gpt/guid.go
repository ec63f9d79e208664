package gpt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// A GUID is held in the byte order of its text form ("C12A7328-F81F-…"
// reads as C1 2A 73 28 F8 1F …). On disk the first three fields are
// little-endian; Encode and DecodeGUID convert.
type GUID [16]byte

// Well-known partition type GUIDs. The Linux ones are those of the UAPI
// Discoverable Partitions Specification, which systemd-gpt-auto-generator
// and systemd-repart act on.
var (
	TypeEFISystem      = MustParseGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	TypeLinuxRootAMD64 = MustParseGUID("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709")
	TypeLinuxRootARM64 = MustParseGUID("B921B045-1DF0-41C3-AF44-4C6F280D3FAE")
	TypeXBOOTLDR       = MustParseGUID("BC13C2FF-59E6-4262-A352-B275FD6F7172")
	TypeLinuxFS        = MustParseGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
	TypeBIOSBoot       = MustParseGUID("21686148-6449-6E6F-744E-656564454649")
)

// ParseGUID parses the 36-character text form, in either case.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("gpt: GUID %q is not of the form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s)
	}
	h := strings.ReplaceAll(s, "-", "")
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return GUID{}, fmt.Errorf("gpt: GUID %q: %w", s, err)
	}
	return g, nil
}

// MustParseGUID is ParseGUID for constants; it panics on a malformed string.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// String returns the upper-case text form, as sfdisk and sgdisk print it.
func (g GUID) String() string {
	h := strings.ToUpper(hex.EncodeToString(g[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IsZero reports whether g is the all-zero GUID, which marks an unused entry.
func (g GUID) IsZero() bool { return g == GUID{} }

// Encode returns the 16 on-disk bytes: the first three fields
// (32, 16 and 16 bits) little-endian, the last eight bytes as they are.
func (g GUID) Encode() [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], binary.BigEndian.Uint32(g[0:]))
	binary.LittleEndian.PutUint16(b[4:], binary.BigEndian.Uint16(g[4:]))
	binary.LittleEndian.PutUint16(b[6:], binary.BigEndian.Uint16(g[6:]))
	copy(b[8:], g[8:])
	return b
}

// DecodeGUID is the inverse of Encode.
func DecodeGUID(b []byte) GUID {
	var g GUID
	binary.BigEndian.PutUint32(g[0:], binary.LittleEndian.Uint32(b[0:]))
	binary.BigEndian.PutUint16(g[4:], binary.LittleEndian.Uint16(b[4:]))
	binary.BigEndian.PutUint16(g[6:], binary.LittleEndian.Uint16(b[6:]))
	copy(g[8:], b[8:16])
	return g
}

// DeriveGUID returns a GUID that looks like a random (version 4, RFC 4122
// variant) one but is a function of seed: the first 16 bytes of its
// SHA-256 with the version and variant bits set. Reproducible images need
// disk and partition GUIDs that do not come from the clock or a random
// source; callers seed with something naming the image and the partition.
func DeriveGUID(seed string) GUID {
	sum := sha256.Sum256([]byte(seed))
	var g GUID
	copy(g[:], sum[:16])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}
