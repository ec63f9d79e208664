package ociwriter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push sends the image tagged tag ("" for the only one) in the layout dir
// to a registry reference such as registry.example/os/debian:13, with
// credentials from the default keychain (docker/podman config files).
// Registries on localhost and 127.0.0.1 are spoken to over plain HTTP.
// It returns the pushed manifest digest.
func Push(ctx context.Context, dir, tag, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("push: reference %q: %w", ref, err)
	}
	_, digest, err := readLayoutManifest(dir, tag)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return "", fmt.Errorf("push: %s: %w", dir, err)
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	img, err := p.Image(h)
	if err != nil {
		return "", fmt.Errorf("push: image %s in %s: %w", digest, dir, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("push %s to %s: %w", dir, ref, err)
	}
	return digest, nil
}

// WriteArchive writes the layout in dir as an oci-archive: a tar of the
// layout's files in name order, with fixed times and owners, so the same
// layout gives the same bytes.
func WriteArchive(ctx context.Context, dir string, w io.Writer) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("oci-archive of %s: %w", dir, err)
	}
	sort.Strings(files)
	tw := tar.NewWriter(w)
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("oci-archive: %w", err)
		}
		h := &tar.Header{Name: rel, ModTime: time.Unix(0, 0), Mode: 0o644}
		switch {
		case st.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, rel+"/", 0o755
		case st.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, st.Size()
		default:
			return fmt.Errorf("oci-archive: %s is neither a file nor a directory", p)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("oci-archive: %s: %w", rel, err)
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("oci-archive: %w", err)
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("oci-archive: %s: %w", rel, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("oci-archive: %w", err)
	}
	return nil
}
