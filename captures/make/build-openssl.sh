#!/usr/bin/env bash
# Build an OpenSSL command-line binary that still speaks TLS 1.0/1.1 with
# 3DES (Debian's packaged OpenSSL is built without weak ciphers).
#
# The source comes from the `openssl-src` crate on crates.io (the only source
# registry reachable from the build machines): a throwaway cargo project
# depending on it is fetched, and the vendored tree is copied and built here.
#
# Output: captures/make/build/openssl/bin/openssl (gitignored). Idempotent:
# does nothing when that binary exists and reports 3DES support.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
prefix="$build/openssl"
bin="$prefix/bin/openssl"

if [[ -x "$bin" ]] && "$bin" ciphers -v 'DES-CBC3-SHA:@SECLEVEL=0' >/dev/null 2>&1; then
    echo "build-openssl: $bin already built ($("$bin" version))"
    exit 0
fi

mkdir -p "$build/fetch/src"
cat >"$build/fetch/Cargo.toml" <<'TOML'
[package]
name = "fetch-openssl-src"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
openssl-src = "300"

[workspace]
TOML
echo 'fn main() {}' >"$build/fetch/src/main.rs"
(cd "$build/fetch" && cargo fetch --quiet)

# Newest fetched openssl-src of the 300 series.
src_root="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/openssl-src-300.*/openssl 2>/dev/null | sort -V | tail -n 1)"
if [[ -z "$src_root" || ! -f "$src_root/Configure" ]]; then
    echo "build-openssl: openssl-src source not found after cargo fetch" >&2
    exit 1
fi
echo "build-openssl: using $src_root"

# Build out of a private copy: the registry tree must stay pristine.
rm -rf "$build/src"
cp -a "$src_root" "$build/src"
cd "$build/src"
# no-shared: the binary must not pick up the system libssl.
# no-module/no-legacy: the crate ships without the legacy provider's
# generated files (the same switches its own build script uses).
# enable-weak-ssl-ciphers: compiles 3DES/RC4 suites into libssl.
# The TLS 1.0/1.1 protocols are compiled in by default; SECLEVEL=0 at run
# time re-enables them together with SHA-1 signatures.
./Configure no-shared no-module no-legacy no-tests no-docs no-comp no-zlib \
    enable-weak-ssl-ciphers --libdir=lib \
    --prefix="$prefix" --openssldir="$prefix/ssl" >/dev/null
make -j2 >/dev/null
make install_sw >/dev/null
"$bin" version
"$bin" ciphers -v 'DES-CBC3-SHA:@SECLEVEL=0'
