#!/usr/bin/env bash
# Build kubectl-cost (kubecost/kubectl-cost, its main branch of 2026-06) the same way, after
# build.sh: OpenCost's core module at 805b231 and goccy/go-json v0.10.2 from $SRC, the rest
# from Debian trixie's packages.
#   GO=… SRC=… OUT=/tmp/k8s ./build-kubectl-cost.sh
set -euo pipefail
: "${GO:?path to a go >= 1.23 binary}" "${SRC:?directory of the sources}"
OUT=${OUT:-/tmp/k8s}
export APT_CONFIG=$OUT/apt.conf
P="golang-github-rs-zerolog-dev golang-golang-x-exp-dev golang-github-gdamore-tcell.v2-dev
golang-github-hashicorp-go-multierror-dev golang-github-hashicorp-go-plugin-dev
golang-github-jedib0t-go-pretty-dev golang-github-json-iterator-go-dev
golang-github-patrickmn-go-cache-dev golang-github-rivo-tview-dev golang-github-spf13-viper-dev
golang-k8s-cli-runtime-dev"
# shellcheck disable=SC2086
L=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $P | grep -E "^[a-z0-9]" | sort -u | grep -E "^golang-.*-dev$")
mkdir -p "$OUT/kc/cache" "$OUT/kc/root" "$OUT/kc/gp/src/github.com/kubecost" \
  "$OUT/kc/gp/src/github.com/opencost/opencost" "$OUT/kc/gp/src/github.com/goccy"
# shellcheck disable=SC2086
(cd "$OUT/kc/cache" && apt-get download $L >/dev/null)
for f in "$OUT"/kc/cache/*.deb; do
  # packages build.sh unpacked already stay as they are (github.com/golang/protobuf above all)
  [ -e "$OUT/cache/$(basename "$f")" ] || dpkg-deb -x "$f" "$OUT/kc/root"
done
G=$OUT/kc/gp/src/github.com
git --git-dir="$SRC/kubecost+kubectl-cost/repo" archive --prefix=kubectl-cost/ HEAD | tar -x -C "$G/kubecost"
# only the core/ subtree (the mirror lacks some blobs elsewhere in the tree)
git --git-dir="$SRC/opencost+opencost/repo" archive --prefix=core/ \
  805b231751843b995e6c56748d9b2d6abf7420bf:core | tar -x -C "$G/opencost/opencost"
git --git-dir="$SRC/goccy+go-json/repo" archive --prefix=go-json/ v0.10.2 | tar -x -C "$G/goccy"
cd "$G/kubecost/kubectl-cost"
GO111MODULE=off GOPATH=$OUT/kc/gp:$OUT/kc/root/usr/share/gocode:$OUT/gp:$OUT/root/usr/share/gocode \
  GOFLAGS= GOTOOLCHAIN=local GOCACHE=$OUT/gocache "$GO" build -o "$OUT/kubectl-cost" ./cmd/kubectl-cost
echo "built $OUT/kubectl-cost"
