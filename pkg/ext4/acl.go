package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// POSIX ACLs arrive in the form the xattr system calls use (version 2,
// eight bytes per entry) and are stored in ext4's own compact form
// (version 1; the four entries that carry no id take four bytes).
const (
	aclXattrVersion = 2
	aclExt4Version  = 1

	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclToDisk converts an ACL from xattr form to ext4's form.
func aclToDisk(v []byte) ([]byte, error) {
	if len(v) < 4 || (len(v)-4)%8 != 0 {
		return nil, fmt.Errorf("ACL of %d bytes is not a version 2 header and 8-byte entries", len(v))
	}
	if ver := binary.LittleEndian.Uint32(v); ver != aclXattrVersion {
		return nil, fmt.Errorf("ACL version %d, want %d", ver, aclXattrVersion)
	}
	out := binary.LittleEndian.AppendUint32(nil, aclExt4Version)
	for e := v[4:]; len(e) > 0; e = e[8:] {
		tag, perm, id := get16(e, 0), get16(e, 2), get32(e, 4)
		out = binary.LittleEndian.AppendUint16(out, tag)
		out = binary.LittleEndian.AppendUint16(out, perm)
		switch tag {
		case aclUser, aclGroup:
			out = binary.LittleEndian.AppendUint32(out, id)
		case aclUserObj, aclGroupObj, aclMask, aclOther:
		default:
			return nil, fmt.Errorf("ACL entry tag %#x unknown", tag)
		}
	}
	return out, nil
}

// aclFromDisk converts ext4's ACL form back to the xattr form.
func aclFromDisk(v []byte) ([]byte, error) {
	if len(v) < 4 || binary.LittleEndian.Uint32(v) != aclExt4Version {
		return nil, errors.New("ACL without an ext4 version 1 header")
	}
	out := binary.LittleEndian.AppendUint32(nil, aclXattrVersion)
	for e := v[4:]; len(e) > 0; {
		if len(e) < 4 {
			return nil, errors.New("ACL entry truncated")
		}
		tag, perm := get16(e, 0), get16(e, 2)
		id := uint32(0xFFFFFFFF) // ACL_UNDEFINED_ID, as the kernel reports it
		n := 4
		switch tag {
		case aclUser, aclGroup:
			if len(e) < 8 {
				return nil, errors.New("ACL entry truncated")
			}
			id, n = get32(e, 4), 8
		case aclUserObj, aclGroupObj, aclMask, aclOther:
		default:
			return nil, fmt.Errorf("ACL entry tag %#x unknown", tag)
		}
		out = binary.LittleEndian.AppendUint16(out, tag)
		out = binary.LittleEndian.AppendUint16(out, perm)
		out = binary.LittleEndian.AppendUint32(out, id)
		e = e[n:]
	}
	return out, nil
}
