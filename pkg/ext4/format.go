package ext4

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// On-disk constants, from the kernel's Documentation/filesystems/ext4 and
// e2fsprogs' lib/ext2fs/ext2_fs.h.
const (
	blockSize     = 4096
	logBlockSize  = 2 // blockSize = 1024 << logBlockSize
	inodeSize     = 256
	extraIsize    = 32 // mkfs.ext4's default for 256-byte inodes
	descSize      = 64 // 64bit feature
	blocksPerGrp  = blockSize * 8
	firstIno      = 11
	rootIno       = 2
	journalIno    = 8
	lostFoundIno  = 11
	maxLinks      = 65000 // EXT4_LINK_MAX
	maxExtentLen  = 32768 // longest initialised extent
	inodesPerBlk  = blockSize / inodeSize
	logGrpPerFlex = 4 // mkfs.ext4 default: 16 groups per flex group

	sbMagic       = 0xEF53
	extentMagic   = 0xF30A
	xattrMagic    = 0xEA020000
	jbd2Magic     = 0xC03B3998
	jbd2SBv2      = 4
	jbd2CsumV3    = 0x10
	jbd2CRC32C    = 4
	dirTailFT     = 0xDE
	dxHashHalfMD4 = 1

	compatHasJournal = 0x4
	compatExtAttr    = 0x8
	compatDirIndex   = 0x20

	incompatFiletype = 0x2
	incompatExtents  = 0x40
	incompat64bit    = 0x80
	incompatFlexBG   = 0x200

	roCompatSparseSuper  = 0x1
	roCompatLargeFile    = 0x2
	roCompatHugeFile     = 0x8
	roCompatDirNlink     = 0x20
	roCompatExtraIsize   = 0x40
	roCompatMetadataCsum = 0x400

	flagsSignedHash = 0x1

	mntoptXattrUser = 0x4
	mntoptACL       = 0x8

	bgItableZeroed = 0x4

	inodeFlagIndex   = 0x1000
	inodeFlagExtents = 0x80000

	sIFREG = 0o100000
	sIFDIR = 0o040000
	sIFLNK = 0o120000

	ftReg     = 1
	ftDir     = 2
	ftSymlink = 7
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's ext4_chksum: CRC-32C without the final inversion,
// continuing from crc. Go's crc32.Update inverts on entry and exit, so the
// raw register is recovered by undoing both.
func crc32c(crc uint32, p []byte) uint32 {
	return ^crc32.Update(^crc, castagnoli, p)
}

func le32(v uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	return b[:]
}

// encodeTime splits t into the 32-bit seconds field and the "extra" field
// holding two epoch bits (extending the range past 2038) and nanoseconds.
func encodeTime(t time.Time) (lo uint32, extra uint32) {
	sec := t.Unix()
	lo = uint32(int32(sec))
	epoch := uint32((sec-int64(int32(sec)))>>32) & 3
	return lo, epoch | uint32(t.Nanosecond())<<2
}

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func get16(b []byte, off int) uint16    { return binary.LittleEndian.Uint16(b[off:]) }
func get32(b []byte, off int) uint32    { return binary.LittleEndian.Uint32(b[off:]) }
