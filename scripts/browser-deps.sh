#!/usr/bin/env bash
# Make sure the tests have what they drive outside Python: Debian's Chromium for the console's
# browser tests (driven by Playwright through executable_path), a CJK font, so screenshots and
# the record book's PDF show Chinese text, and poppler-utils (pdftotext, pdftoppm), which read
# the PDF back and render its pages to PNG.
# Installs them with apt-get when missing and we are root; otherwise says how. In CI
# (CI=true) a missing browser is an error; elsewhere the browser tests fail with this advice.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# grep reads all (no -q): with pipefail, an early exit would fail fc-list with SIGPIPE
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || need+=(fonts-noto-cjk)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need[*]} for the browser and document tests (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
    exit 0
fi
echo "The browser and document tests need: ${need[*]}" >&2
echo "  sudo apt-get install chromium fonts-noto-cjk poppler-utils   (Debian/Ubuntu)" >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
