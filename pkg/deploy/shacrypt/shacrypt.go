// Package shacrypt computes SHA-512 crypt password hashes ("$6$salt$..."),
// the format /etc/shadow holds on Debian, following Ulrich Drepper's
// published specification ("Unix crypt using SHA-256 and SHA-512").
// Disk images need it to turn a plain-text password from a build
// configuration into a shadow entry without running any program.
package shacrypt

import (
	"crypto/sha512"
	"fmt"
	"strconv"
	"strings"
)

const (
	// DefaultRounds is the specification's default; it is not written
	// into the hash.
	DefaultRounds = 5000
	minRounds     = 1000
	maxRounds     = 999999999
	maxSalt       = 16
	alphabet      = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// Hash returns the SHA-512 crypt hash of password with salt (at most 16
// characters are used; '$' and ':' and newlines are not allowed) and
// rounds (0 for DefaultRounds).
func Hash(password, salt string, rounds int) (string, error) {
	if rounds == 0 {
		rounds = DefaultRounds
	}
	if rounds < minRounds || rounds > maxRounds {
		return "", fmt.Errorf("shacrypt: rounds %d outside %d..%d", rounds, minRounds, maxRounds)
	}
	if strings.ContainsAny(salt, "$:\n") {
		return "", fmt.Errorf("shacrypt: salt %q holds '$', ':' or a newline", salt)
	}
	if len(salt) > maxSalt {
		salt = salt[:maxSalt]
	}
	pw, s := []byte(password), []byte(salt)

	b := sha512.New()
	b.Write(pw)
	b.Write(s)
	b.Write(pw)
	sumB := b.Sum(nil)

	a := sha512.New()
	a.Write(pw)
	a.Write(s)
	a.Write(repeat(sumB, len(pw)))
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(pw)
		}
	}
	sumA := a.Sum(nil)

	dp := sha512.New()
	for range pw {
		dp.Write(pw)
	}
	p := repeat(dp.Sum(nil), len(pw))

	ds := sha512.New()
	for i := 0; i < 16+int(sumA[0]); i++ {
		ds.Write(s)
	}
	sq := repeat(ds.Sum(nil), len(s))

	c := sumA
	h := sha512.New()
	for i := 0; i < rounds; i++ {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sq)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString("$6$")
	if rounds != DefaultRounds {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	// The specification's byte order for SHA-512.
	for i := 0; i < 21; i++ {
		x, y, z := i, (i+21)%63, (i+42)%63
		// Triples rotate: (0,21,42), (22,43,1), (44,2,23), ...
		switch i % 3 {
		case 1:
			x, y, z = (i+21)%63, (i+42)%63, i
		case 2:
			x, y, z = (i+42)%63, i, (i+21)%63
		}
		encode(&out, c[x], c[y], c[z], 4)
	}
	encode(&out, 0, 0, c[63], 2)
	return out.String(), nil
}

func encode(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		out.WriteByte(alphabet[w&0x3f])
		w >>= 6
	}
}

// repeat returns n bytes of b repeated.
func repeat(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

// IsHash reports whether s looks like a crypt(3) hash ($id$...) rather
// than a plain-text password.
func IsHash(s string) bool {
	if len(s) < 4 || s[0] != '$' {
		return false
	}
	id, rest, ok := strings.Cut(s[1:], "$")
	return ok && id != "" && rest != "" && !strings.ContainsAny(s, ": \n")
}

// Salt derives a 16-character salt from seed (for reproducible builds,
// e.g. the commit checksum and the user name).
func Salt(seed []byte) string {
	sum := sha512.Sum512(seed)
	b := make([]byte, maxSalt)
	for i := range b {
		b[i] = alphabet[sum[i]&0x3f]
	}
	return string(b)
}
