// Package ociwriter turns an OSTree commit into a bootc-compatible OCI image:
// the commit encapsulated the way bootc's ostree-ext importer reads it
// natively (the commit's objects under sysroot/ostree/repo, checkout paths
// hard-linked to them, /usr/etc shown as /etc), chunked into layers by
// owning Debian package so that an update changes only the layers of the
// packages that changed. Same commit and options give the same bytes.
//
// It also pushes an image layout to a registry and imports an encapsulated
// image back into an OSTree repository.
package ociwriter

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// Labels and annotations bootc and ostree-ext read.
const (
	LabelBootc       = "containers.bootc"
	LabelBootable    = "ostree.bootable"
	LabelLinux       = "ostree.linux"
	LabelCommit      = "ostree.commit"
	LabelFinalDiffID = "ostree.final-diffid"
	// ComponentsAnnotation lists a layer's packages, comma-separated.
	ComponentsAnnotation = "ostree.components"
	// ChunkAnnotation names what a layer holds ("ostree-commit", "kernel"
	// or "packages"), so a later build can keep the packing.
	ChunkAnnotation = "org.debatom.chunk"
	chunkCommit     = "ostree-commit"
)

// Compression is a layer compression.
type Compression int

const (
	Gzip Compression = iota
	Zstd
)

// ParseCompression accepts "gzip" and "zstd".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "gzip", "":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	}
	return 0, fmt.Errorf("unknown layer compression %q (want gzip or zstd)", s)
}

func (c Compression) mediaType() string {
	if c == Zstd {
		return "application/vnd.oci.image.layer.v1.tar+zstd"
	}
	return "application/vnd.oci.image.layer.v1.tar+gzip"
}

// DefaultMaxLayers is the layer budget when Options.MaxLayers is 0.
const DefaultMaxLayers = 64

// Options describe an image besides its commit.
type Options struct {
	// MaxLayers bounds the layer count, the commit layer included
	// (default 64, at least 3).
	MaxLayers   int
	Compression Compression
	// Previous is the image layout of the previous build: its packing of
	// packages into layers is kept.
	Previous string
	// Tag names the image in index.json (default "latest").
	Tag string
	// Created overrides the creation time; zero: the commit's timestamp.
	Created time.Time
	// Source and Title fill org.opencontainers.image.{source,title}; Title
	// defaults to the commit subject.
	Source, Title string
	// Labels are added to the image's labels.
	Labels map[string]string
	// Arch is the OCI architecture (default amd64).
	Arch string
}

// Layer describes one written layer.
type Layer struct {
	Digest     string   `json:"digest"`  // sha256:… of the compressed blob
	DiffID     string   `json:"diff_id"` // sha256:… of the tar
	Size       int64    `json:"size"`
	Chunk      string   `json:"chunk"`
	Components []string `json:"components,omitempty"`

	mediaType  string
	mediaBytes int64
}

// Result describes a written image.
type Result struct {
	Manifest string  `json:"manifest"` // sha256:… of the manifest
	Config   string  `json:"config"`
	Layers   []Layer `json:"layers"`
	Bytes    int64   `json:"bytes"` // tar bytes before compression
}

