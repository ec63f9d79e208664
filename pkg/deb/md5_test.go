package deb

import (
	"crypto/md5"
	"encoding/hex"
	"io"
)

func md5sum(r io.Reader) string {
	h := md5.New()
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}
