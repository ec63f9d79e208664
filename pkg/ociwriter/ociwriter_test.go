package ociwriter

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// writeImage writes commit to a fresh layout and returns its directory and
// manifest.
func writeImage(t *testing.T, repo *ostreerepo.Repo, commit string, opts Options) (string, *Result, *manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	res, err := Write(context.Background(), repo, commit, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, dg, err := readLayoutManifest(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if dg != res.Manifest {
		t.Fatalf("index.json names %s, Write said %s", dg, res.Manifest)
	}
	return dir, res, m
}

// layerEntries lists a gzip layer's tar entries.
func layerEntries(t *testing.T, dir string, l descriptor) []*tar.Header {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(l.Digest, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

func TestReproducible(t *testing.T) {
	for _, comp := range []Compression{Gzip, Zstd} {
		repo := newRepo(t)
		c := buildCommit(t, repo, nil)
		_, a, _ := writeImage(t, repo, c, Options{Compression: comp})
		_, b, _ := writeImage(t, repo, c, Options{Compression: comp})
		if a.Manifest != b.Manifest {
			t.Errorf("compression %d: same commit, manifests %s and %s", comp, a.Manifest, b.Manifest)
		}
		// A second repository built from the same tree gives the same
		// commit and so the same image.
		repo2 := newRepo(t)
		if c2 := buildCommit(t, repo2, nil); c2 != c {
			t.Fatalf("same tree, commits %s and %s", c, c2)
		}
		_, d, _ := writeImage(t, repo2, c, Options{Compression: comp})
		if d.Manifest != a.Manifest {
			t.Errorf("compression %d: other repo, manifest %s, want %s", comp, d.Manifest, a.Manifest)
		}
	}
}

func TestImageContent(t *testing.T) {
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, res, m := writeImage(t, repo, c, Options{Source: "https://example.org/os", Title: "test os"})
	wantLabels := map[string]string{
		"containers.bootc":                 "1",
		"ostree.bootable":                  "1",
		"ostree.linux":                     testKver,
		"ostree.commit":                    c,
		"ostree.final-diffid":              res.Layers[len(res.Layers)-1].DiffID,
		"org.opencontainers.image.version": "13.1",
		"org.opencontainers.image.created": "2023-11-14T22:13:20Z",
		"org.opencontainers.image.source":  "https://example.org/os",
		"org.opencontainers.image.title":   "test os",
	}
	if !reflect.DeepEqual(m.Annotations, wantLabels) {
		t.Errorf("manifest annotations\n got %v\nwant %v", m.Annotations, wantLabels)
	}
	var cfg imageConfig
	cb, err := readBlob(dir, m.Config.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cb, &cfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Config.Labels, wantLabels) {
		t.Errorf("config labels %v", cfg.Config.Labels)
	}
	// Layers: commit, kernel, then one per package (the budget is ample).
	var got []string
	for _, l := range m.Layers {
		got = append(got, l.Annotations[ChunkAnnotation]+":"+l.Annotations[ComponentsAnnotation])
	}
	want := []string{"ostree-commit:", "kernel:linux-image-test", "packages:alpha", "packages:beta", "packages:delta", "packages:gamma", "packages:linux-image-test"}
	if !slices.Equal(got, want) {
		t.Errorf("layers %q, want %q", got, want)
	}
	names := func(l descriptor) map[string]*tar.Header {
		out := map[string]*tar.Header{}
		for _, h := range layerEntries(t, dir, l) {
			out[strings.TrimSuffix(h.Name, "/")] = h
		}
		return out
	}
	// The order ostree-ext's importer relies on: in the commit layer the
	// commit is the first object file, followed by the root dirmeta; in
	// every layer an object's xattrs come right before it.
	for i, l := range m.Layers {
		var objs []string
		for _, h := range layerEntries(t, dir, l) {
			if strings.HasPrefix(h.Name, "sysroot/ostree/repo/objects/") && h.Typeflag != tar.TypeDir {
				objs = append(objs, h.Name)
			}
		}
		if i == 0 && (len(objs) < 2 || objs[0] != objectPath(ostreerepo.ObjCommit, c) || !strings.HasSuffix(objs[1], ".dirmeta")) {
			t.Errorf("commit layer objects start %q", objs[:min(len(objs), 2)])
		}
		for j, o := range objs {
			if strings.HasSuffix(o, ".file") && (j == 0 || objs[j-1] != o+"-xattrs-link") {
				t.Errorf("layer %d: %s not preceded by its xattrs", i, o)
			}
		}
	}
	commitLayer := names(m.Layers[0])
	for _, p := range []string{".", "sysroot/ostree/repo/config", objectPath(ostreerepo.ObjCommit, c), "etc", "usr/bin", "var/tmp", "var/run", "etc/hostname", "usr/lib/sysimage/dpkg/status"} {
		if commitLayer[p] == nil {
			t.Errorf("commit layer lacks %s", p)
		}
	}
	if h := commitLayer["var/run"]; h != nil && (h.Typeflag != tar.TypeSymlink || h.Linkname != "../run") {
		t.Errorf("var/run: type %c target %q", h.Typeflag, h.Linkname)
	}
	kernel := names(m.Layers[1])
	for _, p := range []string{"usr/lib/modules/" + testKver + "/vmlinuz", "usr/lib/modules/" + testKver + "/initramfs.img"} {
		if h := kernel[p]; h == nil || h.Typeflag != tar.TypeLink {
			t.Errorf("kernel layer: %s missing or not a hard link", p)
		}
	}
	for p, h := range kernel {
		if h.Typeflag != tar.TypeDir && !strings.HasPrefix(p, "sysroot/") && !strings.HasPrefix(p, "usr/lib/modules/"+testKver+"/") {
			t.Errorf("kernel layer holds %s", p)
		}
	}
	if kernel["usr/lib/modules/"+testKver+"/modules.dep"] != nil {
		t.Errorf("modules.dep is in the kernel layer, want the package's")
	}
	alpha := names(m.Layers[2])
	for p, h := range alpha {
		if strings.HasPrefix(p, "usr/etc") {
			t.Errorf("layer has %s: /usr/etc must be shown as /etc", p)
		}
		if h.Typeflag == tar.TypeLink && !strings.HasPrefix(h.Linkname, "sysroot/ostree/repo/objects/") {
			t.Errorf("%s links to %s", p, h.Linkname)
		}
	}
	if h := alpha["usr/bin/alpha-suid"]; h == nil || h.Mode != 0o4755 {
		t.Errorf("usr/bin/alpha-suid: %+v", h)
	}
	if h := alpha["etc/alpha-secret"]; h == nil || h.Mode != 0o640 || h.Gid != 42 {
		t.Errorf("etc/alpha-secret: %+v", h)
	}
	beta := names(m.Layers[3])
	if beta["usr/bin/beta-merged"] == nil {
		t.Errorf("beta's layer lacks usr/bin/beta-merged (listed as /bin/beta-merged)")
	}
	if beta["usr/lib/sysimage/dpkg/info/beta.list"] == nil || commitLayer["usr/lib/sysimage/dpkg/info/beta.list"] != nil {
		t.Errorf("dpkg's beta.list belongs in beta's layer")
	}
	if h := beta["usr/share/beta/empty"]; h == nil || h.Typeflag != tar.TypeReg {
		t.Errorf("an empty file must be a regular entry, not a link: %+v", h)
	}
	gamma := names(m.Layers[5])
	var xattr bool
	for _, h := range gamma {
		if h.PAXRecords["SCHILY.xattr.user.debatom"] == "test\x00value" {
			xattr = true
		}
	}
	if !xattr {
		t.Errorf("gamma's layer has no PAX xattr record")
	}
}

func TestMaxLayers(t *testing.T) {
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	for _, max := range []int{3, 4, 5} {
		_, res, m := writeImage(t, repo, c, Options{MaxLayers: max})
		if len(res.Layers) > max {
			t.Errorf("max %d: %d layers", max, len(res.Layers))
		}
		seen := map[string]bool{}
		for _, l := range m.Layers[1:] {
			for _, p := range strings.Split(l.Annotations[ComponentsAnnotation], ",") {
				if l.Annotations[ChunkAnnotation] == chunkPackages {
					if seen[p] {
						t.Errorf("max %d: %s in two layers", max, p)
					}
					seen[p] = true
				}
			}
		}
		if len(seen) != 5 {
			t.Errorf("max %d: packages %v, want 5", max, seen)
		}
	}
	if _, err := Write(context.Background(), repo, c, t.TempDir(), Options{MaxLayers: 2}); err == nil {
		t.Error("MaxLayers 2 accepted")
	}
}

// TestPrevious changes one package and checks that only its layer and the
// commit layer change when the previous image is given.
func TestPrevious(t *testing.T) {
	for _, max := range []int{64, 4} {
		repo := newRepo(t)
		c1 := buildCommit(t, repo, nil)
		dir1, r1, _ := writeImage(t, repo, c1, Options{MaxLayers: max})
		c2 := buildCommit(t, repo, func(f *testFile) {
			if f.path == "usr/bin/beta" {
				f.content = "beta version 2, longer than before\n"
			}
		})
		_, r2, _ := writeImage(t, repo, c2, Options{MaxLayers: max, Previous: dir1})
		if len(r1.Layers) != len(r2.Layers) {
			t.Fatalf("max %d: %d layers, then %d", max, len(r1.Layers), len(r2.Layers))
		}
		for i := range r1.Layers {
			changed := r1.Layers[i].Digest != r2.Layers[i].Digest
			want := i == 0 || slices.Contains(r1.Layers[i].Components, "beta")
			if changed != want {
				t.Errorf("max %d: layer %d (%s %v): changed %v, want %v", max, i, r1.Layers[i].Chunk, r1.Layers[i].Components, changed, want)
			}
		}
	}
}

func TestPack(t *testing.T) {
	sizes := map[string]int64{"a": 100, "b": 1, "c": 1, "d": 50, "e": 1, "f": 1, "g": 1}
	tests := []struct {
		name string
		bins int
		prev [][]string
		want [][]string
	}{
		{"ample", 10, nil, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}}},
		{"big alone", 4, nil, [][]string{{"a"}, {"d"}, {"b", "c", "e"}, {"f", "g"}}},
		{"one bin", 1, nil, [][]string{{"a", "b", "c", "d", "e", "f", "g"}}},
		{"previous kept", 4, [][]string{{"a", "b"}, {"c", "d", "e", "f", "g"}}, [][]string{{"a", "b"}, {"c", "d", "e", "f", "g"}}},
		{"removed and new", 3, [][]string{{"a", "x"}, {"b", "c", "d", "e", "f"}}, [][]string{{"a"}, {"b", "c", "d", "e", "f"}, {"g"}}},
		{"new joins smallest", 2, [][]string{{"a"}, {"b", "c", "d", "e", "f"}}, [][]string{{"a"}, {"b", "c", "d", "e", "f", "g"}}},
		{"fewer bins", 2, [][]string{{"a"}, {"b"}, {"c", "d", "e", "f", "g"}}, [][]string{{"a"}, {"b", "c", "d", "e", "f", "g"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pack(sizes, tt.bins, tt.prev)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pack(%d, %v) = %v, want %v", tt.bins, tt.prev, got, tt.want)
			}
		})
	}
}

func TestSkopeo(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo")
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, res, _ := writeImage(t, repo, c, Options{Tag: "13"})
	out := run(t, skopeo, "inspect", "oci:"+dir+":13")
	var insp struct {
		Digest string
		Labels map[string]string
		Layers []string
	}
	if err := json.Unmarshal([]byte(out), &insp); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if insp.Digest != res.Manifest || insp.Labels["ostree.commit"] != c || len(insp.Layers) != len(res.Layers) {
		t.Errorf("skopeo inspect: %s", out)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	run(t, skopeo, "copy", "oci:"+dir+":13", "dir:"+dst)
	for _, l := range res.Layers {
		if _, err := os.Stat(filepath.Join(dst, strings.TrimPrefix(l.Digest, "sha256:"))); err != nil {
			t.Errorf("skopeo copy: layer %s: %v", l.Digest, err)
		}
	}
}

// TestUmociRootfs unpacks the image with umoci and compares it, path by
// path, with ostree's own checkout of the commit.
func TestUmociRootfs(t *testing.T) {
	umoci := testenv.Tool(t, "umoci")
	ostree := testenv.Tool(t, "ostree")
	testenv.Root(t)
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, _, _ := writeImage(t, repo, c, Options{})
	work := t.TempDir()
	bundle := filepath.Join(work, "bundle")
	run(t, umoci, "unpack", "--image", dir+":latest", bundle)
	co := filepath.Join(work, "checkout")
	run(t, ostree, "checkout", "--repo="+repo.Dir(), c, co)

	want := snapshotDir(t, co, func(p string) string { return tarPath(p) })
	got := snapshotDir(t, filepath.Join(bundle, "rootfs"), nil)
	// What the image adds on purpose: the embedded repository, and the
	// /var entries a container needs because it runs no tmpfiles.
	for p := range got {
		if strings.HasPrefix(p, "sysroot/ostree") || p == "var/tmp" || p == "var/run" {
			delete(got, p)
		}
	}
	compareSnapshots(t, got, want)
}

func TestPushPull(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, res, _ := writeImage(t, repo, c, Options{})
	host := strings.TrimPrefix(srv.URL, "http://")
	dg, err := Push(context.Background(), dir, "", host+"/debatom/test:13")
	if err != nil {
		t.Fatal(err)
	}
	if dg != res.Manifest {
		t.Errorf("pushed %s, image is %s", dg, res.Manifest)
	}
	back := filepath.Join(t.TempDir(), "back")
	run(t, skopeo, "copy", "--src-tls-verify=false", "docker://"+host+"/debatom/test:13", "oci:"+back+":13")
	m, got, err := readLayoutManifest(back, "13")
	if err != nil {
		t.Fatal(err)
	}
	if got != res.Manifest {
		t.Errorf("pulled manifest %s, pushed %s", got, res.Manifest)
	}
	for i, l := range m.Layers {
		if l.Digest != res.Layers[i].Digest {
			t.Errorf("layer %d: pulled %s, pushed %s", i, l.Digest, res.Layers[i].Digest)
		}
	}
	// The pulled copy imports to the same commit.
	r2 := newRepo(t)
	if got, err := Import(context.Background(), back, r2, ImportOptions{Tag: "13"}); err != nil || got != c {
		t.Errorf("import of the pulled image: %s, %v; want %s", got, err, c)
	}
}

func TestImportRoundTrip(t *testing.T) {
	ostree := testenv.Tool(t, "ostree")
	for _, comp := range []Compression{Gzip, Zstd} {
		repo := newRepo(t)
		c := buildCommit(t, repo, nil)
		dir, _, _ := writeImage(t, repo, c, Options{Compression: comp})
		r2 := newRepo(t)
		got, err := Import(context.Background(), dir, r2, ImportOptions{Ref: "debian/test"})
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("imported %s, want %s", got, c)
		}
		out := run(t, ostree, "fsck", "--repo="+r2.Dir())
		if !strings.Contains(out, "no errors found") {
			t.Errorf("ostree fsck: %s", out)
		}
		if rev := strings.TrimSpace(run(t, ostree, "rev-parse", "--repo="+r2.Dir(), "debian/test")); rev != c {
			t.Errorf("ref: %s", rev)
		}
	}
}

// TestImportBad feeds the importer broken layers: each must fail with one
// clear line and no panic.
func TestImportBad(t *testing.T) {
	obj := "sysroot/ostree/repo/objects/ab/" + strings.Repeat("c", 62)
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"bad object name", []tarEntry{{name: "sysroot/ostree/repo/objects/zz/x.file", body: "x"}}, "not an object path"},
		{"wrong checksum", []tarEntry{{name: obj + ".dirmeta", body: "garbage"}}, "re-serializes"},
		{"unknown type", []tarEntry{{name: obj + ".sizes", body: "x"}}, "unknown object type"},
		{"content mismatch", []tarEntry{{name: obj + ".file", body: "payload"}}, "content hashes to"},
		{"huge xattrs", []tarEntry{{name: obj + ".file-xattrs-link", size: maxXattrs + 1}}, "limit"},
		{"dangling xattrs", []tarEntry{{name: obj + ".file-xattrs-link"}, {name: obj + ".file-xattrs-link"}}, "never came"},
		{"xattrs link outside", []tarEntry{{name: obj + ".file-xattrs-link", link: "/etc/shadow"}}, "outside the repository"},
		{"bad xattrs", []tarEntry{{name: obj + ".file-xattrs-link", body: "\x01\x02\x03"}}, "xattrs"},
		{"device object", []tarEntry{{name: obj + ".file", typ: tar.TypeChar}}, "tar type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := &importer{repo: newRepo(t), xattrs: map[string][]fstree.Xattr{}}
			err := im.layer(context.Background(), bytes.NewReader(makeTar(t, tt.entries)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
}

func TestImportNotEncapsulated(t *testing.T) {
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, _, m := writeImage(t, repo, c, Options{})
	// Drop the commit label: a plain image cannot be imported.
	delete(m.Annotations, LabelCommit)
	mb, _ := json.Marshal(m)
	dg, err := writeBlob(dir, mb)
	if err != nil {
		t.Fatal(err)
	}
	idx := index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{{MediaType: mediaManifest, Digest: dg, Size: int64(len(mb))}}}
	ib, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Import(context.Background(), dir, newRepo(t), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "ostree.commit") {
		t.Errorf("error %v", err)
	}
	// A missing layout is a clear error too.
	if _, err := Import(context.Background(), t.TempDir(), newRepo(t), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "index.json") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestPreviousBad(t *testing.T) {
	tests := []struct {
		name, index string
		want        string
	}{
		{"not json", "{", "index.json"},
		{"no manifest", `{"schemaVersion":2,"manifests":[]}`, "no image manifest"},
		{"bad digest", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../etc/passwd","size":1}]}`, "bad digest"},
		{"missing blob", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}]}`, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(tt.index), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := PreviousPacking(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
}

func TestWriteArchive(t *testing.T) {
	repo := newRepo(t)
	c := buildCommit(t, repo, nil)
	dir, res, _ := writeImage(t, repo, c, Options{})
	var a, b bytes.Buffer
	if err := WriteArchive(context.Background(), dir, &a); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(context.Background(), dir, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two archives of one layout differ")
	}
	skopeo := testenv.Tool(t, "skopeo")
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(p, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, skopeo, "inspect", "oci-archive:"+p)
	if !strings.Contains(out, res.Manifest) {
		t.Errorf("skopeo inspect oci-archive: %s", out)
	}
}
