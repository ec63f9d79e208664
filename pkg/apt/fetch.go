package apt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Item is one file to download into the content-addressed cache.
type Item struct {
	Name   string // for messages: the package ID
	URL    string
	Size   int64
	SHA256 string // lower-case hex; names the file in the cache
}

// ItemFor returns the Item that downloads p from the mirror it came from.
func ItemFor(p *Package) (Item, error) {
	if p.Origin == "" || p.Filename == "" {
		return Item{}, fmt.Errorf("package %s: no origin or Filename to download it from", p.ID())
	}
	if strings.HasPrefix(p.Filename, "/") || strings.Contains("/"+p.Filename+"/", "/../") {
		return Item{}, fmt.Errorf("package %s: unsafe Filename %q", p.ID(), p.Filename)
	}
	return Item{Name: p.ID(), URL: OriginURL(p.Origin) + "/" + p.Filename, Size: p.Size, SHA256: p.SHA256}, nil
}

// Fetcher downloads packages into CacheDir/debs/sha256/<hex>. A file enters
// the cache only after its size and SHA256 matched, under a temporary name
// that is then renamed, so a cached file is always whole and verified.
// Several processes may share one cache: a download in progress is held by
// an advisory lock on its partial file.
type Fetcher struct {
	CacheDir     string
	HTTPClient   *http.Client
	Workers      int           // parallel downloads; default 4
	Retries      int           // further attempts after a failed one; 0: 3, negative: none
	Backoff      time.Duration // wait before the first retry, doubled each time; default 1s
	StallTimeout time.Duration // default DefaultStallTimeout
	// Offline uses the cache only and names what is missing.
	Offline  bool
	Progress func(Progress)
}

// Path is where the cache keeps the file with this SHA256.
func (f *Fetcher) Path(sha string) string {
	return filepath.Join(f.CacheDir, "debs", "sha256", sha)
}

// Fetch makes sure every item is in the cache and returns their paths, in
// the order of items.
func (f *Fetcher) Fetch(ctx context.Context, items []Item) ([]string, error) {
	if f.CacheDir == "" {
		return nil, errors.New("fetch: no cache directory")
	}
	paths := make([]string, len(items))
	var missing []Item
	var total int64
	for i, it := range items {
		if !isHex(it.SHA256, 64) || it.Size < 0 {
			return nil, fmt.Errorf("fetch %s: bad SHA256 %q or size %d", it.Name, it.SHA256, it.Size)
		}
		it.SHA256 = strings.ToLower(it.SHA256)
		paths[i] = f.Path(it.SHA256)
		if st, err := os.Stat(paths[i]); err == nil && st.Size() == it.Size {
			continue
		}
		missing = append(missing, it)
		total += it.Size
	}
	if len(missing) == 0 {
		return paths, nil
	}
	if f.Offline {
		names := make([]string, 0, len(missing))
		for _, it := range missing {
			names = append(names, it.Name)
		}
		return nil, fmt.Errorf("offline, and %d of %d packages are not in the cache %s: %s",
			len(missing), len(items), f.CacheDir, strings.Join(names, ", "))
	}
	for _, d := range []string{"sha256", "partial"} {
		if err := os.MkdirAll(filepath.Join(f.CacheDir, "debs", d), 0o755); err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
	}
	c := newClient(f.HTTPClient, f.StallTimeout)
	pr := &progress{f: f, total: total, files: len(missing), start: time.Now()}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(f.Workers, 1))
	if f.Workers == 0 {
		g.SetLimit(4)
	}
	var mu sync.Mutex
	var errs []error
	for _, it := range missing {
		g.Go(func() error {
			err := f.fetchOne(gctx, c, it, pr)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			pr.fileDone(it.Name)
			return nil // let the other downloads finish; report all at the end
		})
	}
	g.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("fetch: %w", ctx.Err())
	case len(errs) == 1:
		return nil, errs[0]
	case len(errs) > 1:
		return nil, fmt.Errorf("%d of %d downloads failed; the first: %w", len(errs), len(missing), errs[0])
	}
	return paths, nil
}

