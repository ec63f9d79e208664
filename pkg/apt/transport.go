package apt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotFound is wrapped by errors for files a mirror does not have (HTTP
// 404 or 410, or a missing file under file://).
var ErrNotFound = errors.New("not found")

// DefaultStallTimeout is how long a transfer may go without a byte before it
// is abandoned.
const DefaultStallTimeout = 30 * time.Second

// client opens mirror URLs over http, https and file.
type client struct {
	http  *http.Client
	stall time.Duration
}

func newClient(hc *http.Client, stall time.Duration) *client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 16, // keep-alive for parallel downloads from one mirror
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	return &client{http: hc, stall: stall}
}

// open returns the body of rawURL starting at offset. resumed reports
// whether the body really starts at offset (a server may ignore Range and
// send the whole file, and then resumed is false).
func (c *client) open(ctx context.Context, rawURL string, offset int64) (body io.ReadCloser, resumed bool, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false, fmt.Errorf("bad URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false, fmt.Errorf("%s: %w", rawURL, ErrNotFound)
			}
			return nil, false, fmt.Errorf("%s: %w", rawURL, err)
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, false, fmt.Errorf("%s: is a directory", rawURL)
		}
		if offset > 0 {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
				return nil, false, fmt.Errorf("%s: %w", rawURL, err)
			}
		}
		return f, true, nil
	case "http", "https":
		return c.openHTTP(ctx, rawURL, offset)
	}
	return nil, false, fmt.Errorf("%s: unsupported URL scheme %q (want http, https or file)", rawURL, u.Scheme)
}

func (c *client) openHTTP(ctx context.Context, rawURL string, offset int64) (io.ReadCloser, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	sr := &stallReader{url: rawURL, stall: c.stall, cancel: cancel}
	// The timer covers waiting for the response headers as well as the body.
	sr.timer = time.AfterFunc(c.stall, func() { sr.stalled.Store(true); cancel() })
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		sr.Close()
		return nil, false, fmt.Errorf("%s: %w", rawURL, err)
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		sr.Close()
		return nil, false, sr.wrap(err)
	}
	sr.body = resp.Body
	switch {
	case resp.StatusCode == http.StatusOK:
		return sr, offset == 0, nil
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		// Content-Range: bytes START-END/TOTAL must start where we asked.
		cr := strings.TrimPrefix(resp.Header.Get("Content-Range"), "bytes ")
		start, _, _ := strings.Cut(cr, "-")
		if n, err := strconv.ParseInt(start, 10, 64); err != nil || n != offset {
			sr.Close()
			return nil, false, fmt.Errorf("%s: server answered Range %d- with Content-Range %q", rawURL, offset, cr)
		}
		return sr, true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		sr.Close()
		return nil, false, fmt.Errorf("%s: %w (HTTP %d)", rawURL, ErrNotFound, resp.StatusCode)
	}
	sr.Close()
	return nil, false, &statusError{url: rawURL, code: resp.StatusCode}
}

// statusError is an HTTP answer other than success or not-found.
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.url, e.code, http.StatusText(e.code))
}

// stallReader cancels a transfer that receives no byte for stall.
type stallReader struct {
	url     string
	stall   time.Duration
	body    io.ReadCloser
	timer   *time.Timer
	cancel  context.CancelFunc
	stalled atomic.Bool
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if n > 0 {
		s.timer.Reset(s.stall)
	}
	if err != nil && err != io.EOF {
		err = s.wrap(err)
	}
	return n, err
}

func (s *stallReader) wrap(err error) error {
	if s.stalled.Load() {
		return fmt.Errorf("%s: stalled: no data for %v", s.url, s.stall)
	}
	return fmt.Errorf("%s: %w", s.url, err)
}

func (s *stallReader) Close() error {
	s.timer.Stop()
	s.cancel()
	if s.body != nil {
		return s.body.Close()
	}
	return nil
}

// fetchBytes reads a whole small file, refusing more than limit bytes.
func (c *client) fetchBytes(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	body, _, err := c.open(ctx, rawURL, 0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", rawURL, limit)
	}
	return data, nil
}
