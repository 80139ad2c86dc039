#!/usr/bin/env bash
# Build OpenSSL command-line binaries that still speak TLS 1.0/1.1 with 3DES
# (Debian's packaged OpenSSL is built without weak ciphers).
#
# Two series are built, because they put empty fragments on the wire
# differently:
#   - 3.x (openssl-src "300"): the empty fragment is written from its own
#     buffer, so it usually leaves in its own TCP segment;
#   - 1.1.1 (openssl-src "111"): the empty fragment and the data record are
#     built in one buffer and leave in one write, as every OpenSSL before 3.2
#     (and the 0.9.8/1.0.x of the federation era) did.
#
# The sources come from the `openssl-src` crate on crates.io (the only source
# registry reachable from the build machines): a throwaway cargo project
# depending on it is fetched, and the vendored tree is copied and built here.
#
# Output (gitignored): captures/make/build/openssl/bin/openssl (3.x) and
# captures/make/build/openssl-111/bin/openssl (1.1.1). Idempotent: a series
# whose binary exists and offers DES-CBC3-SHA is not rebuilt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"

# build_series REQ NAME CRATE_GLOB CONFIGURE_SCRIPT CONFIGURE_ARGS...
build_series() {
    local req="$1" name="$2" glob="$3" configure="$4"
    shift 4
    local prefix="$build/$name"
    local bin="$prefix/bin/openssl"
    if [[ -x "$bin" ]] && "$bin" ciphers -v 'DES-CBC3-SHA:@SECLEVEL=0' >/dev/null 2>&1; then
        echo "build-openssl: $bin already built ($("$bin" version))"
        return 0
    fi

    local fetch="$build/fetch-$name"
    mkdir -p "$fetch/src"
    cat >"$fetch/Cargo.toml" <<TOML
[package]
name = "fetch-openssl-src"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
openssl-src = "$req"

[workspace]
TOML
    echo 'fn main() {}' >"$fetch/src/main.rs"
    (cd "$fetch" && cargo fetch --quiet)

    # Newest fetched openssl-src of that series.
    local src_root
    src_root="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/openssl-src-$glob/openssl 2>/dev/null |
        sort -V | tail -n 1)"
    if [[ -z "$src_root" || ! -f "$src_root/Configure" ]]; then
        echo "build-openssl: openssl-src $req source not found after cargo fetch" >&2
        return 1
    fi
    echo "build-openssl: building $name from $src_root"

    # Build out of a private copy: the registry tree must stay pristine.
    local src="$build/src-$name"
    rm -rf "$src"
    cp -a "$src_root" "$src"
    (
        cd "$src"
        "./$configure" "$@" --prefix="$prefix" --openssldir="$prefix/ssl" >"$build/configure-$name.log" 2>&1
        make -j2 >"$build/make-$name.log" 2>&1
        make install_sw >>"$build/make-$name.log" 2>&1
    )
    "$bin" version
    "$bin" ciphers -v 'DES-CBC3-SHA:@SECLEVEL=0'
}

# no-shared: the binaries must not pick up the system libssl.
# no-module/no-legacy: the crate ships without the legacy provider's
# generated files (the same switches its own build script uses).
# enable-weak-ssl-ciphers: compiles 3DES into libssl. TLS 1.0/1.1 are
# compiled in by default; SECLEVEL=0 at run time re-enables them.
# 1.1.1's Configure needs an explicit target: its ./config guesses it.
build_series 300 openssl '300.*' Configure no-shared no-module no-legacy no-tests no-docs \
    no-comp no-zlib enable-weak-ssl-ciphers --libdir=lib
build_series 111 openssl-111 '111.*' config no-shared no-tests no-comp no-zlib \
    enable-weak-ssl-ciphers --libdir=lib
