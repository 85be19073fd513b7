#!/usr/bin/env bash
# Builds FerretDB v1 (the last v1 release) into BIN_DIR/ferretdb from its Go module.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary
# that panics at start: the module lacks build/version/version.txt, which
# FerretDB's release tooling generates, and FerretDB requires it whenever it is
# the main module. So this fetches the module (Go module proxy), adds the file
# to a writable copy and builds that copy.
set -euo pipefail

VERSION=v1.24.2
bin_dir=$(realpath -m "${1:?usage: build_ferretdb.sh BIN_DIR}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"  # outside any Go module
module_dir=$(go mod download -json "github.com/FerretDB/FerretDB@$VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[[ -d $module_dir ]] || { echo "go mod download gave no module directory" >&2; exit 1; }
cp -r "$module_dir" src
chmod -R u+w src
echo "$VERSION" >src/build/version/version.txt
mkdir -p "$bin_dir"
# -buildvcs=false: the copy may sit inside another repository's work tree.
(cd src && CGO_ENABLED=0 go build -buildvcs=false -trimpath -o "$work/ferretdb" ./cmd/ferretdb)
mv "$work/ferretdb" "$bin_dir/ferretdb"  # atomic: a half-built binary is never seen
# Not "| head -1": head's early exit would kill ferretdb with SIGPIPE, and pipefail fail the build.
version=$("$bin_dir/ferretdb" --version)
echo "${version%%$'\n'*}"
