package treefile

import (
	"strings"
)

// debianReleases maps Debian codenames to their major versions, the value
// of ${releasever}. sid never gets a number: it is always "sid".
var debianReleases = map[string]string{
	"buster":   "10",
	"bullseye": "11",
	"bookworm": "12",
	"trixie":   "13",
	"forky":    "14",
	"duke":     "15",
	"sid":      "sid",
}

// suiteSuffixes are the suites that ride on a release under its codename
// (trixie-updates, forky-security, ...); they name the same release.
var suiteSuffixes = []string{"-proposed-updates", "-updates", "-security", "-backports-sloppy", "-backports"}

// ReleaseVerOfSuite returns ${releasever} for a suite named by codename
// ("trixie", "trixie-updates", "forky-security" → "13", "13", "14";
// "sid" → "sid"), and false for an alias (stable, testing, unstable) or a
// codename the table does not know, whose Release must then be asked (see
// ReleaseVer). The suite name alone is enough for most builds, including
// offline ones from a lockfile, which record their suites but not their
// Release files.
func ReleaseVerOfSuite(suite string) (string, bool) {
	base := suite
	for _, s := range suiteSuffixes {
		if b, ok := strings.CutSuffix(suite, s); ok {
			base = b
			break
		}
	}
	v, ok := debianReleases[base]
	return v, ok
}

// ReleaseVer returns ${releasever} for a suite whose Release file says
// codename and version: the suite's own name when it is a known codename,
// else the Release's Codename when known, else the major part of its
// Version ("13.2" → "13"), else the codename itself (sid and testing have no
// Version; an unknown release without one is named by its codename, which
// reads fine in a ref), else the suite name. It never fails: a value that
// is not a number is still a usable path component.
func ReleaseVer(suite, codename, version string) string {
	if v, ok := ReleaseVerOfSuite(suite); ok {
		return v
	}
	if v, ok := ReleaseVerOfSuite(codename); ok {
		return v
	}
	if major, _, _ := strings.Cut(version, "."); major != "" && isDigits(major) {
		return major
	}
	if codename != "" {
		return codename
	}
	return suite
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