// Write writes commit (a checksum or ref) from repo as an OCI image layout
// in dir, created if missing; blobs already there are overwritten with the
// same bytes and index.json is replaced. Layers are written in parallel,
// one per core; each is reproducible on its own, so the result does not
// depend on scheduling.
func Write(ctx context.Context, repo *ostreerepo.Repo, commit string, dir string, opts Options) (*Result, error) {
	commit, err := repo.ResolveRef(commit)
	if err != nil {
		return nil, fmt.Errorf("oci image: %w", err)
	}
	if opts.MaxLayers == 0 {
		opts.MaxLayers = DefaultMaxLayers
	}
	if opts.MaxLayers < 3 {
		return nil, fmt.Errorf("oci image: --max-layers %d: need at least 3 (commit, kernel, packages)", opts.MaxLayers)
	}
	if opts.Tag == "" {
		opts.Tag = "latest"
	}
	if opts.Arch == "" {
		opts.Arch = "amd64"
	}
	var prev [][]string
	if opts.Previous != "" {
		prev, err = PreviousPacking(opts.Previous)
		if err != nil {
			return nil, err
		}
	}
	s, err := readSnapshot(ctx, repo, commit)
	if err != nil {
		return nil, err
	}
	kver := ""
	if v, ok := s.c.Lookup("ostree.linux"); ok {
		kver, _ = v.Value.(string)
	}
	own, err := owners(repo, s, kver)
	if err != nil {
		return nil, err
	}
	bins := opts.MaxLayers - 1
	if len(own.kernel) > 0 {
		bins--
	}
	chunks := own.chunks(s, pack(own.pkgSize, bins, prev))

	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, fmt.Errorf("oci image: %w", err)
	}
	layers := make([]Layer, len(chunks)+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	g.Go(func() error {
		var err error
		layers[0], err = writeLayer(gctx, blobs, opts.Compression, func(w io.Writer) error {
			l := newLayerWriter(repo, s, w)
			if err := l.commitLayer(own.rest); err != nil {
				return err
			}
			return l.close()
		})
		layers[0].Chunk = chunkCommit
		return err
	})
	for i, c := range chunks {
		g.Go(func() error {
			var err error
			layers[i+1], err = writeLayer(gctx, blobs, opts.Compression, func(w io.Writer) error {
				l := newLayerWriter(repo, s, w)
				if err := l.chunkLayer(c); err != nil {
					return err
				}
				return l.close()
			})
			layers[i+1].Chunk = c.name
			layers[i+1].Components = c.packages
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("oci image of %s: %w", commit, err)
	}
	return writeManifest(dir, s, kver, layers, opts)
}

// countWriter counts bytes and feeds a hash.
type countWriter struct {
	h hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// writeLayer streams a tar through the compressor into a blob, computing
// both digests on the way, and renames it to its digest when complete.
func writeLayer(ctx context.Context, blobs string, comp Compression, fill func(io.Writer) error) (Layer, error) {
	if err := ctx.Err(); err != nil {
		return Layer{}, err
	}
	f, err := os.CreateTemp(blobs, ".layer-*")
	if err != nil {
		return Layer{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	defer f.Close()
	compressed := &countWriter{h: sha256.New()}
	out := bufio.NewWriterSize(io.MultiWriter(f, compressed), 256<<10)
	var zw io.WriteCloser
	if comp == Zstd {
		// One encoder goroutine: the frame layout must not depend on
		// scheduling.
		zw, err = zstd.NewWriter(out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return Layer{}, err
		}
	} else {
		// A zero Header: no name, mtime 0, so the same tar gives the same
		// blob.
		gw, err := gzip.NewWriterLevel(out, gzip.DefaultCompression)
		if err != nil {
			return Layer{}, err
		}
		zw = gw
	}
	diff := &countWriter{h: sha256.New()}
	if err := fill(io.MultiWriter(zw, diff)); err != nil {
		return Layer{}, err
	}
	if err := zw.Close(); err != nil {
		return Layer{}, fmt.Errorf("compress layer: %w", err)
	}
	if err := out.Flush(); err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := f.Close(); err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	dg := hex.EncodeToString(compressed.h.Sum(nil))
	if err := os.Rename(tmp, filepath.Join(blobs, dg)); err != nil {
		return Layer{}, fmt.Errorf("write layer: %w", err)
	}
	return Layer{Digest: "sha256:" + dg, DiffID: "sha256:" + hex.EncodeToString(diff.h.Sum(nil)), Size: compressed.n, mediaBytes: diff.n, mediaType: comp.mediaType()}, nil
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

type history struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
	Comment   string `json:"comment,omitempty"`
}

type imageConfig struct {
	Created      string `json:"created"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
)

func writeManifest(dir string, s *snapshot, kver string, layers []Layer, opts Options) (*Result, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(int64(s.c.Timestamp), 0)
	}
	stamp := created.UTC().Format(time.RFC3339)
	labels := map[string]string{
		LabelCommit:                        s.commit,
		LabelFinalDiffID:                   layers[len(layers)-1].DiffID,
		"org.opencontainers.image.created": stamp,
	}
	if kver != "" {
		labels[LabelLinux] = kver
		labels[LabelBootable] = "1"
		labels[LabelBootc] = "1"
	}
	if v, ok := s.c.Lookup("version"); ok {
		if vs, ok := v.Value.(string); ok {
			labels["org.opencontainers.image.version"] = vs
		}
	}
	title := opts.Title
	if title == "" {
		title = s.c.Subject
	}
	if title != "" {
		labels["org.opencontainers.image.title"] = title
	}
	if opts.Source != "" {
		labels["org.opencontainers.image.source"] = opts.Source
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	var cfg imageConfig
	cfg.Created, cfg.Architecture, cfg.OS = stamp, opts.Arch, "linux"
	cfg.Config.Labels = labels
	cfg.RootFS.Type = "layers"
	m := manifest{SchemaVersion: 2, MediaType: mediaManifest, Annotations: labels}
	res := &Result{Layers: layers}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		by := "ostree export of commit " + s.commit
		if l.Chunk != chunkCommit {
			by = l.Chunk
			if len(l.Components) > 0 {
				by += ": " + strconv.Itoa(len(l.Components)) + " packages"
			}
		}
		cfg.History = append(cfg.History, history{Created: stamp, CreatedBy: by})
		ann := map[string]string{ChunkAnnotation: l.Chunk}
		if len(l.Components) > 0 {
			comps := append([]string(nil), l.Components...)
			sort.Strings(comps)
			ann[ComponentsAnnotation] = strings.Join(comps, ",")
		}
		m.Layers = append(m.Layers, descriptor{MediaType: l.mediaType, Digest: l.Digest, Size: l.Size, Annotations: ann})
		res.Bytes += l.mediaBytes
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cd, err := writeBlob(dir, cb)
	if err != nil {
		return nil, err
	}
	m.Config = descriptor{MediaType: mediaConfig, Digest: cd, Size: int64(len(cb))}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, err := writeBlob(dir, mb)
	if err != nil {
		return nil, err
	}
	idx := index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{{
		MediaType: mediaManifest, Digest: md, Size: int64(len(mb)),
		Annotations: map[string]string{"org.opencontainers.image.ref.name": opts.Tag},
		Platform:    &platform{Architecture: opts.Arch, OS: "linux"},
	}}}
	ib, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644); err != nil {
		return nil, err
	}
	res.Manifest, res.Config = md, cd
	return res, nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// writeBlob stores b under its digest and returns the digest.
func writeBlob(dir string, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	dg := hex.EncodeToString(sum[:])
	if err := atomicfile.WriteFile(filepath.Join(dir, "blobs", "sha256", dg), b, 0o644); err != nil {
		return "", err
	}
	return "sha256:" + dg, nil
}
