package apt

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keyring is a set of public keys trusted to sign repositories.
type Keyring struct {
	name     string
	entities openpgp.EntityList
}

// LoadKeyring reads a keyring file, binary (.gpg) or armored (.asc).
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	return ParseKeyring(data, path)
}

// ParseKeyring reads keys from data, binary or armored; name is used in
// errors. A keyring without a single usable key is an error, so that a wrong
// path cannot silently turn into "nothing verifies".
func ParseKeyring(data []byte, name string) (*Keyring, error) {
	var el openpgp.EntityList
	var err error
	if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", name, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("keyring %s holds no keys", name)
	}
	return &Keyring{name: name, entities: el}, nil
}

// Merge returns a keyring trusting the keys of both.
func (k *Keyring) Merge(o *Keyring) *Keyring {
	el := append(append(openpgp.EntityList{}, k.entities...), o.entities...)
	return &Keyring{name: k.name + "+" + o.name, entities: el}
}

// Fingerprints lists the primary key fingerprints, upper-case hex.
func (k *Keyring) Fingerprints() []string {
	var out []string
	for _, e := range k.entities {
		out = append(out, strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)))
	}
	return out
}

// weakHashes are refused as apt refuses them: a signature made with one
// does not count, whoever made it.
var weakHashes = map[crypto.Hash]string{
	crypto.MD5: "MD5", crypto.SHA1: "SHA1", crypto.RIPEMD160: "RIPEMD160", crypto.SHA224: "SHA224",
}

// VerifyInRelease checks a clearsigned InRelease file and returns the signed
// text and the fingerprints of the keys whose signatures verified. As with
// apt, the file is good when any one signature by a trusted key verifies;
// signatures by unknown, expired or revoked keys, or over weak hashes, are
// skipped. Nothing but the returned plaintext may be parsed. name (the URL)
// is used in errors.
func VerifyInRelease(data []byte, name string, kr *Keyring, now time.Time) (plaintext []byte, signers []string, err error) {
	if kr == nil || len(kr.entities) == 0 {
		return nil, nil, fmt.Errorf("%s: no trusted keys to verify it with", name)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, nil, fmt.Errorf("%s: not a clearsigned message", name)
	}
	b, rest := clearsign.Decode(trimmed)
	if b == nil {
		return nil, nil, fmt.Errorf("%s: malformed clearsigned message", name)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		// apt refuses text outside the signed part: it could mislead a
		// reader that does not use the verified plaintext.
		return nil, nil, fmt.Errorf("%s: unsigned data after the signature", name)
	}
	var reasons []string
	packets := packet.NewReader(b.ArmoredSignature.Body)
	for n := 1; ; n++ {
		p, err := packets.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: malformed signature: %v", name, err)
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return nil, nil, fmt.Errorf("%s: signature block holds a non-signature packet", name)
		}
		fp, why := verifyOne(sig, b.Bytes, kr, now)
		if why != "" {
			reasons = append(reasons, fmt.Sprintf("signature %d: %s", n, why))
			continue
		}
		signers = append(signers, fp)
	}
	if len(signers) == 0 {
		if len(reasons) == 0 {
			reasons = []string{"no signatures"}
		}
		return nil, nil, fmt.Errorf("%s: no good signature from a trusted key (%s)", name, strings.Join(reasons, "; "))
	}
	return b.Plaintext, signers, nil
}

// verifyOne checks one signature over signed, returning the signer's
// fingerprint or why it does not count.
func verifyOne(sig *packet.Signature, signed []byte, kr *Keyring, now time.Time) (fingerprint, why string) {
	if w, ok := weakHashes[sig.Hash]; ok {
		return "", "weak hash " + w
	}
	if sig.SigType != packet.SigTypeText && sig.SigType != packet.SigTypeBinary {
		return "", fmt.Sprintf("unexpected signature type %#x", sig.SigType)
	}
	var id uint64
	switch {
	case sig.IssuerKeyId != nil:
		id = *sig.IssuerKeyId
	case len(sig.IssuerFingerprint) >= 8:
		fp := sig.IssuerFingerprint
		for _, c := range fp[len(fp)-8:] {
			id = id<<8 | uint64(c)
		}
	default:
		return "", "no issuer"
	}
	keys := kr.entities.KeysByIdUsage(id, packet.KeyFlagSign)
	if len(keys) == 0 {
		return "", fmt.Sprintf("key %016X is not trusted", id)
	}
	why = fmt.Sprintf("key %016X: bad signature", id)
	for _, key := range keys {
		if sig.IssuerFingerprint != nil && !bytes.Equal(sig.IssuerFingerprint, key.PublicKey.Fingerprint) {
			continue
		}
		h, err := sig.PrepareVerify()
		if err != nil {
			return "", fmt.Sprintf("key %016X: %v", id, err)
		}
		w := h
		if sig.SigType == packet.SigTypeText {
			w = openpgp.NewCanonicalTextHash(h)
		}
		w.Write(signed)
		if err := key.PublicKey.VerifySignature(h, sig); err != nil {
			continue
		}
		if err := keyValid(key, sig, now); err != nil {
			why = fmt.Sprintf("key %016X: %v", id, err)
			continue
		}
		return strings.ToUpper(hex.EncodeToString(key.Entity.PrimaryKey.Fingerprint)), ""
	}
	return "", why
}

// keyValid applies the time checks: revoked keys, expired keys and expired
// signatures do not count.
func keyValid(key openpgp.Key, sig *packet.Signature, now time.Time) error {
	primarySig, ident := key.Entity.PrimarySelfSignature()
	sub := key.PublicKey != key.Entity.PrimaryKey
	switch {
	case key.Entity.Revoked(now), sub && key.Revoked(now), ident != nil && ident.Revoked(now):
		return errors.New("revoked")
	case primarySig != nil && key.Entity.PrimaryKey.KeyExpired(primarySig, now):
		return errors.New("expired")
	case sub && key.SelfSignature != nil && key.PublicKey.KeyExpired(key.SelfSignature, now):
		return errors.New("subkey expired")
	case sig.SigExpired(now):
		return errors.New("signature expired")
	}
	return nil
}
