#!/usr/bin/env bash
# Builds the vanishing-gradient page into web/dist: the study compiled to
# WebAssembly, wasm-bindgen's JavaScript glue, the page. Serve it with
#   python3 -m http.server 8000 --directory web/dist
# and open http://localhost:8000.
#
# Needs the wasm32 target (rustup target add wasm32-unknown-unknown) and
# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in
# Cargo.lock (cargo install wasm-bindgen-cli --version =X).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "web/build.sh: needs wasm-bindgen-cli $version (found: $(wasm-bindgen --version 2>/dev/null || echo none));" \
    "install it with: cargo install wasm-bindgen-cli --version =$version" >&2
  exit 1
fi

cargo build --release -p nn-web --target wasm32-unknown-unknown
rm -rf web/dist
mkdir -p web/dist
wasm-bindgen --target web --no-typescript --out-dir web/dist/pkg target/wasm32-unknown-unknown/release/nn_web.wasm
cp web/www/* web/dist/
echo "web/dist: $(du -b web/dist/pkg/nn_web_bg.wasm | cut -f1) bytes of WebAssembly"