// fetchOne downloads one item, retrying transient failures.
func (f *Fetcher) fetchOne(ctx context.Context, c *client, it Item, pr *progress) error {
	final := f.Path(it.SHA256)
	part := filepath.Join(f.CacheDir, "debs", "partial", it.SHA256+".part")
	pf, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", it.Name, err)
	}
	defer pf.Close() // also drops the lock
	if err := lockFile(ctx, pf); err != nil {
		return fmt.Errorf("fetch %s: %w", it.Name, err)
	}
	if st, err := os.Stat(final); err == nil && st.Size() == it.Size {
		return nil // another process finished it while we waited
	}
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	retries := f.Retries
	switch {
	case retries == 0:
		retries = 3
	case retries < 0:
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		err = f.attempt(ctx, c, it, pf, pr)
		if err == nil {
			break
		}
		if attempt >= retries || !retryable(err) || ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", it.Name, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("fetch %s: %w", it.Name, ctx.Err())
		}
		backoff *= 2
	}
	if err := pf.Sync(); err != nil {
		return fmt.Errorf("fetch %s: %w", it.Name, err)
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("fetch %s: %w", it.Name, err)
	}
	return nil
}

// errHashMismatch marks a download whose bytes were wrong; the partial file
// has been discarded.
var errHashMismatch = errors.New("hash mismatch")

// attempt continues the partial file pf (resuming with Range where the
// server allows it) and checks the result. On success pf holds exactly the
// verified bytes.
func (f *Fetcher) attempt(ctx context.Context, c *client, it Item, pf *os.File, pr *progress) error {
	st, err := pf.Stat()
	if err != nil {
		return err
	}
	offset := st.Size()
	if offset > it.Size {
		offset = 0
	}
	h := sha256.New()
	if offset > 0 {
		if _, err := io.Copy(h, io.NewSectionReader(pf, 0, offset)); err != nil {
			return err
		}
	}
	if offset < it.Size || it.Size == 0 {
		body, resumed, err := c.open(ctx, it.URL, offset)
		if err != nil {
			return err
		}
		if !resumed && offset > 0 {
			offset = 0
			h.Reset()
		}
		if err := pf.Truncate(offset); err != nil {
			body.Close()
			return err
		}
		w := &countingWriter{w: io.NewOffsetWriter(pf, offset), pr: pr, name: it.Name}
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(body, it.Size-offset+1))
		body.Close()
		if err != nil {
			return err
		}
		offset += n
	}
	if offset != it.Size {
		pf.Truncate(0)
		return fmt.Errorf("%s: got %d bytes, index says %d: %w", it.URL, offset, it.Size, errHashMismatch)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != it.SHA256 {
		pf.Truncate(0)
		return fmt.Errorf("%s: SHA256 %s, index says %s: %w", it.URL, got, it.SHA256, errHashMismatch)
	}
	return nil
}

// retryable reports whether another attempt might succeed.
func retryable(err error) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
	}
	return true
}

// lockFile takes an exclusive advisory lock on f, polling so that ctx can
// interrupt the wait.
func lockFile(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// progress aggregates the workers' byte counts for Fetcher.Progress.
type progress struct {
	f     *Fetcher
	mu    sync.Mutex
	total int64
	done  int64
	files int
	fdone int
	start time.Time
	last  time.Time
}

func (p *progress) add(n int64, name string) {
	if p.f.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.report(name)
	}
}

func (p *progress) fileDone(name string) {
	if p.f.Progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fdone++
	p.report(name)
}

func (p *progress) report(name string) {
	ev := Progress{Stage: "download", Name: name, Done: p.done, Total: p.total, Files: p.fdone, TotalFiles: p.files}
	if el := time.Since(p.start).Seconds(); el > 0 {
		ev.Rate = float64(p.done) / el
		if ev.Rate > 0 && p.total > p.done {
			ev.ETA = time.Duration(float64(p.total-p.done) / ev.Rate * float64(time.Second))
		}
	}
	p.f.Progress(ev)
}

type countingWriter struct {
	w    io.Writer
	pr   *progress
	name string
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.pr.add(int64(n), c.name)
	return n, err
}
