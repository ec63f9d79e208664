#!/bin/sh
# Compares pure-Go xz decoders with xz-utils on the archive's .debs (see
# XZ.md). Builds xzcompare.go in a scratch module under /tmp so the
# candidates never enter debatom's go.mod.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/xzcompare.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "/^\/\/go:build ignore/d" "$here/xzcompare.go" >"$work/main.go"
cd "$work"
go mod init xzcompare >/dev/null 2>&1
go mod edit -require=github.com/debatom/debatom@v0.0.0 -replace=github.com/debatom/debatom="$here/../.."
go get github.com/ulikunitz/xz@v0.5.17 github.com/xi2/xz@v0.0.0-20171230120015-48954b6210f8 github.com/therootcompany/xz@v1.0.1 >/dev/null 2>&1
go mod tidy >/dev/null 2>&1
go build -o xzcompare .
./xzcompare "$@"
