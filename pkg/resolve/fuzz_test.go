package resolve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve feeds hostile indexes to the resolver: it must not panic or
// loop, errors must be one line, and every plan must be sorted, free of
// duplicates and installable (Resolve checks the last itself).
func FuzzResolve(f *testing.F) {
	small, err := os.ReadFile(filepath.Join("testdata", "small.pkgs"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(small), "server mta-user", true)
	f.Add("Package: aa\nVersion: 1\nArchitecture: amd64\nEssential: yes\nDepends: bb | cc (>= 2)\n\nPackage: cc\nVersion: 2\nArchitecture: all\nProvides: bb (= 1)\nConflicts: aa (<< 1)\n", "aa", false)
	f.Add("Package: aa\nVersion: 1\nArchitecture: amd64\nDepends: aa, bb:any\n\nPackage: bb\nVersion: 1:1\nArchitecture: amd64\nMulti-Arch: allowed\nBreaks: aa\n", "aa bb", true)
	f.Fuzz(func(t *testing.T, index, include string, baseline bool) {
		pkgs, err := readPackages(strings.NewReader(index), "fuzz")
		if err != nil || len(pkgs) > 200 {
			return
		}
		req := Request{Arch: "amd64", Include: strings.Fields(include)}
		if baseline {
			req.Baseline = "standard"
		}
		plan, err := Resolve(context.Background(), pkgs, req)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		for i := 1; i < len(plan.Packages); i++ {
			if plan.Packages[i-1].Name >= plan.Packages[i].Name {
				t.Fatalf("plan not sorted or has duplicates: %s, %s", plan.Packages[i-1].Name, plan.Packages[i].Name)
			}
		}
	})
}
