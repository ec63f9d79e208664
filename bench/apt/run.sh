#!/usr/bin/env bash
# Measures debatom's apt side against apt itself on the frozen archive:
# index load cold/warm (CLI, wall and CPU), the Go benchmarks of pkg/apt,
# and apt-get update + a simulated install in an isolated apt root.
# Usage: bench/apt/run.sh [path to shared/debian-archive]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVE=${1:-$(cd .. && pwd)/shared/debian-archive}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
T=$(mktemp -d)
HTTPD=
trap '[ -n "$HTTPD" ] && kill "$HTTPD"; rm -rf "$T"' EXIT

go build -o "$T/debatom" ./cmd/debatom
echo "== debatom resolve --include bash (cold = empty cache, then warm)"
for run in cold warm; do
  /usr/bin/time -f "$run: %e s wall, %U s user, %M KiB max RSS" \
    "$T/debatom" resolve --mirror "file://$ARCHIVE" --keyring "$KEYRING" --include bash --cache "$T/cache" >/dev/null
done

echo "== Go benchmarks (pkg/apt, pkg/deb822)"
DEBATOM_TEST_ARCHIVE=$ARCHIVE DEBATOM_TEST_KEYRING=$KEYRING \
  go test ./pkg/apt -run XXX -bench 'LoadIndex|ParsePackages|DecodeIndexCache|DecompressIndex|FetchArchive' -benchtime 3x -benchmem
go test ./pkg/deb822 -run XXX -bench . -benchtime 20x

if command -v apt-get >/dev/null; then
  echo "== apt-get update + apt-get -s install bash, isolated root"
  mkdir -p "$T/apt/etc/apt.conf.d" "$T/apt/etc/preferences.d" "$T/apt/lists/partial" "$T/apt/cache/archives/partial"
  echo "deb [signed-by=$KEYRING] file:$ARCHIVE trixie main" >"$T/apt/etc/sources.list"
  touch "$T/apt/status"
  A=(-o "Dir::Etc=$T/apt/etc" -o "Dir::Etc::Parts=$T/apt/etc/apt.conf.d" -o "Dir::State::Lists=$T/apt/lists"
     -o "Dir::State::status=$T/apt/status" -o "Dir::Cache=$T/apt/cache" -o Debug::NoLocking=1
     -o APT::Architecture=amd64 -o Acquire::Languages=none)
  # The host's apt.conf.d may enable AppStream/Contents targets the archive lacks.
  for x in DEP-11 DEP-11-icons DEP-11-icons-small DEP-11-icons-large DEP-11-icons-hidpi CNF Contents-deb; do
    A+=(-o "Acquire::IndexTargets::deb::$x::DefaultEnabled=false")
  done
  /usr/bin/time -f "apt-get update: %e s wall, %U s user" apt-get -qq "${A[@]}" update 2>&1 | grep -v '^W:' || true
  for run in first second; do
    /usr/bin/time -f "apt-get -s install bash ($run): %e s wall, %U s user" apt-get -qq "${A[@]}" -s install bash >/dev/null
  done
fi

echo "== download the 213 packages of the archive over loopback HTTP"
PORT=18931
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$ARCHIVE" >/dev/null 2>&1 &
HTTPD=$!
sleep 1
PKGS=$(awk '{print $1"="$2}' "$ARCHIVE/PACKAGES.txt" | paste -sd,)
"$T/debatom" lock --mirror "http://127.0.0.1:$PORT" --keyring "$KEYRING" --include "$PKGS" --cache "$T/c213" -o "$T/213.lock"
for run in cold warm; do
  /usr/bin/time -f "debatom fetch ($run): %e s wall, %U s user, %S s sys" \
    "$T/debatom" fetch --lock "$T/213.lock" --cache "$T/c213" >/dev/null
done
if command -v apt-get >/dev/null; then
  echo "deb [signed-by=$KEYRING] http://127.0.0.1:$PORT trixie main" >"$T/apt/etc/sources.list"
  rm -rf "$T/apt/lists"/* && mkdir -p "$T/apt/lists/partial"
  apt-get -qq "${A[@]}" update 2>&1 | grep -v '^W:' || true
  # apt also asks for lsb-base, which the pool lacks, and so exits non-zero.
  /usr/bin/time -o "$T/apt-time" -f "apt-get -d install (213): %e s wall, %U s user, %S s sys" \
    apt-get -qq "${A[@]}" -o APT::Sandbox::User=root -d -y install $(awk '{print $1":"$3"="$2}' "$ARCHIVE/PACKAGES.txt") >/dev/null 2>&1 || true
  cat "$T/apt-time"
fi
