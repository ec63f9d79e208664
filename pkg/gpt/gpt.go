// Package gpt writes and reads GUID Partition Tables (UEFI 2.10, chapter 5)
// on disk images with 512-byte sectors: the protective MBR, the primary
// header and entry array at the start of the disk, and the backup array and
// header at its end, each with its CRC32.
//
// The package only lays out the table; the caller writes the partitions'
// contents at FirstLBA*SectorSize. Nothing here reads the clock or a random
// source: GUIDs come from the caller, typically through DeriveGUID, so the
// same table always gives the same bytes.
package gpt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// SectorSize is the logical block size this package writes and reads.
const SectorSize = 512

const (
	// numEntries and entrySize are what every common tool writes: a
	// 16 KiB array, which puts the first usable LBA at 34.
	numEntries  = 128
	entrySize   = 128
	entrySects  = numEntries * entrySize / SectorSize
	headerSize  = 92
	revision    = 0x00010000
	maxNameUTF  = 36
	alignSector = 1 << 20 / SectorSize
)

// Attribute bits of a partition entry. Bits 48–63 are type-specific; the
// ones below are those the Discoverable Partitions Specification defines
// for Linux partition types.
const (
	AttrRequired           uint64 = 1 << 0
	AttrNoBlockIOProtocol  uint64 = 1 << 1
	AttrLegacyBIOSBootable uint64 = 1 << 2
	AttrGrowFS             uint64 = 1 << 59
	AttrReadOnly           uint64 = 1 << 60
	AttrNoAuto             uint64 = 1 << 63
)

// Partition is one entry of the table. LastLBA is inclusive, as on disk.
type Partition struct {
	Type       GUID
	GUID       GUID
	Name       string // at most 36 UTF-16 code units
	FirstLBA   uint64
	LastLBA    uint64
	Attributes uint64
}

// Size returns the partition's size in bytes.
func (p Partition) Size() int64 { return int64(p.LastLBA-p.FirstLBA+1) * SectorSize }

// Table is a whole partition table.
type Table struct {
	DiskGUID   GUID
	Partitions []Partition // written to entries 0, 1, …; Read returns used entries only
}

// FirstUsableLBA is the first sector a partition may start at.
const FirstUsableLBA = 2 + entrySects

// LastUsableLBA returns the last sector a partition may use on a disk of
// diskSize bytes, which leaves room for the backup array and header.
func LastUsableLBA(diskSize int64) uint64 {
	return uint64(diskSize/SectorSize) - 2 - entrySects
}

// AlignLBA rounds lba up to the next 1 MiB boundary, where partitions
// should start so that they line up with any underlying erase block or
// RAID stripe (what fdisk, sgdisk and systemd-repart all do).
func AlignLBA(lba uint64) uint64 {
	return (lba + alignSector - 1) / alignSector * alignSector
}

// Write writes the protective MBR, both headers and both entry arrays for
// a disk of diskSize bytes. It touches only the first and last 34 sectors.
func Write(w io.WriterAt, diskSize int64, t Table) error {
	if err := t.validate(diskSize); err != nil {
		return err
	}
	sectors := uint64(diskSize / SectorSize)
	entries := make([]byte, numEntries*entrySize)
	for i, p := range t.Partitions {
		e := entries[i*entrySize : (i+1)*entrySize]
		typ, id := p.Type.Encode(), p.GUID.Encode()
		copy(e[0:16], typ[:])
		copy(e[16:32], id[:])
		binary.LittleEndian.PutUint64(e[32:], p.FirstLBA)
		binary.LittleEndian.PutUint64(e[40:], p.LastLBA)
		binary.LittleEndian.PutUint64(e[48:], p.Attributes)
		for j, u := range utf16.Encode([]rune(p.Name)) {
			binary.LittleEndian.PutUint16(e[56+2*j:], u)
		}
	}
	entriesCRC := crc32.ChecksumIEEE(entries)

	primary := header(t.DiskGUID, 1, sectors-1, 2, sectors, entriesCRC)
	backup := header(t.DiskGUID, sectors-1, 1, sectors-1-entrySects, sectors, entriesCRC)

	writes := []struct {
		lba  uint64
		data []byte
	}{
		{0, protectiveMBR(sectors)},
		{1, primary},
		{2, entries},
		{sectors - 1 - entrySects, entries},
		{sectors - 1, backup},
	}
	for _, wr := range writes {
		if _, err := w.WriteAt(wr.data, int64(wr.lba)*SectorSize); err != nil {
			return fmt.Errorf("gpt: writing sector %d: %w", wr.lba, err)
		}
	}
	return nil
}

