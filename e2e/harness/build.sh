#!/usr/bin/env bash
# Build a standalone apiextensions-apiserver v0.32.3 (the CRD half of kube-apiserver) in GOPATH
# mode from Debian trixie's Go library packages plus a few sources Debian has at other versions.
#
#   GO=/path/to/go1.24/bin/go SRC=/dir/with/sources OUT=/tmp/k8s ./build.sh
#
# SRC holds git checkouts (or exports) of, at these versions:
#   kubernetes/apiextensions-apiserver v0.32.3, kubernetes/apiserver v0.32.3,
#   kubernetes-sigs/apiserver-network-proxy konnectivity-client/v0.31.0, google/cel-go v0.22.0,
#   google/cel-spec v0.18.0 (cel.dev/expr), antlr4-go/antlr v4.13.0,
#   googleapis/go-genproto at f6391c0de4c7 (googleapis/api and googleapis/rpc only)
# laid out as $SRC/<owner>+<name>. Debian packages come from deb.debian.org (trixie).
set -euo pipefail
: "${GO:?path to a go >= 1.23 binary}" "${SRC:?directory of the sources listed above}"
OUT=${OUT:-/tmp/k8s}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"/{cache/archives/partial,root,gp/src}
cat >"$OUT/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
mkdir -p "$OUT/lists/partial"
cat >"$OUT/apt.conf" <<CONF
Dir::Etc::SourceList "$OUT/debian.sources";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$OUT/lists";
Dir::Cache "$OUT/cache";
Dir::State::status "/dev/null";
CONF
export APT_CONFIG=$OUT/apt.conf
apt-get update -qq
P="golang-k8s-api-dev golang-k8s-apimachinery-dev golang-k8s-client-go-dev
golang-k8s-component-base-dev golang-k8s-kms-dev golang-k8s-kube-openapi-dev golang-k8s-utils-dev
golang-etcd-server-dev golang-k8s-sigs-structured-merge-diff-dev golang-github-fsnotify-fsnotify-dev
golang-github-google-btree-dev golang-github-asaskevich-govalidator-dev golang-github-blang-semver-dev
golang-github-coreos-go-oidc-dev golang-github-coreos-go-systemd-dev golang-github-emicklei-go-restful-dev
golang-github-evanphx-json-patch-dev golang-github-fxamacker-cbor-dev golang-github-google-gnostic-models-dev
golang-github-gorilla-websocket-dev golang-github-grpc-ecosystem-go-grpc-prometheus-dev
golang-github-munnerz-goautoneg-dev golang-github-mxk-go-flowrate-dev
golang-github-prometheus-client-golang-dev golang-github-spf13-cobra-dev golang-github-spf13-pflag-dev
golang-google-genproto-dev golang-google-grpc-dev golang-gopkg-natefinch-lumberjack.v2-dev
golang-gopkg-square-go-jose.v2-dev golang-github-google-gofuzz-dev golang-go.uber-zap-dev
golang-github-gogo-protobuf-dev golang-opentelemetry-contrib-dev golang-opentelemetry-otel-dev
golang-opentelemetry-proto-dev golang-k8s-sigs-json-dev golang-k8s-sigs-yaml-dev golang-k8s-klog-dev
golang-github-google-uuid-dev golang-github-google-go-cmp-dev golang-github-stoewer-go-strcase-dev
etcd-server"
# shellcheck disable=SC2086
L=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $P | grep -E "^[a-z0-9]" | sort -u | grep -E "^golang-.*-dev$|^etcd-server$")
(cd "$OUT/cache" && apt-get download $L >/dev/null)
for f in "$OUT"/cache/*.deb; do dpkg-deb -x "$f" "$OUT/root"; done
# Two packages install github.com/golang/protobuf; keep 1.5 only.
rm -rf "$OUT/root/usr/share/gocode/src/github.com/golang/protobuf" "$OUT/root/usr/share/gocode/src/k8s.io/apiserver"
dpkg-deb -x "$OUT"/cache/golang-github-golang-protobuf-1-5-dev_*.deb "$OUT/root"
G=$OUT/gp/src
mkdir -p "$G"/k8s.io "$G"/sigs.k8s.io/apiserver-network-proxy "$G"/github.com/google \
  "$G"/github.com/antlr4-go/antlr "$G"/cel.dev "$G"/google.golang.org/genproto "$G"/gopkg.in/evanphx
exp() { git --git-dir="$SRC/$1/repo" archive "${@:2}"; }
exp kubernetes+apiextensions-apiserver --prefix=apiextensions-apiserver/ v0.32.3 | tar -x -C "$G/k8s.io"
exp kubernetes+apiserver --prefix=apiserver/ v0.32.3 | tar -x -C "$G/k8s.io"
exp kubernetes-sigs+apiserver-network-proxy konnectivity-client/v0.31.0 konnectivity-client \
  | tar -x -C "$G/sigs.k8s.io/apiserver-network-proxy"
exp google+cel-go --prefix=cel-go/ v0.22.0 | tar -x -C "$G/github.com/google"
rm -rf "$G/github.com/google/cel-go/vendor"
exp google+cel-spec --prefix=expr/ v0.18.0 | tar -x -C "$G/cel.dev"
exp antlr4-go+antlr --prefix=v4/ v4.13.0 | tar -x -C "$G/github.com/antlr4-go/antlr"
exp googleapis+go-genproto f6391c0de4c7 googleapis/api googleapis/rpc | tar -x -C "$G/google.golang.org/genproto"
ln -sfn "$OUT/root/usr/share/gocode/src/github.com/evanphx/json-patch" "$G/gopkg.in/evanphx/json-patch.v4"
(cd "$G/k8s.io/apiextensions-apiserver" && patch -p1 <"$HERE/apiextensions-standalone.patch")
cd "$G/k8s.io/apiextensions-apiserver"
V=k8s.io/component-base/version  # /version says 1.32.3, not v0.0.0-master (clients check it)
GO111MODULE=off GOPATH=$OUT/gp:$OUT/root/usr/share/gocode GOFLAGS= GOTOOLCHAIN=local \
  GOCACHE=$OUT/gocache "$GO" build -o "$OUT/apiextensions-apiserver" \
  -ldflags "-X $V.gitVersion=v1.32.3 -X $V.gitMajor=1 -X $V.gitMinor=32" .
echo "built $OUT/apiextensions-apiserver; etcd is $OUT/root/usr/bin/etcd"
