package ociwriter

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxJSON bounds index.json, manifests and configs read from a layout:
// real ones are a few kilobytes.
const maxJSON = 4 << 20

// readLayoutManifest reads the manifest index.json names: the one tagged
// tag, or the only one when tag is "".
func readLayoutManifest(dir, tag string) (*manifest, string, error) {
	ib, err := readLimited(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, "", err
	}
	var idx index
	if err := json.Unmarshal(ib, &idx); err != nil {
		return nil, "", fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	var pick *descriptor
	for i, d := range idx.Manifests {
		if d.MediaType != mediaManifest && d.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
			continue
		}
		name := d.Annotations["org.opencontainers.image.ref.name"]
		if tag == "" || name == tag {
			if pick != nil && tag == "" {
				return nil, "", fmt.Errorf("%s holds several images: name one by tag", dir)
			}
			pick = &idx.Manifests[i]
		}
	}
	if pick == nil {
		if tag != "" {
			return nil, "", fmt.Errorf("%s has no image tagged %q", dir, tag)
		}
		return nil, "", fmt.Errorf("%s has no image manifest", dir)
	}
	mb, err := readBlob(dir, pick.Digest)
	if err != nil {
		return nil, "", err
	}
	m, err := parseManifest(mb)
	if err != nil {
		return nil, "", fmt.Errorf("manifest %s in %s: %w", pick.Digest, dir, err)
	}
	return m, pick.Digest, nil
}

// parseManifest decodes and checks an image manifest.
func parseManifest(b []byte) (*manifest, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("schemaVersion %d, want 2", m.SchemaVersion)
	}
	for _, l := range m.Layers {
		if _, err := digestHex(l.Digest); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	return &m, nil
}

// PreviousPacking reads the packing of packages into layers from a
// previous build's image layout: one group per package layer, in layer
// order. The commit and kernel layers are not groups.
func PreviousPacking(dir string) ([][]string, error) {
	m, _, err := readLayoutManifest(dir, "")
	if err != nil {
		return nil, fmt.Errorf("previous image: %w", err)
	}
	return packingOf(m), nil
}

func packingOf(m *manifest) [][]string {
	groups := [][]string{}
	for _, l := range m.Layers {
		comps := l.Annotations[ComponentsAnnotation]
		if comps == "" || l.Annotations[ChunkAnnotation] == chunkKernel {
			continue
		}
		var g []string
		for _, p := range strings.Split(comps, ",") {
			if p = strings.TrimSpace(p); p != "" {
				g = append(g, p)
			}
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// digestHex checks a sha256 digest and returns its hex part, which is
// safe to use as a file name.
func digestHex(d string) (string, error) {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("bad digest %q: want sha256:<64 hex>", d)
	}
	return h, nil
}

// readBlob reads a small blob (JSON) and checks its digest.
func readBlob(dir, digest string) ([]byte, error) {
	h, err := digestHex(digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	b, err := readLimited(filepath.Join(dir, "blobs", "sha256", h))
	if err != nil {
		return nil, err
	}
	if got, _ := digestHex(sha256Digest(b)); got != h {
		return nil, fmt.Errorf("blob %s in %s has digest sha256:%s", digest, dir, got)
	}
	return b, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) > maxJSON {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxJSON)
	}
	return b, nil
}
