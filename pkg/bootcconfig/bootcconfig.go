// Package bootcconfig reads the build configuration of bootc-image-builder
// (config.toml), so a file written for that tool customizes debatom's disk
// images as it is: users with passwords, SSH keys and groups, extra kernel
// arguments and the root file system's minimum size.
//
//	[[customizations.user]]
//	name = "alice"
//	password = "secret"          # plain text, or a crypt(3) hash
//	key = "ssh-ed25519 AAAA..."
//	groups = ["sudo"]
//
//	[customizations.kernel]
//	append = "quiet"
//
//	[[customizations.filesystem]]
//	mountpoint = "/"
//	minsize = "10 GiB"           # or a number of bytes
//
// Keys this package does not act on are reported in Config.Ignored rather
// than rejected, because such files are shared with other tools.
package bootcconfig

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the part of config.toml debatom uses.
type Config struct {
	Users []User
	// KernelAppend is customizations.kernel.append, split on blanks.
	KernelAppend []string
	// RootMinSize is the "/" file system's minsize in bytes (0: unset).
	RootMinSize int64
	// Ignored lists keys present in the file but not used.
	Ignored []string
}

// User is one [[customizations.user]].
type User struct {
	Name     string
	Password string // plain text or a crypt(3) hash; "" for none
	Key      string
	Groups   []string
}

type fileFormat struct {
	Customizations struct {
		User []struct {
			Name     string   `toml:"name"`
			Password *string  `toml:"password"`
			Key      *string  `toml:"key"`
			Groups   []string `toml:"groups"`
		} `toml:"user"`
		Kernel *struct {
			Append string `toml:"append"`
		} `toml:"kernel"`
		Filesystem []struct {
			Mountpoint string `toml:"mountpoint"`
			Minsize    any    `toml:"minsize"`
		} `toml:"filesystem"`
	} `toml:"customizations"`
}

// maxInput bounds what is read: a configuration is a few kilobytes.
const maxInput = 1 << 20

// Load reads config.toml at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bootc config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a config.toml.
func Parse(r io.Reader) (*Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("configuration larger than %d bytes", maxInput)
	}
	var ff fileFormat
	md, err := toml.Decode(string(b), &ff)
	if err != nil {
		return nil, fmt.Errorf("not valid TOML: %s", oneLine(err.Error()))
	}
	c := &Config{}
	for _, k := range md.Undecoded() {
		c.Ignored = append(c.Ignored, k.String())
	}
	for i, u := range ff.Customizations.User {
		if u.Name == "" {
			return nil, fmt.Errorf("customizations.user[%d] has no name", i)
		}
		cu := User{Name: u.Name, Groups: u.Groups}
		if u.Password != nil {
			cu.Password = *u.Password
		}
		if u.Key != nil {
			cu.Key = strings.TrimSpace(*u.Key)
		}
		if strings.ContainsAny(cu.Password, "\n:") {
			return nil, fmt.Errorf("customizations.user %q: password holds a newline or ':'", u.Name)
		}
		c.Users = append(c.Users, cu)
	}
	if k := ff.Customizations.Kernel; k != nil {
		c.KernelAppend = strings.Fields(k.Append)
	}
	for i, fs := range ff.Customizations.Filesystem {
		if fs.Mountpoint != "/" {
			c.Ignored = append(c.Ignored, fmt.Sprintf("customizations.filesystem[%d] (mountpoint %q: only / is supported)", i, fs.Mountpoint))
			continue
		}
		n, err := parseSize(fs.Minsize)
		if err != nil {
			return nil, fmt.Errorf("customizations.filesystem %q minsize: %w", fs.Mountpoint, err)
		}
		c.RootMinSize = n
	}
	return c, nil
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

var units = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseSize accepts what bootc-image-builder does: an integer number of
// bytes, or a string "N UNIT" with an SI or IEC unit.
func parseSize(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, fmt.Errorf("missing")
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("negative size %d", v)
		}
		return v, nil
	case string:
		s := strings.TrimSpace(v)
		mult := 1.0
		for _, u := range units {
			if strings.HasSuffix(s, u.suffix) {
				s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
				break
			}
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, fmt.Errorf("%q is not a size (e.g. \"10 GiB\")", v)
		}
		size := n * mult
		if size > 1<<60 {
			return 0, fmt.Errorf("%q is too large", v)
		}
		return int64(size), nil
	default:
		return 0, fmt.Errorf("%v is not a size", v)
	}
}
