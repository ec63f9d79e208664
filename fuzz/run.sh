#!/usr/bin/env bash
# Runs every fuzz target in the repository for a short time each.
#
#   fuzz/run.sh [PACKAGE_PATTERN...]      (default ./...)
#
# Environment: FUZZTIME (per target, default 10s), FUZZ_PARALLEL (fuzzing
# workers per target, default 1, so the script shares the machine politely).
# Targets are found with `go test -list '^Fuzz'` per package, so a new
# FuzzXxx is picked up without editing this file. A crash is saved by Go
# under the package's testdata/fuzz/FuzzXxx/, where `go test` then replays
# it as a regression test. Exit status: 0 when every target ran clean, 1
# when any target failed or any package did not build.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
parallel=${FUZZ_PARALLEL:-1}
patterns=("$@")
[ ${#patterns[@]} -eq 0 ] && patterns=(./...)

pkgs=$(go list "${patterns[@]}") || { echo "fuzz: go list failed" >&2; exit 1; }
ran=0 clean=0 failed=0
failures=()
for pkg in $pkgs; do
	# Only packages with test files can hold fuzz targets.
	if [ -z "$(go list -f '{{len .TestGoFiles}}{{len .XTestGoFiles}}' "$pkg" | tr -d 0)" ]; then
		continue
	fi
	if ! list=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "FAIL $pkg: does not build:"
		echo "$list" | sed 's/^/    /'
		failed=$((failed + 1))
		failures+=("$pkg (build)")
		continue
	fi
	for target in $(echo "$list" | grep -E '^Fuzz[A-Za-z0-9_]*$'); do
		ran=$((ran + 1))
		echo "=== $pkg $target ($fuzztime)"
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel "$parallel" "$pkg" 2>&1); then
			echo "$out" | tail -n 1
			clean=$((clean + 1))
		else
			echo "$out" | tail -n 30
			failed=$((failed + 1))
			failures+=("$pkg $target")
		fi
	done
done
echo
echo "fuzz: $clean of $ran targets ran clean"
if [ "$failed" -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failures[@]}"
	exit 1
fi
