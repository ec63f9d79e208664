package ostreerepo

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/debatom/debatom/internal/atomicfile"
)

// Mode is a repository's storage mode.
type Mode int

const (
	// ModeArchive stores content zlib-compressed with its metadata in a
	// header (config: mode=archive-z2); for serving over HTTP.
	ModeArchive Mode = iota + 1
	// ModeBareUser stores plain files owned by the caller, with the real
	// metadata in the user.ostreemeta xattr; needs no privileges.
	ModeBareUser
	// ModeBare stores files exactly as they are checked out: real owner,
	// mode, xattrs and symlinks; needs root.
	ModeBare
)

// String is the mode's name in the repository config.
func (m Mode) String() string {
	switch m {
	case ModeArchive:
		return "archive-z2"
	case ModeBareUser:
		return "bare-user"
	case ModeBare:
		return "bare"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode accepts the config names and the command-line names
// ("archive", "bare-user", "bare").
func ParseMode(s string) (Mode, error) {
	switch s {
	case "archive", "archive-z2":
		return ModeArchive, nil
	case "bare-user":
		return ModeBareUser, nil
	case "bare":
		return ModeBare, nil
	}
	return 0, fmt.Errorf("unknown repository mode %q (want archive, bare-user or bare)", s)
}

// Repo is an open repository. Its methods are safe for concurrent use.
type Repo struct {
	dir  string
	mode Mode

	// objdirs records which objects/xx directories are known to exist,
	// so writers do not mkdir for every object. Create makes all 256 up
	// front and sets allDirs.
	objdirs [256]sync.Once
	objerrs [256]error
	allDirs bool

	// tmpfileOnce probes whether objects can be written as O_TMPFILE
	// inodes; noTmpfile is set when they cannot (or an open says so).
	tmpfileOnce sync.Once
	noTmpfile   atomic.Bool

	// flaters, scratches, inflaters and readers recycle deflate and
	// inflate state and buffers across calls; all are costly to allocate
	// per file.
	flaters   sync.Pool // *flate.Writer at level
	scratches sync.Pool // *scratch
	inflaters sync.Pool // flate decompressor (io.ReadCloser + flate.Resetter)
	readers   sync.Pool // *bufio.Reader
	level     int       // deflate level of archive objects
}

// Dir is the repository's directory.
func (r *Repo) Dir() string { return r.dir }

// Mode is the repository's storage mode.
func (r *Repo) Mode() Mode { return r.mode }

// Create opens the repository at dir, creating it with mode if it does
// not exist. An existing repository keeps its own mode; asking for a
// different one is an error rather than a surprise later.
func Create(dir string, mode Mode) (*Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		r, err := Open(dir)
		if err != nil {
			return nil, err
		}
		if r.mode != mode {
			return nil, fmt.Errorf("ostree repo %s: exists in mode %s, not %s", dir, r.mode, mode)
		}
		// Create opens for writing: the object directories are made now.
		if err := r.makeObjDirs(); err != nil {
			return nil, err
		}
		return r, nil
	}
	switch mode {
	case ModeArchive, ModeBareUser, ModeBare:
	default:
		return nil, fmt.Errorf("create ostree repo %s: invalid mode %d", dir, int(mode))
	}
	for _, d := range []string{"", "objects", "refs/heads", "refs/remotes", "refs/mirrors", "tmp/cache", "state", "extensions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create ostree repo: %w", err)
		}
	}
	config := fmt.Sprintf("[core]\nrepo_version=1\nmode=%s\n", mode)
	if err := atomicfile.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		return nil, fmt.Errorf("create ostree repo: %w", err)
	}
	r := &Repo{dir: dir, mode: mode, level: DefaultCompressionLevel}
	if err := r.makeObjDirs(); err != nil {
		return nil, err
	}
	return r, nil
}

// makeObjDirs creates all 256 objects/xx directories, as libostree does
// when it creates a repository (and tolerates finding them), so that
// writers need not check for them per object.
func (r *Repo) makeObjDirs() error {
	const hexDigits = "0123456789abcdef"
	for i := range 256 {
		d := filepath.Join(r.dir, "objects", string([]byte{hexDigits[i>>4], hexDigits[i&15]}))
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create ostree repo %s: %w", r.dir, err)
		}
	}
	r.allDirs = true
	return nil
}

// Open opens an existing repository of any mode, reading its config.
func Open(dir string) (*Repo, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil, fmt.Errorf("open ostree repo: %w", err)
	}
	core := parseConfigCore(data)
	if v := core["repo_version"]; v != "1" {
		return nil, fmt.Errorf("ostree repo %s: unsupported repo_version %q", dir, v)
	}
	var mode Mode
	switch m := core["mode"]; m {
	case "archive-z2", "archive":
		mode = ModeArchive
	case "bare-user":
		mode = ModeBareUser
	case "bare", "":
		mode = ModeBare
	default:
		return nil, fmt.Errorf("ostree repo %s: unsupported mode %q", dir, m)
	}
	// Nothing is created here, so read-only repositories open fine.
	return &Repo{dir: dir, mode: mode, level: DefaultCompressionLevel}, nil
}

// parseConfigCore returns the keys of the [core] group of a GKeyFile.
func parseConfigCore(data []byte) map[string]string {
	out := map[string]string{}
	group := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			group = line[1 : len(line)-1]
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && group == "core" {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// objectPath is where an object lives: objects/xx/<62 hex>.<ext>.
func (r *Repo) objectPath(csum string, t ObjectType) string {
	ext := t.String()
	if t == ObjFile && r.mode == ModeArchive {
		ext = "filez"
	}
	return filepath.Join(r.dir, "objects", csum[:2], csum[2:]+"."+ext)
}

// HasObject reports whether the object is stored.
func (r *Repo) HasObject(csum string, t ObjectType) bool {
	if !ValidChecksum(csum) {
		return false
	}
	_, err := os.Lstat(r.objectPath(csum, t))
	return err == nil
}

// ensureObjDir makes objects/xx for csum (or its two-digit prefix), once
// per repo and prefix.
func (r *Repo) ensureObjDir(csum string) error {
	if r.allDirs {
		return nil
	}
	b, err := hex.DecodeString(csum[:2])
	if err != nil {
		return fmt.Errorf("checksum %q: %w", csum, err)
	}
	i := b[0]
	r.objdirs[i].Do(func() {
		err := os.Mkdir(filepath.Join(r.dir, "objects", csum[:2]), 0o755)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			r.objerrs[i] = err
		}
	})
	return r.objerrs[i]
}
