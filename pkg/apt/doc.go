// Package apt reads signed Debian repositories and downloads from them,
// without apt: sources (the host's apt configuration or given), InRelease
// verification, Release and Packages parsing, a parsed-index cache, a
// verifying package fetcher with a content-addressed cache, lockfiles and
// offline mirror bundles.
//
// Trust flows from the keyring down, and nothing is parsed before it is
// checked: an InRelease counts when any signature on it by a trusted key
// verifies (unknown, expired and revoked keys and SHA-1 signatures are
// skipped, as apt does); only its verified text is parsed; every index must
// match the size and SHA256 that text gives before it is decompressed, and
// its decompressed text must match too; every package must match the size
// and SHA256 of its index stanza (or of a lockfile) before it enters the
// cache.
//
// The cache directory holds
//
//	indexes/<sha256>.idx   parsed Packages files, keyed by the SHA256 of their text
//	debs/sha256/<sha256>   verified packages
//	debs/partial/          downloads in progress, resumable, one lock each
//
// Files enter it under a temporary name and are renamed into place, so
// several processes can share it and none ever sees a partial file.
package apt
