#!/usr/bin/env bash
# The record book's PDF needs a CJK font (core/documents.py looks for Noto Sans CJK SC first).
# Installs Debian's fonts-noto-cjk when no CJK font is known to fontconfig and we are root;
# otherwise says how. Never fails: without the font, the .docx still works and the PDF is
# refused with a message saying what to install (or set [reports] pdf_font).
set -uo pipefail
if fc-list :lang=zh 2>/dev/null | grep . >/dev/null; then  # no -q: see browser-deps.sh
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing fonts-noto-cjk for the record book's PDF (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends fonts-noto-cjk fontconfig >/dev/null \
        || { apt-get update -q >/dev/null \
             && apt-get install -y -q --no-install-recommends fonts-noto-cjk fontconfig >/dev/null; } \
        || echo "pdf-deps: could not install fonts-noto-cjk; PDFs are refused until a CJK font is installed" >&2
    exit 0
fi
echo "For the record book's PDF install a CJK font: sudo apt-get install fonts-noto-cjk" >&2
