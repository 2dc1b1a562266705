#!/usr/bin/env bash
# Fetch the page's pinned third-party files from the npm registry into static/vendor/.
#
#     scripts/fetch_vendor.sh          # re-fetch and verify; then review `git diff static/vendor`
#
# The fetched files are committed, so the page works with no network; run this only to
# re-check them or to move to a new pinned version (change VERSION and SHA512 together).
# Needs curl, tar and sha512sum (or openssl); no node or npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# uPlot: small, fast canvas charts (MIT). https://github.com/leeoniya/uPlot
NAME=uplot
VERSION=1.6.32
# sha512 from `npm view uplot@1.6.32 dist.integrity` (base64 of the tarball's SHA-512)
SHA512=KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
URL="https://registry.npmjs.org/${NAME}/-/${NAME}-${VERSION}.tgz"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$URL"

got="$(openssl dgst -sha512 -binary "$tmp/pkg.tgz" | base64 -w0)"
if [ "$got" != "$SHA512" ]; then
  echo "checksum mismatch for $URL: expected $SHA512, got $got" >&2
  exit 1
fi

tar -xzf "$tmp/pkg.tgz" -C "$tmp"
dest="static/vendor/${NAME}"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.esm.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$dest/"
cat > "$dest/VERSION" <<INFO
${NAME} ${VERSION}
source: ${URL}
integrity: sha512-${SHA512}
files: dist/uPlot.esm.js, dist/uPlot.min.css, LICENSE (unchanged)
INFO
echo "fetched ${NAME} ${VERSION} into ${dest}"