func (t Table) validate(diskSize int64) error {
	if diskSize%SectorSize != 0 {
		return fmt.Errorf("gpt: disk size %d is not a multiple of %d", diskSize, SectorSize)
	}
	// Room for both tables and at least one sector of data.
	if diskSize/SectorSize < 2*FirstUsableLBA {
		return fmt.Errorf("gpt: disk size %d is too small for a partition table", diskSize)
	}
	if len(t.Partitions) > numEntries {
		return fmt.Errorf("gpt: %d partitions, at most %d fit", len(t.Partitions), numEntries)
	}
	last := LastUsableLBA(diskSize)
	for i, p := range t.Partitions {
		switch {
		case p.Type.IsZero():
			return fmt.Errorf("gpt: partition %d (%q) has the zero type GUID, which marks an unused entry", i+1, p.Name)
		case p.FirstLBA < FirstUsableLBA || p.LastLBA > last || p.FirstLBA > p.LastLBA:
			return fmt.Errorf("gpt: partition %d (%q) spans sectors %d–%d, outside the usable %d–%d", i+1, p.Name, p.FirstLBA, p.LastLBA, uint64(FirstUsableLBA), last)
		case len(utf16.Encode([]rune(p.Name))) > maxNameUTF:
			return fmt.Errorf("gpt: partition %d name %q is longer than %d UTF-16 units", i+1, p.Name, maxNameUTF)
		}
		for j, q := range t.Partitions[:i] {
			if p.FirstLBA <= q.LastLBA && q.FirstLBA <= p.LastLBA {
				return fmt.Errorf("gpt: partitions %d (%q) and %d (%q) overlap", j+1, q.Name, i+1, p.Name)
			}
		}
	}
	return nil
}

