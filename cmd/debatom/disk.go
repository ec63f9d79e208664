package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/bootcconfig"
	"github.com/debatom/debatom/pkg/deploy"
	"github.com/debatom/debatom/pkg/deploy/shacrypt"
	"github.com/debatom/debatom/pkg/diskimage"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// diskFlags are the disk-image flags shared by build and disk.
type diskFlags struct {
	config, diskSize, espSize, hostname, remoteURL, osName string
	kargs                                                  multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (d *diskFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.config, "config", "", "bootc-image-builder config.toml `FILE` (users, kernel append, / minsize)")
	fs.Var(&d.kargs, "karg", "extra kernel `ARG` for the disk image (repeatable)")
	fs.StringVar(&d.diskSize, "disk-size", "", "disk image `SIZE` (e.g. 8G, 10GiB; default: content + 2 GiB)")
	fs.StringVar(&d.espSize, "esp-size", "512M", "EFI system partition `SIZE`")
	fs.StringVar(&d.hostname, "hostname", "", "host `NAME` written to the image's /etc/hostname")
	fs.StringVar(&d.remoteURL, "remote-url", "", "`URL` the image's ostree remote \"debatom\" pulls upgrades from")
	fs.StringVar(&d.osName, "osname", "debian", "ostree stateroot `NAME`")
}

// check validates the flags that need no repository, so a typo fails
// before a long build rather than after it.
func (d *diskFlags) check() error {
	if d.diskSize != "" {
		if _, err := parseSize(d.diskSize); err != nil {
			return fmt.Errorf("%w: --disk-size: %v", errUsage, err)
		}
	}
	if _, err := parseSize(d.espSize); err != nil {
		return fmt.Errorf("%w: --esp-size: %v", errUsage, err)
	}
	if d.config != "" {
		if _, err := bootcconfig.Load(d.config); err != nil {
			return err
		}
	}
	return nil
}

// options turns the flags into diskimage options for commit (whose
// checksum seeds the password salts, so a rebuild gives the same image).
func (d *diskFlags) options(ref, commit string) (diskimage.Options, error) {
	o := diskimage.Options{Ref: ref, RemoteURL: d.remoteURL, OSName: d.osName, KernelArgs: append([]string(nil), d.kargs...)}
	o.Customize.Hostname = d.hostname
	var err error
	if d.diskSize != "" {
		if o.Size, err = parseSize(d.diskSize); err != nil {
			return o, fmt.Errorf("%w: --disk-size: %v", errUsage, err)
		}
	}
	if o.ESPSize, err = parseSize(d.espSize); err != nil {
		return o, fmt.Errorf("%w: --esp-size: %v", errUsage, err)
	}
	if d.config == "" {
		return o, nil
	}
	c, err := bootcconfig.Load(d.config)
	if err != nil {
		return o, err
	}
	o.KernelArgs = append(c.KernelAppend, o.KernelArgs...)
	o.RootMinSize = c.RootMinSize
	for _, u := range c.Users {
		hash := u.Password
		if hash != "" && !shacrypt.IsHash(hash) {
			hash, err = shacrypt.Hash(u.Password, shacrypt.Salt([]byte("debatom/"+commit+"/"+u.Name)), 0)
			if err != nil {
				return o, fmt.Errorf("%s: user %s: %w", d.config, u.Name, err)
			}
		}
		du := deploy.User{Name: u.Name, PasswordHash: hash, Groups: u.Groups}
		if u.Key != "" {
			du.Keys = []string{u.Key}
		}
		o.Customize.Users = append(o.Customize.Users, du)
	}
	return o, nil
}

// parseSize reads "512M", "8G", "10GiB", "1073741824".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 512M, 8G)", s)
	}
	return n * mult, nil
}

// parseFormats splits --format, keeping the known names.
func parseFormats(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case "ostree", "raw", "qcow2", "oci", "oci-archive":
			out[f] = true
		case "":
		default:
			return nil, fmt.Errorf("%w: unknown format %q (ostree, raw, qcow2, oci, oci-archive)", errUsage, f)
		}
	}
	return out, nil
}

// writeDisks writes OUT/disk.raw and/or OUT/disk.qcow2 for commit.
func writeDisks(ctx context.Context, repo *ostreerepo.Repo, ref, commit, outDir string, formats map[string]bool, d *diskFlags, stdout io.Writer) error {
	if !formats["raw"] && !formats["qcow2"] {
		return nil
	}
	opts, err := d.options(ref, commit)
	if err != nil {
		return err
	}
	img, err := diskimage.New(ctx, repo, commit, opts)
	if err != nil {
		return err
	}
	if formats["raw"] {
		p := filepath.Join(outDir, "disk.raw")
		if err := img.WriteRaw(ctx, p); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disk      %s (%d MiB)\n", p, img.Size>>20)
	}
	if formats["qcow2"] {
		p := filepath.Join(outDir, "disk.qcow2")
		if err := img.WriteQcow2(ctx, p, false); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disk      %s (%d MiB virtual)\n", p, img.Size>>20)
	}
	return nil
}

func runDisk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("disk", stderr)
	var repoDir, ref, out, format string
	var d diskFlags
	d.register(fs)
	fs.StringVar(&repoDir, "repo", "", "OSTree repository `DIR`")
	fs.StringVar(&ref, "ref", "", "`REF` (or commit checksum) to deploy")
	fs.StringVar(&out, "o", "", "output `FILE`")
	fs.StringVar(&format, "format", "", "raw or qcow2 (default: from the output's extension)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if repoDir == "" || ref == "" || out == "" {
		return fmt.Errorf("%w: disk needs --repo, --ref and -o", errUsage)
	}
	if format == "" {
		format = strings.TrimPrefix(filepath.Ext(out), ".")
	}
	if format != "raw" && format != "qcow2" {
		return fmt.Errorf("%w: --format %q: raw or qcow2", errUsage, format)
	}
	if err := d.check(); err != nil {
		return err
	}
	repo, err := ostreerepo.Open(repoDir)
	if err != nil {
		return err
	}
	commit, err := repo.ResolveRef(ref)
	if err != nil {
		return err
	}
	if ostreerepo.ValidChecksum(ref) {
		// A checksum names no branch for upgrades to follow: take the
		// first ref (by name) that points at it.
		refs, err := repo.ListRefs()
		if err != nil {
			return err
		}
		best := ""
		for r, c := range refs {
			if c == commit && (best == "" || r < best) {
				best = r
			}
		}
		if best == "" {
			return fmt.Errorf("%w: no ref of %s points at commit %s; give --ref the branch upgrades should follow", errUsage, repoDir, commit)
		}
		ref = best
	}
	opts, err := d.options(ref, commit)
	if err != nil {
		return err
	}
	img, err := diskimage.New(ctx, repo, commit, opts)
	if err != nil {
		return err
	}
	if format == "raw" {
		err = img.WriteRaw(ctx, out)
	} else {
		err = img.WriteQcow2(ctx, out, false)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s (%d MiB), commit %s\n", format, out, img.Size>>20, commit)
	return nil
}
