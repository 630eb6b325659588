#!/usr/bin/env bash
# Installs what building and testing Skylane needs on a Debian 12 machine.
# Idempotent: packages already present are not reinstalled; apt-get update runs
# only when something is missing. Needs root (or sudo) for apt-get.
#
#   scripts/setup.sh            build prerequisites (protoc, libclang, DPDK, pkg-config)
#   scripts/setup.sh --test     + test tools (kdig/dig, etcd, iproute2, NSD/Unbound/Knot upstreams)
#                                 and the nightly toolchain (scripts/fuzz.sh, test.sh's fuzz stage)
#   scripts/setup.sh --fuzz     + the nightly toolchain and cargo-fuzz (`cargo fuzz cmin`,
#                                 `cargo fuzz coverage`; scripts/fuzz.sh needs only nightly)
#   scripts/setup.sh --bench    + peer servers and load generators (knot, nsd, dnsperf),
#                                 valgrind (scripts/bench-instructions.sh)
#   scripts/setup.sh --package  + packaging tools (cargo-deb, cargo-generate-rpm, rpm,
#                                 systemd-analyze); --test includes them (tests/package.rs)
set -euo pipefail

fuzz_tools=0
nightly=0
pkgs=(protobuf-compiler libclang-dev libdpdk-dev dpdk pkg-config build-essential)
package_tools=(rpm systemd binutils dpkg-dev)
packaging=0
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=(knot-dnsutils dnsutils etcd-server etcd-client iproute2 iputils-ping curl ethtool perl nsd unbound knot "${package_tools[@]}"); packaging=1; nightly=1 ;;
    --package) pkgs+=("${package_tools[@]}"); packaging=1 ;;
    --fuzz) fuzz_tools=1; nightly=1 ;;
    --bench) pkgs+=(knot-dnsutils dnsutils iproute2 knot nsd dnsperf dpdk-dev valgrind) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# etcd-server's package starts a system etcd on 2379; tests start their own on
# free ports, so the system one is left alone (and not needed).
command -v cargo >/dev/null || { echo "setup.sh: cargo not found: install Rust (rustup)" >&2; exit 1; }

# Packaging helpers (scripts/package.sh): built from crates.io when missing.
if ((packaging)); then
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
  command -v cargo-generate-rpm >/dev/null || cargo install cargo-generate-rpm --locked
fi

# The fuzz targets (fuzz/, scripts/fuzz.sh) build on nightly (libFuzzer's coverage flags).
if ((nightly)) && ! cargo +nightly --version >/dev/null 2>&1; then
  command -v rustup >/dev/null && rustup toolchain install nightly --profile minimal || true
  cargo +nightly --version >/dev/null 2>&1 || {
    echo "setup.sh: the nightly toolchain is missing and could not be installed:" \
      "run 'rustup toolchain install nightly --profile minimal' (the fuzz targets need it)" >&2
    exit 1
  }
fi
if ((fuzz_tools)); then
  cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
fi
