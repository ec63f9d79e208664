package apt

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func repoItems(t *testing.T, r *testRepo, cache string) ([]Item, *Index) {
	t.Helper()
	ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for _, p := range ix.Packages {
		it, err := ItemFor(p)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	return items, ix
}

func TestFetch(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	items, _ := repoItems(t, r, cache)
	var events []Progress
	var mu sync.Mutex
	f := &Fetcher{CacheDir: cache, Progress: func(p Progress) { mu.Lock(); events = append(events, p); mu.Unlock() }}
	paths, err := f.Fetch(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := r.debs[strings.TrimPrefix(items[i].URL, r.srv.URL+"/")]
		if string(got) != string(want) || filepath.Base(p) != items[i].SHA256 {
			t.Fatalf("%s: cached file differs from the pool file", items[i].Name)
		}
	}
	last := events[len(events)-1]
	if last.Files != 3 || last.TotalFiles != 3 || last.Done != last.Total {
		t.Fatalf("last progress %+v", last)
	}
	// Warm: nothing is requested, even offline.
	before := r.hits.Load()
	f.Offline = true
	if _, err := f.Fetch(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if r.hits.Load() != before {
		t.Fatal("a warm fetch went to the network")
	}
}

func TestFetchBadInput(t *testing.T) {
	const beta = "/pool/main/b/beta/beta_1.1-1_amd64.deb"
	tests := []struct {
		name  string
		fault fault
		err   string
	}{
		{"hash differs", faultCorrupt, "SHA256 "},
		{"HTTP 404", fault404, "not found (HTTP 404)"},
		{"HTTP 500", fault500, "HTTP 500 Internal Server Error"},
		{"stall", faultStall, "stalled: no data for 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRepo(t)
			cache := t.TempDir()
			items, _ := repoItems(t, r, cache)
			r.faults.Store(beta, tt.fault)
			f := &Fetcher{CacheDir: cache, Backoff: time.Millisecond, Retries: 2, StallTimeout: time.Second}
			start := time.Now()
			_, err := f.Fetch(context.Background(), items)
			checkErr(t, err, tt.err, r.srv.URL+beta)
			if !strings.HasPrefix(err.Error(), "fetch beta 1.1-1 amd64: ") {
				t.Fatalf("error %q does not name the package first", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
			// The other two are cached; beta is not, in any form.
			ents, _ := os.ReadDir(filepath.Join(cache, "debs", "sha256"))
			if len(ents) != 2 {
				t.Fatalf("cache holds %d packages, want 2", len(ents))
			}
			if _, err := os.Stat(f.Path(items[1].SHA256)); err == nil {
				t.Fatal("the failed package is in the cache")
			}
		})
	}
}

func TestFetchRetryAndResume(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	items, _ := repoItems(t, r, cache)
	const gamma = "/pool/main/g/gamma/gamma_1.2-1_amd64.deb"
	r.faults.Store("/pool/main/a/alpha/alpha_1.0-1_amd64.deb", fault500Once)
	// A previous run left half of gamma behind: it is resumed with Range.
	half := r.debs[strings.TrimPrefix(gamma, "/")]
	half = half[:len(half)/2]
	os.MkdirAll(filepath.Join(cache, "debs", "partial"), 0o755)
	part := filepath.Join(cache, "debs", "partial", items[2].SHA256+".part")
	if err := os.WriteFile(part, half, 0o644); err != nil {
		t.Fatal(err)
	}
	var ranged []string
	r.srv.Config.Handler = logRanges(r.srv.Config.Handler, &ranged)
	f := &Fetcher{CacheDir: cache, Backoff: time.Millisecond}
	if _, err := f.Fetch(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if len(ranged) != 1 || !strings.HasPrefix(ranged[0], gamma+" bytes=") {
		t.Fatalf("ranged requests %v, want one for gamma", ranged)
	}
	if _, err := os.Stat(part); err == nil {
		t.Fatal("partial file left behind")
	}
}

func TestFetchOffline(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	items, _ := repoItems(t, r, cache)
	f := &Fetcher{CacheDir: cache, Offline: true}
	_, err := f.Fetch(context.Background(), items)
	checkErr(t, err, "offline, and 3 of 3 packages are not in the cache", "alpha 1.0-1 amd64, beta 1.1-1 amd64, gamma 1.2-1 amd64")
}

// TestFetchConcurrentRuns has two fetchers share one cache at once: each
// package is downloaded whole and verified, none is corrupted.
func TestFetchConcurrentRuns(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	items, _ := repoItems(t, r, cache)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &Fetcher{CacheDir: cache, Workers: 2}
			_, errs[i] = f.Fetch(context.Background(), append([]Item(nil), items...))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range items {
		data, err := os.ReadFile((&Fetcher{CacheDir: cache}).Path(it.SHA256))
		if err != nil || sha256Hex(data) != it.SHA256 {
			t.Fatalf("%s: %v", it.Name, err)
		}
	}
}

func TestFetchFileURL(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	items, _ := repoItems(t, r, cache)
	for i := range items {
		items[i].URL = "file://" + r.root + strings.TrimPrefix(items[i].URL, r.srv.URL)
	}
	before := r.hits.Load()
	if _, err := (&Fetcher{CacheDir: cache}).Fetch(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if r.hits.Load() != before {
		t.Fatal("file:// fetch used HTTP")
	}
	items[0].SHA256 = strings.Repeat("0", 64)
	_, err := (&Fetcher{CacheDir: cache, Backoff: time.Millisecond}).Fetch(context.Background(), items)
	checkErr(t, err, "SHA256 ", "file://"+r.root)
}

func TestItemForUnsafe(t *testing.T) {
	_, err := ItemFor(&Package{Name: "x", Version: "1", Architecture: "all", Origin: "http://m trixie/main", Filename: "pool/../../etc/passwd"})
	checkErr(t, err, `unsafe Filename "pool/../../etc/passwd"`, "package x 1 all")
}

// logRanges records "path range" for each request carrying a Range header.
func logRanges(h http.Handler, out *[]string) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rg := req.Header.Get("Range"); rg != "" {
			mu.Lock()
			*out = append(*out, req.URL.Path+" "+rg)
			mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
}

// TestSeveralSources loads two repositories at once (as trixie plus
// trixie-updates would be): packages keep their origin, and each is
// fetched from the mirror it came from.
func TestSeveralSources(t *testing.T) {
	r1, r2 := newTestRepo(t), newTestRepo(t)
	// The second repository names its packages differently; the pool files
	// are the same, so only the request counts show which mirror served what.
	r2.debs = map[string][]byte{}
	text := strings.ReplaceAll(string(r1.index["Packages"]), "Package: ", "Package: two-")
	r2.writeIndex(t, []byte(text))
	r2.sign(t, releaseOpts{})
	for fn, data := range r1.debs {
		r2.write(t, fn, data)
	}
	cache := t.TempDir()
	ix, err := LoadIndex(context.Background(), []Source{r1.source(), r2.source()}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 6 || len(ix.Sources) != 2 {
		t.Fatalf("%d packages from %d sources", len(ix.Packages), len(ix.Sources))
	}
	if p := ix.Packages[3]; p.Name != "two-alpha" || OriginURL(p.Origin) != r2.srv.URL {
		t.Fatalf("package 3: %s from %s", p.Name, p.Origin)
	}
	l := NewLock(ix, []*Package{ix.Packages[0], ix.Packages[4]}, "amd64")
	items, err := l.Items()
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := r1.hits.Load(), r2.hits.Load()
	if _, err := (&Fetcher{CacheDir: cache}).Fetch(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if r1.hits.Load()-h1 != 1 || r2.hits.Load()-h2 != 1 {
		t.Fatalf("requests: %d to the first mirror, %d to the second; want 1 each", r1.hits.Load()-h1, r2.hits.Load()-h2)
	}
}