// protectiveMBR returns sector 0: one partition of type 0xEE covering the
// disk (capped at 2^32-1 sectors), so MBR-only tools see it as in use.
func protectiveMBR(sectors uint64) []byte {
	b := make([]byte, SectorSize)
	p := b[446:462]
	p[0] = 0x00                   // not bootable
	copy(p[1:4], []byte{0, 2, 0}) // CHS of LBA 1
	p[4] = 0xEE
	copy(p[5:8], []byte{0xFF, 0xFF, 0xFF}) // CHS beyond reach, as the spec asks
	binary.LittleEndian.PutUint32(p[8:], 1)
	size := sectors - 1
	if size > 0xFFFFFFFF {
		size = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(p[12:], uint32(size))
	b[510], b[511] = 0x55, 0xAA
	return b
}

func header(disk GUID, my, alt, entriesLBA, sectors uint64, entriesCRC uint32) []byte {
	b := make([]byte, SectorSize)
	copy(b[0:8], "EFI PART")
	binary.LittleEndian.PutUint32(b[8:], revision)
	binary.LittleEndian.PutUint32(b[12:], headerSize)
	binary.LittleEndian.PutUint64(b[24:], my)
	binary.LittleEndian.PutUint64(b[32:], alt)
	binary.LittleEndian.PutUint64(b[40:], FirstUsableLBA)
	binary.LittleEndian.PutUint64(b[48:], sectors-2-entrySects)
	d := disk.Encode()
	copy(b[56:72], d[:])
	binary.LittleEndian.PutUint64(b[72:], entriesLBA)
	binary.LittleEndian.PutUint32(b[80:], numEntries)
	binary.LittleEndian.PutUint32(b[84:], entrySize)
	binary.LittleEndian.PutUint32(b[88:], entriesCRC)
	binary.LittleEndian.PutUint32(b[16:], crc32.ChecksumIEEE(b[:headerSize]))
	return b
}

// Limits on what Read accepts, so that a hostile header cannot make it
// allocate without bound.
const (
	maxReadEntries   = 1024
	maxReadEntrySize = 4096
)

// Read parses and checks the table on a disk of diskSize bytes: the
// protective MBR, both headers with their CRCs, both entry arrays with
// their CRCs, and that the two copies agree. It returns the used entries
// in order.
func Read(r io.ReaderAt, diskSize int64) (*Table, error) {
	if diskSize%SectorSize != 0 || diskSize/SectorSize < 2*FirstUsableLBA {
		return nil, fmt.Errorf("gpt: disk size %d is not a whole number of sectors large enough for a table", diskSize)
	}
	sectors := uint64(diskSize / SectorSize)
	mbr := make([]byte, SectorSize)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, fmt.Errorf("gpt: reading the protective MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil, errors.New("gpt: sector 0 has no MBR signature")
	}
	protective := false
	for i := range 4 {
		if mbr[446+16*i+4] == 0xEE {
			protective = true
		}
	}
	if !protective {
		return nil, errors.New("gpt: the MBR has no protective (type 0xEE) partition")
	}

	primary, pEntries, err := readHeader(r, 1, sectors)
	if err != nil {
		return nil, fmt.Errorf("gpt: primary header: %w", err)
	}
	backup, bEntries, err := readHeader(r, primary.alt, sectors)
	if err != nil {
		return nil, fmt.Errorf("gpt: backup header at sector %d: %w", primary.alt, err)
	}
	if primary.alt != sectors-1 {
		return nil, fmt.Errorf("gpt: the backup header is at sector %d, not at the disk's last sector %d", primary.alt, sectors-1)
	}
	if backup.alt != 1 || backup.disk != primary.disk || backup.firstUsable != primary.firstUsable ||
		backup.lastUsable != primary.lastUsable || !bytes.Equal(pEntries, bEntries) {
		return nil, errors.New("gpt: the primary and backup tables differ")
	}

	t := &Table{DiskGUID: primary.disk}
	for i := 0; i < int(primary.numEntries); i++ {
		e := pEntries[i*int(primary.entrySize):]
		typ := DecodeGUID(e[0:16])
		if typ.IsZero() {
			continue
		}
		p := Partition{
			Type:       typ,
			GUID:       DecodeGUID(e[16:32]),
			FirstLBA:   binary.LittleEndian.Uint64(e[32:]),
			LastLBA:    binary.LittleEndian.Uint64(e[40:]),
			Attributes: binary.LittleEndian.Uint64(e[48:]),
		}
		var name []uint16
		for j := 0; j < maxNameUTF; j++ {
			u := binary.LittleEndian.Uint16(e[56+2*j:])
			if u == 0 {
				break
			}
			name = append(name, u)
		}
		p.Name = string(utf16.Decode(name))
		if p.FirstLBA < primary.firstUsable || p.LastLBA > primary.lastUsable || p.FirstLBA > p.LastLBA {
			return nil, fmt.Errorf("gpt: entry %d spans sectors %d–%d, outside the usable %d–%d", i+1, p.FirstLBA, p.LastLBA, primary.firstUsable, primary.lastUsable)
		}
		t.Partitions = append(t.Partitions, p)
	}
	return t, nil
}

type hdr struct {
	my, alt, firstUsable, lastUsable, entriesLBA uint64
	disk                                         GUID
	numEntries, entrySize                        uint32
}

// readHeader reads and checks the header at lba and returns it with its
// entry array, whose CRC it has checked.
func readHeader(r io.ReaderAt, lba, sectors uint64) (hdr, []byte, error) {
	var h hdr
	if lba >= sectors {
		return h, nil, fmt.Errorf("sector %d is past the end of the disk", lba)
	}
	b := make([]byte, SectorSize)
	if _, err := r.ReadAt(b, int64(lba)*SectorSize); err != nil {
		return h, nil, err
	}
	if string(b[0:8]) != "EFI PART" {
		return h, nil, errors.New("no \"EFI PART\" signature")
	}
	size := binary.LittleEndian.Uint32(b[12:])
	if size < headerSize || size > SectorSize {
		return h, nil, fmt.Errorf("header size %d is outside %d–%d", size, headerSize, SectorSize)
	}
	want := binary.LittleEndian.Uint32(b[16:])
	c := bytes.Clone(b[:size])
	clear(c[16:20])
	if got := crc32.ChecksumIEEE(c); got != want {
		return h, nil, fmt.Errorf("header CRC32 is %08x, computed %08x", want, got)
	}
	h = hdr{
		my:          binary.LittleEndian.Uint64(b[24:]),
		alt:         binary.LittleEndian.Uint64(b[32:]),
		firstUsable: binary.LittleEndian.Uint64(b[40:]),
		lastUsable:  binary.LittleEndian.Uint64(b[48:]),
		disk:        DecodeGUID(b[56:72]),
		entriesLBA:  binary.LittleEndian.Uint64(b[72:]),
		numEntries:  binary.LittleEndian.Uint32(b[80:]),
		entrySize:   binary.LittleEndian.Uint32(b[84:]),
	}
	if h.my != lba {
		return h, nil, fmt.Errorf("header says it is at sector %d", h.my)
	}
	if h.numEntries > maxReadEntries || h.entrySize < entrySize || h.entrySize > maxReadEntrySize || h.entrySize%8 != 0 {
		return h, nil, fmt.Errorf("entry array of %d entries of %d bytes is not supported", h.numEntries, h.entrySize)
	}
	if h.firstUsable > h.lastUsable || h.lastUsable >= sectors {
		return h, nil, fmt.Errorf("usable sectors %d–%d do not fit a disk of %d sectors", h.firstUsable, h.lastUsable, sectors)
	}
	arrayBytes := uint64(h.numEntries) * uint64(h.entrySize)
	arraySects := (arrayBytes + SectorSize - 1) / SectorSize
	if h.entriesLBA < 2 || h.entriesLBA+arraySects > sectors {
		return h, nil, fmt.Errorf("entry array at sector %d does not fit the disk", h.entriesLBA)
	}
	entries := make([]byte, arrayBytes)
	if _, err := r.ReadAt(entries, int64(h.entriesLBA)*SectorSize); err != nil {
		return h, nil, fmt.Errorf("reading the entry array: %w", err)
	}
	if got, want := crc32.ChecksumIEEE(entries), binary.LittleEndian.Uint32(b[88:]); got != want {
		return h, nil, fmt.Errorf("entry array CRC32 is %08x, computed %08x", want, got)
	}
	return h, entries, nil
}
