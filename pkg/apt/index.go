package apt

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/pkg/deb/xz"
	"github.com/debatom/debatom/pkg/deb822"
)

// Options controls LoadIndex and the Fetcher.
type Options struct {
	// CacheDir holds parsed indexes (CacheDir/indexes) and packages
	// (CacheDir/debs/sha256). Empty: nothing is cached.
	CacheDir string
	// Arch is the build architecture; default "amd64".
	Arch string
	// HTTPClient is used for http and https mirrors; nil: a keep-alive client.
	HTTPClient *http.Client
	// Now is the clock for signature and Valid-Until checks; nil: time.Now.
	Now func() time.Time
	// AllowExpired turns off the Release's time checks: a Valid-Until in
	// the past (apt's Check-Valid-Until=false, for old snapshots) and a
	// Date in the future (apt's Check-Date=false, for a wrong clock).
	AllowExpired bool
	// StallTimeout abandons a transfer that gets no byte for this long;
	// zero: DefaultStallTimeout.
	StallTimeout time.Duration
	// Progress, when set, is told what is happening. Sources load in
	// parallel, so it may be called from several goroutines at once.
	Progress func(Progress)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) arch() string {
	if o.Arch == "" {
		return "amd64"
	}
	return o.Arch
}

func (o *Options) report(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}

// Progress describes one step of loading or fetching, for a display.
type Progress struct {
	Stage       string // "index", "cached-index", "download"
	Name        string // URL or package
	Done, Total int64  // bytes
	Files       int    // files finished
	TotalFiles  int
	Rate        float64 // bytes per second
	ETA         time.Duration
}

// Index is the package universe of a set of sources: every stanza of their
// Packages files, each with Origin set, plus what was verified on the way.
type Index struct {
	Packages []*Package
	Sources  []*SourceIndex
}

// SourceIndex is what one source contributed.
type SourceIndex struct {
	Source    Source
	Release   *Release
	InRelease []byte   // the verified InRelease file, byte for byte
	Signers   []string // fingerprints of the keys whose signatures verified
	Files     []IndexFile
}

// IndexFile is one Packages file that was read.
type IndexFile struct {
	Component, Arch string
	Path            string // relative to dists/<suite>/, e.g. main/binary-amd64/Packages.xz
	SHA256          string
	Size            int64
	Packages        int
}

// LoadIndex fetches, verifies and parses the indexes of sources. Every
// InRelease must carry a good signature from the source's keyring; every
// index must match the SHA256 the signed Release gives for it before it is
// decompressed. Parsed indexes are cached under opts.CacheDir keyed by that
// SHA256, so a warm run neither decompresses nor parses.
func LoadIndex(ctx context.Context, sources []Source, opts Options) (*Index, error) {
	if len(sources) == 0 {
		return nil, errors.New("no sources given")
	}
	c := newClient(opts.HTTPClient, opts.StallTimeout)
	// Sources load in parallel (a main suite and its small updates and
	// security suites overlap their downloads); results keep source order.
	sis := make([]*SourceIndex, len(sources))
	pkgs := make([][]*Package, len(sources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, src := range sources {
		g.Go(func() error {
			var err error
			sis[i], pkgs[i], err = loadSource(gctx, c, src, &opts)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ix := &Index{Sources: sis}
	for _, p := range pkgs {
		ix.Packages = append(ix.Packages, p...)
	}
	return ix, nil
}

// SourceKeyring loads the keys a source trusts.
func SourceKeyring(src Source) (*Keyring, error) {
	var kr *Keyring
	if src.Keyring != "" {
		k, err := LoadKeyring(src.Keyring)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src, err)
		}
		kr = k
	}
	if src.SignedBy != "" {
		k, err := ParseKeyring([]byte(src.SignedBy), "inline Signed-By")
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", src, err)
		}
		if kr == nil {
			kr = k
		} else {
			kr = kr.Merge(k)
		}
	}
	if kr == nil {
		return nil, fmt.Errorf("source %s has no keyring: give one (--keyring FILE)", src)
	}
	return kr, nil
}

// ExpiredError reports a Release past its Valid-Until (and
// Options.AllowExpired not set). Its message says what to do without
// naming a flag, which is the caller's to name: a command line finds it
// with errors.As and puts Problem and its own advice in its place.
type ExpiredError struct {
	URL        string // the InRelease
	ValidUntil time.Time
}

// expiredAdvice ends an ExpiredError's message, after Problem.
const expiredAdvice = "; allow expired releases to use it anyway"

// Problem is the message without its advice: "URL expired at TIME (Valid-Until)".
func (e *ExpiredError) Problem() string {
	return fmt.Sprintf("%s expired at %s (Valid-Until)", e.URL, e.ValidUntil.Format(time.RFC3339))
}

func (e *ExpiredError) Error() string { return e.Problem() + expiredAdvice }

// maxClockSkew is how far a Release's Date may be ahead of our clock.
const maxClockSkew = 10 * time.Minute

// maxInRelease bounds what is read before the signature is checked.
const maxInRelease = 64 << 20

// fetchRelease downloads, verifies and parses a source's InRelease.
func fetchRelease(ctx context.Context, c *client, src Source, opts *Options) (*SourceIndex, error) {
	kr, err := SourceKeyring(src)
	if err != nil {
		return nil, err
	}
	u := src.URL + "/dists/" + src.Suite + "/InRelease"
	data, err := c.fetchBytes(ctx, u, maxInRelease)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s is missing: is %q a suite of %s? (%w)", u, src.Suite, src.URL, err)
	}
	if err != nil {
		return nil, err
	}
	now := opts.now()
	plain, signers, err := VerifyInRelease(data, u, kr, now)
	if err != nil {
		return nil, err
	}
	rel, err := ParseRelease(plain, u)
	if err != nil {
		return nil, err
	}
	if src.Suite != rel.Suite && src.Suite != rel.Codename {
		// A validly signed Release of another suite (an older one, say)
		// must not be accepted in its place.
		return nil, fmt.Errorf("%s is signed for suite %q (codename %q), not %q", u, rel.Suite, rel.Codename, src.Suite)
	}
	if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) && !opts.AllowExpired {
		return nil, &ExpiredError{URL: u, ValidUntil: rel.ValidUntil}
	}
	if !rel.Date.IsZero() && rel.Date.Sub(now) > maxClockSkew && !opts.AllowExpired {
		// As apt does: a Release from the future means a wrong clock or a
		// replayed file, and the time checks above would mean nothing.
		return nil, fmt.Errorf("%s is not valid yet: dated %s, %v ahead of this machine's clock", u,
			rel.Date.Format(time.RFC3339), rel.Date.Sub(now).Round(time.Second))
	}
	return &SourceIndex{Source: src, Release: rel, InRelease: data, Signers: signers}, nil
}

