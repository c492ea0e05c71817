#!/bin/sh
# Measures a report.html in headless Chromium at 1280×800: the page height in CSS pixels and
# in screens of 800 px, with every <details> as the file has it (folded by default).
# Usage: scripts/report-height.sh runs/report.html
# Prints: height_px=N screens=S
set -eu
file=${1:?usage: report-height.sh REPORT.html}
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "chromium missing (apt-get install -y chromium)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy with a measuring script at the end; the original stays script-free.
sed 's#</body>#<script>document.documentElement.setAttribute("data-height",String(document.documentElement.scrollHeight))</script></body>#' "$file" > "$tmp/page.html"
"$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
  --window-size=1280,800 --dump-dom "file://$tmp/page.html" 2>/dev/null > "$tmp/dom.html"
h=$(grep -o 'data-height="[0-9]*"' "$tmp/dom.html" | head -1 | tr -dc 0-9)
echo "height_px=$h screens=$(awk "BEGIN{printf \"%.1f\", $h/800}")"
