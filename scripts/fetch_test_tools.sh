#!/usr/bin/env bash
# Fetch the browser tests' pinned third-party tools from the npm registry into tests/browser/vendor/
# (git-ignored: test tools, never part of the page or the package).
#
#     scripts/fetch_test_tools.sh      # once, before `python -m pytest tests/browser`
#
# axe-core checks each page against the WCAG 2.0/2.1 A and AA rules (tests/browser/test_a11y.py).
# Without it those tests skip, or fail under CI=true. Already fetched at the pinned version: nothing
# to do. To move to a new version, change VERSION and SHA512 together.
# Needs curl, tar and python3; no node or npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# axe-core: accessibility rules engine (MPL-2.0). https://github.com/dequelabs/axe-core
NAME=axe-core
VERSION=4.14.1
# sha512 from `npm view axe-core@4.14.1 dist.integrity` (base64 of the tarball's SHA-512)
SHA512=FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
URL="https://registry.npmjs.org/${NAME}/-/${NAME}-${VERSION}.tgz"
dest="tests/browser/vendor/${NAME}"
stamp="${NAME} ${VERSION} sha512-${SHA512}"

if [ -f "$dest/axe.min.js" ] && [ "$(head -n1 "$dest/VERSION" 2>/dev/null)" = "$stamp" ]; then
  echo "${NAME} ${VERSION} is already in ${dest}"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$URL"

got="$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tmp/pkg.tgz")"
if [ "$got" != "$SHA512" ]; then
  echo "checksum mismatch for $URL: expected $SHA512, got $got" >&2
  exit 1
fi

tar -xzf "$tmp/pkg.tgz" -C "$tmp"
rm -rf "$dest"
mkdir -p "$dest"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dest/"
cat > "$dest/VERSION" <<INFO
${stamp}
source: ${URL}
files: axe.min.js, LICENSE (unchanged)
INFO
echo "fetched ${NAME} ${VERSION} into ${dest}"