func loadSource(ctx context.Context, c *client, src Source, opts *Options) (*SourceIndex, []*Package, error) {
	si, err := fetchRelease(ctx, c, src, opts)
	if err != nil {
		return nil, nil, err
	}
	rel := si.Release
	if len(src.Components) == 0 {
		return nil, nil, fmt.Errorf("source %s names no components", src)
	}
	archs := src.Architectures
	if len(archs) == 0 {
		archs = []string{opts.arch()}
	}
	if !rel.NoArchAllPackages && !contains(archs, "all") {
		archs = append(archs[:len(archs):len(archs)], "all")
	}
	var out []*Package
	for _, comp := range src.Components {
		if len(rel.Components) > 0 && !contains(rel.Components, comp) {
			return nil, nil, fmt.Errorf("source %s has no component %q (it has %s)", src, comp, strings.Join(rel.Components, ", "))
		}
		for _, arch := range archs {
			f, pkgs, err := loadPackages(ctx, c, src, rel, comp, arch, opts)
			if err != nil {
				return nil, nil, err
			}
			if f == nil {
				continue // binary-all is optional
			}
			si.Files = append(si.Files, *f)
			out = append(out, pkgs...)
		}
	}
	return si, out, nil
}

// compressions in order of preference: cheapest to decode first among the
// compressed ones, the plain file last (largest to transfer).
var compressions = []string{".zst", ".xz", ".gz", ""}

