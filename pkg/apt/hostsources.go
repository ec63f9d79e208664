package apt

import "strings"

// ReadHostMirror picks the Debian archive out of the host's apt
// configuration under root (normally "/"): mirror is the first source
// whose URL is a Debian mirror (ending in /debian, and not a security
// host), nil if there is none; security are the Debian security sources
// (ending in /debian-security) listed before it, or all of them when there
// is no mirror. The host may run another release than the one being built,
// so callers take the sources' URLs and keys, not their suites.
func ReadHostMirror(root string) (mirror *Source, security []Source, err error) {
	host, err := ReadHostSources(root)
	if err != nil {
		return nil, nil, err
	}
	for i, h := range host {
		switch u := strings.TrimRight(h.URL, "/"); {
		case strings.HasSuffix(u, "/debian-security"):
			security = append(security, h)
		case strings.HasSuffix(u, "/debian") && !strings.Contains(u, "security"):
			return &host[i], security, nil
		}
	}
	return nil, security, nil
}
