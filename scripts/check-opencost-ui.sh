#!/usr/bin/env bash
# Renders the OpenCost UI's cost pages against a running costreport, in Debian's Chromium.
#
#   make demo &   # or any costreport serving on $API (default http://127.0.0.1:9003)
#   scripts/check-opencost-ui.sh /path/to/opencost-ui-checkout [out-dir]
#
# Builds the UI (new and legacy) from a checkout of github.com/opencost/opencost-ui with its API
# URL pointed at $API/model, serves both builds on 127.0.0.1:8080 and :8081, and screenshots
# Home (its "Cloud Costs" card), the Cloud Cost dashboard and the legacy Cloud Costs, External
# Costs and Cost Allocation pages. Needs Node.js/npm and Debian's chromium; the legacy pages are
# shot in a real (not headless) Chromium window on a virtual screen, because their Recharts
# charts stay empty in headless Chromium: apt-get install chromium xvfb x11-apps netpbm.
set -euo pipefail
UI=${1:?usage: $0 OPENCOST_UI_CHECKOUT [OUT_DIR]}
OUT=${2:-./opencost-ui-check}
API=${API:-http://127.0.0.1:9003}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
curl -sf "$API/healthz" >/dev/null || { echo "no costreport answering on $API" >&2; exit 1; }
cd "$UI"
[ -d node_modules ] || npm ci --no-audit --no-fund
rm -rf build build-new build-legacy
VITE_BASE_API_URL="$API/model" npm run build >/dev/null && mv build build-new
VITE_BASE_API_URL="$API/model" VITE_LEGACY_MODE=true npm run build >/dev/null && mv build build-legacy
npx --yes serve build-new/client -s -l 8080 >/dev/null 2>&1 & NEW=$!
npx --yes serve build-legacy/client -s -l 8081 >/dev/null 2>&1 & LEGACY=$!
trap 'kill $NEW $LEGACY 2>/dev/null || true' EXIT
sleep 5
shot() {
  chromium --headless=new --no-sandbox --disable-gpu --window-size=1600,1300 \
    --virtual-time-budget=20000 --screenshot="$OUT/$1.png" "$2" >/dev/null 2>&1
  echo "$OUT/$1.png"
}
shot home http://127.0.0.1:8080/
shot cloud-cost-dashboard http://127.0.0.1:8080/dashboard/3
# A desktop window: Chromium on Xvfb, the screen grabbed with xwd after the page has settled.
DISPLAY_NO=${DISPLAY_NO:-77}
Xvfb ":$DISPLAY_NO" -screen 0 1600x1200x24 >/dev/null 2>&1 & XVFB=$!
trap 'kill $NEW $LEGACY $XVFB 2>/dev/null || true' EXIT
sleep 2
window_shot() {
  local profile
  profile=$(mktemp -d)
  DISPLAY=":$DISPLAY_NO" chromium --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-position=0,0 --window-size=1600,1200 --kiosk "$2" \
    >/dev/null 2>&1 & local browser=$!
  sleep "${SETTLE:-20}"
  DISPLAY=":$DISPLAY_NO" xwd -root -silent | xwdtopnm 2>/dev/null | pnmtopng >"$OUT/$1.png"
  kill "$browser" 2>/dev/null || true
  wait "$browser" 2>/dev/null || true
  rm -rf "$profile"
  echo "$OUT/$1.png"
}
window_shot legacy-cloud-costs http://127.0.0.1:8081/cloud
window_shot legacy-external-costs http://127.0.0.1:8081/external-costs
window_shot legacy-allocation http://127.0.0.1:8081/
