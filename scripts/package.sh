#!/usr/bin/env bash
# Builds the Skylane packages from the release build:
#   target/package/skylane-<version>-1.x86_64.rpm   (cargo-generate-rpm)
#   target/package/skylane_<version>-1_amd64.deb    (cargo-deb)
# (target/ is $CARGO_TARGET_DIR when set.) Each holds /usr/bin/skylane, skylanectl and
# skylane-perf, the systemd units, /etc/skylane/skylane.toml (kept on upgrade), docs under
# /usr/share/doc/skylane/, and creates the `skylane` system user and /var/lib/skylane.
#
#   scripts/package.sh                   socket backend (no DPDK libraries needed at run time)
#   scripts/package.sh --features dpdk   DPDK build: links the host's DPDK shared libraries
#                                        (the .deb then depends on them; build on the target
#                                        distribution, see docs/operations.md)
#   scripts/package.sh --no-build        package the existing release binaries as they are
#   scripts/package.sh --bin-dir DIR     package the binaries in DIR as they are (no build; the
#                                        package test packages its own test build this way)
#   scripts/package.sh --fast            faster compression, larger files (.deb: cargo-deb
#                                        --fast; .rpm: gzip payload instead of zstd)
#
# `cargo build --release` is a no-op when the binaries are fresh.
set -euo pipefail
cd "$(dirname "$0")/.."

features=()
build=1
bin_dir=
deb_args=()
rpm_args=()
while (($#)); do
  case "$1" in
    --features) features=(--features "${2:?package.sh: --features needs a value}"); shift ;;
    --no-build) build=0 ;;
    --fast) deb_args=(--fast); rpm_args=(--payload-compress gzip) ;;
    --bin-dir) bin_dir=${2:?package.sh: --bin-dir needs a directory}; build=0; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

for tool in cargo-deb cargo-generate-rpm; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool missing: run scripts/setup.sh --package" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/package
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "package.sh: no version in Cargo.toml" >&2; exit 1; }

if ((build)); then
  cargo build --release --bins -p skylane -p skylane-perf "${features[@]}"
fi
from=${bin_dir:-$target/release}

# Stripped copies (the release profile keeps line tables for profiling).
bins=$target/release/package-bin
mkdir -p "$bins" "$out"
for b in skylane skylanectl skylane-perf; do
  [ -x "$from/$b" ] || { echo "package.sh: $from/$b missing (build first)" >&2; exit 1; }
  cp "$from/$b" "$bins/$b"
  strip --strip-debug "$bins/$b"
done

deb=$out/skylane_${version}-1_amd64.deb
rpm=$out/skylane-${version}-1.x86_64.rpm
rm -f "$deb" "$rpm"
cargo deb -p skylane --no-build --no-strip --deb-revision 1 "${deb_args[@]}" --output "$deb" >/dev/null
cargo generate-rpm -p . --target-dir "$target" "${rpm_args[@]}" -o "$rpm" >/dev/null

# The newest glibc symbol version the binaries need: the oldest glibc they run on.
glibc=$(for b in "$bins"/*; do objdump -T "$b"; done | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n1)
echo "package.sh: $deb"
echo "package.sh: $rpm"
echo "package.sh: binaries need ${glibc/_/ >= }"