func loadPackages(ctx context.Context, c *client, src Source, rel *Release, comp, arch string, opts *Options) (*IndexFile, []*Package, error) {
	base, cands := packagesCandidates(rel, comp, arch)
	if len(cands) == 0 {
		if arch == "all" {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("source %s: Release lists no %s", src, base)
	}
	// The uncompressed file's hash names the content whatever the
	// compression; it is listed even when the file itself is not served.
	key := cands[0].SHA256
	plain, hasPlain := rel.Files[base]
	if hasPlain {
		key = plain.SHA256
	}
	origin := src.origin(comp)
	if pkgs, err := readIndexCache(opts.CacheDir, key); err == nil {
		for _, p := range pkgs {
			p.Origin = origin
		}
		opts.report(Progress{Stage: "cached-index", Name: src.URL + "/dists/" + src.Suite + "/" + base})
		return &IndexFile{Component: comp, Arch: arch, Path: base, SHA256: key, Size: plain.Size, Packages: len(pkgs)}, pkgs, nil
	}
	fh, data, u, err := fetchPackagesFile(ctx, c, src, rel, cands)
	if err != nil {
		return nil, nil, err
	}
	opts.report(Progress{Stage: "index", Name: u, Done: fh.Size, Total: fh.Size})
	var want *FileHash
	if hasPlain && fh.Path != base {
		want = &plain
	}
	text, err := decompress(data, fh.Path, want, u)
	if err != nil {
		return nil, nil, err
	}
	pkgs, err := parsePackages(text, u, origin)
	if err != nil {
		return nil, nil, err
	}
	if opts.CacheDir != "" {
		if err := writeIndexCache(opts.CacheDir, key, pkgs); err != nil {
			return nil, nil, err
		}
	}
	return &IndexFile{Component: comp, Arch: arch, Path: fh.Path, SHA256: fh.SHA256, Size: fh.Size, Packages: len(pkgs)}, pkgs, nil
}

// packagesCandidates lists the Release entries for comp/binary-arch/Packages
// in order of preference.
func packagesCandidates(rel *Release, comp, arch string) (base string, cands []FileHash) {
	base = comp + "/binary-" + arch + "/Packages"
	for _, ext := range compressions {
		if fh, ok := rel.Files[base+ext]; ok {
			cands = append(cands, fh)
		}
	}
	return base, cands
}

// fetchPackagesFile downloads the first of cands the mirror has, verified.
func fetchPackagesFile(ctx context.Context, c *client, src Source, rel *Release, cands []FileHash) (FileHash, []byte, string, error) {
	var tried []string
	for _, fh := range cands {
		data, u, err := fetchIndexFile(ctx, c, src, rel, fh)
		if errors.Is(err, ErrNotFound) {
			tried = append(tried, u)
			continue // listed but absent, as apt treats it
		}
		return fh, data, u, err
	}
	return FileHash{}, nil, "", fmt.Errorf("source %s: no %s on the mirror (tried %s)", src, strings.TrimSuffix(cands[0].Path, path.Ext(cands[0].Path)), strings.Join(tried, ", "))
}

// fetchIndexFile downloads one index file, by hash first when the Release
// offers that (it cannot change under a reader mid-update), and checks its
// size and SHA256 against the Release before returning it.
func fetchIndexFile(ctx context.Context, c *client, src Source, rel *Release, fh FileHash) ([]byte, string, error) {
	dir := src.URL + "/dists/" + src.Suite + "/"
	plainURL := dir + fh.Path
	var urls []string
	if rel.AcquireByHash {
		urls = append(urls, dir+path.Dir(fh.Path)+"/by-hash/SHA256/"+fh.SHA256)
	}
	urls = append(urls, plainURL)
	for _, u := range urls {
		data, err := c.fetchBytes(ctx, u, fh.Size)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, u, err
		}
		if int64(len(data)) != fh.Size {
			return nil, u, fmt.Errorf("%s: %d bytes, signed Release says %d (truncated or changed)", u, len(data), fh.Size)
		}
		if got := sha256Hex(data); got != fh.SHA256 {
			return nil, u, fmt.Errorf("%s: SHA256 %s, signed Release says %s", u, got, fh.SHA256)
		}
		return data, u, nil
	}
	return nil, plainURL, fmt.Errorf("%s: %w", plainURL, ErrNotFound)
}

// decompress returns the text of an index file. When want is set (the
// Release's entry for the uncompressed file) the result must match it too,
// which also bounds what a decompression bomb could make us hold.
func decompress(data []byte, path string, want *FileHash, name string) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasSuffix(path, ".xz"):
		if want != nil {
			text, err := xzDecodeBlocks(data, want.Size, name)
			switch {
			case err == nil:
				return checkText(text, want, name)
			case !errors.Is(err, errNotBlocked):
				return nil, err
			}
		}
		// pkg/deb/xz decodes the trixie index several times faster than
		// ulikunitz/xz, without its 1.8 million allocations
		// (bench/apt/RESULTS.md). Archives use at most xz -9's 64 MiB
		// dictionary.
		xr, err := xz.NewReader(bytes.NewReader(data), 64<<20)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r = xr
	case strings.HasSuffix(path, ".gz"):
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r = gr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		r = zr
	default:
		return data, nil
	}
	limit := int64(maxIndexText)
	var buf bytes.Buffer
	if want != nil {
		limit = want.Size
		buf.Grow(int(want.Size))
	}
	if _, err := io.Copy(&buf, io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: decompress: %w", name, err)
	}
	if want != nil {
		return checkText(buf.Bytes(), want, name)
	}
	return buf.Bytes(), nil
}

// checkText checks decompressed text against the signed Release's entry.
func checkText(text []byte, want *FileHash, name string) ([]byte, error) {
	n := int64(len(text))
	if n > want.Size {
		return nil, fmt.Errorf("%s: decompresses to more than the %d bytes the signed Release says", name, want.Size)
	}
	if n < want.Size {
		return nil, fmt.Errorf("%s: decompresses to %d bytes, signed Release says %d", name, n, want.Size)
	}
	if got := sha256Hex(text); got != want.SHA256 {
		return nil, fmt.Errorf("%s: decompressed SHA256 %s, signed Release says %s", name, got, want.SHA256)
	}
	return text, nil
}

// parsePackages turns the text of a Packages file into packages.
func parsePackages(text []byte, name, origin string) ([]*Package, error) {
	paras, err := deb822.Parse(text, name)
	if err != nil {
		return nil, err
	}
	slab := make([]Package, len(paras))
	out := make([]*Package, len(paras))
	names := map[string]int{}
	for i, para := range paras {
		p := &slab[i]
		p.Paragraph, p.Origin = para, origin
		if err := p.fill(para, names); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[i] = p
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
