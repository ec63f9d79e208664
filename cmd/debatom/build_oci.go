package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/pkg/compose"
	"github.com/debatom/debatom/pkg/ociwriter"
)

// ociFlags registers the OCI image flags of `debatom build` on fs; the
// returned function reads them once fs is parsed.
func ociFlags(fs *flag.FlagSet) func() (ociwriter.Options, error) {
	maxLayers := fs.Int("max-layers", ociwriter.DefaultMaxLayers, "OCI image: at most `N` layers (packages are grouped to fit)")
	previous := fs.String("previous", "", "OCI image: the previous build's image layout `DIR`, whose layer packing is kept")
	compression := fs.String("compression", "gzip", "OCI image layer compression: gzip or zstd")
	tag := fs.String("tag", "latest", "OCI image: `tag` in the layout's index.json")
	source := fs.String("source", "", "OCI image: org.opencontainers.image.source `URL`")
	return func() (ociwriter.Options, error) {
		c, err := ociwriter.ParseCompression(*compression)
		if err != nil {
			return ociwriter.Options{}, fmt.Errorf("%w: %v", errUsage, err)
		}
		return ociwriter.Options{MaxLayers: *maxLayers, Previous: *previous, Compression: c, Tag: *tag, Source: *source}, nil
	}
}

// writeOCI writes the build's commit as a bootc-compatible OCI image:
// format "oci" makes out an image layout directory, "oci-archive" makes out
// a tar of one. The archive is assembled beside out and renamed into
// place, so out is never half written.
func writeOCI(ctx context.Context, res *compose.Result, out string, format string, opts ociwriter.Options) error {
	switch format {
	case "oci":
		_, err := ociwriter.Write(ctx, res.Repo, res.Commit, out, opts)
		return err
	case "oci-archive":
		tmp, err := os.MkdirTemp(filepath.Dir(out), ".oci-layout-*")
		if err != nil {
			return fmt.Errorf("oci-archive %s: %w", out, err)
		}
		defer os.RemoveAll(tmp)
		if _, err := ociwriter.Write(ctx, res.Repo, res.Commit, tmp, opts); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(out), ".oci-archive-*")
		if err != nil {
			return fmt.Errorf("oci-archive %s: %w", out, err)
		}
		defer os.Remove(f.Name())
		err = ociwriter.WriteArchive(ctx, tmp, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), out)
		}
		if err != nil {
			return fmt.Errorf("oci-archive %s: %w", out, err)
		}
		return nil
	}
	return fmt.Errorf("unknown OCI format %q (want oci or oci-archive)", format)
}
