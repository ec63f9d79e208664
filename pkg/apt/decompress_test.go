package apt

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func compressAll(t *testing.T, text []byte) map[string][]byte {
	var xb, gb bytes.Buffer
	xw, _ := xz.NewWriter(&xb)
	xw.Write(text)
	xw.Close()
	gw := gzip.NewWriter(&gb)
	gw.Write(text)
	gw.Close()
	zw, _ := zstd.NewWriter(nil)
	return map[string][]byte{"Packages": text, "Packages.xz": xb.Bytes(), "Packages.gz": gb.Bytes(), "Packages.zst": zw.EncodeAll(text, nil)}
}

func TestDecompress(t *testing.T) {
	text := []byte(strings.Repeat("Package: a\nVersion: 1\nArchitecture: all\n\n", 100))
	sum := sha256.Sum256(text)
	want := &FileHash{Size: int64(len(text)), SHA256: hex.EncodeToString(sum[:])}
	for name, data := range compressAll(t, text) {
		got, err := decompress(data, name, want, name)
		if err != nil || !bytes.Equal(got, text) {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "Packages" {
			continue
		}
		// A decoder fed damaged data, or data that decodes to other text
		// than the Release names, fails with one line naming the file.
		for _, bad := range []struct {
			data []byte
			want *FileHash
			err  string
		}{
			{data[:len(data)/2], want, name + ": "},
			{data, &FileHash{Size: want.Size, SHA256: strings.Repeat("0", 64)}, name + ": decompressed SHA256 "},
			{data, &FileHash{Size: 10, SHA256: want.SHA256}, name + ": decompresses to more than the 10 bytes the signed Release says"},
		} {
			_, err := decompress(bad.data, name, bad.want, name)
			if err == nil || !strings.HasPrefix(err.Error(), bad.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line starting %q", name, err, bad.err)
			}
		}
	}
}
