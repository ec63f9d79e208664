// Package ext4 writes ext4 filesystem images from a tree described in
// memory, like mkfs.ext4 -d, without root, loop devices or external
// programs; and reads them back far enough to check them.
//
// A Builder collects directories, regular files (whose contents come from
// callbacks, streamed, never held whole), symlinks and hard links, then
// Write lays the filesystem out and writes it to an io.WriterAt, touching
// only blocks that hold something, so a sparse file or a qcow2 writer
// stores only what is used. WriteFile writes through a temporary file and
// renames it into place, so a failed build leaves nothing behind. The same
// tree and Options always give the same bytes: UUID, hash seed and times
// come from Options, never from the clock or a random source.
//
// The image has the features mkfs.ext4 in Debian sets by default, except
// resize_inode and orphan_file: has_journal, ext_attr, dir_index,
// filetype, extent, 64bit, flex_bg, sparse_super, large_file, huge_file,
// dir_nlink, extra_isize and metadata_csum (crc32c over the superblock,
// group descriptors, bitmaps, inodes, extent blocks, directory blocks,
// htree nodes, attribute blocks and the journal superblock). Blocks are
// 4 KiB and inodes 256 bytes with 32 extra bytes, as mkfs makes them, and
// the superblock matches mkfs.ext4's for the same size except that the
// journal is created with journal_checksum_v3 (mkfs leaves that to the
// kernel). With no resize_inode there are no reserved descriptor blocks:
// resize2fs grows an image offline by moving blocks, and the kernel grows
// one online by switching to meta_bg.
//
// Layout: every group's bitmaps and inode table sit together at the start
// of the image (flex_bg allows that), followed by the journal (an empty,
// clean jbd2 v2 journal, sized as mkfs would), then each inode's blocks in
// inode order, contiguous except where a backup superblock is in the way.
// Inodes are numbered depth-first in name order. Directories whose entries
// fit one block are linear; larger ones are hashed (half-MD4 htree, one or
// two index levels). Files of more than four extents get a one-level
// extent tree. Extended attributes go into the inode when they fit and
// otherwise into an attribute block shared by every inode with the same
// set. POSIX ACLs (system.posix_acl_access and _default) are given in the
// xattr form and stored in ext4's compact form, as the kernel does. Block contents of regular files are allocated even where they are
// zero (files are not made sparse inside the filesystem), but zero blocks
// are not written.
//
// Not supported: block sizes other than 4096, attribute values larger than
// a block (ea_inode), device nodes and FIFOs (OSTree cannot hold them),
// inline data, files needing more than 1360 extents (about 170 GiB), and
// directories beyond a two-level htree (258,570 leaf blocks).
package ext4
