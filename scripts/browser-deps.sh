#!/usr/bin/env bash
# Make sure the console's browser tests have a browser: Debian's Chromium (driven by Playwright
# through executable_path) and a CJK font, so screenshots show Chinese text.
# Installs them with apt-get when missing and we are root; otherwise says how. In CI
# (CI=true) a missing browser is an error; elsewhere the browser tests fail with this advice.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need[*]} for the console's browser tests (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
    exit 0
fi
echo "The console's browser tests need: ${need[*]}" >&2
echo "  sudo apt-get install chromium fonts-noto-cjk   (Debian/Ubuntu)" >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
