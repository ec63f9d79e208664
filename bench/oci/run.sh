#!/bin/sh
# Commit → OCI image layout for the frozen archive's package set, gzip vs
# zstd layers. Builds the commit once (with its initramfs) unless REPO and
# COMMIT are given, then runs BenchmarkWrite on it.
#   REPO=… COMMIT=… bench/oci/run.sh
set -eu
cd "$(dirname "$0")/../.."
work=${WORK:-/tmp/debatom-bench-oci}
mkdir -p "$work"
if [ -z "${REPO:-}" ]; then
	go build -o "$work/debatom" ./cmd/debatom
	COMMIT=$(cd pkg/compose/testdata && "$work/debatom" build -f archive.yaml -o "$work/out" \
		--mirror "file://${DEBATOM_TEST_ARCHIVE:-/work/shared/debian-archive}" \
		--keyring "${DEBATOM_TEST_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}" \
		--cache "$work/cache" --quiet)
	REPO=$work/out/repo
fi
DEBATOM_BENCH_OCI_REPO=$REPO DEBATOM_BENCH_OCI_COMMIT=$COMMIT \
	go test -run '^$' -bench BenchmarkWrite -benchtime 1x -count "${COUNT:-1}" ./pkg/ociwriter
