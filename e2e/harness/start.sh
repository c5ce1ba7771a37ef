#!/usr/bin/env bash
# Start etcd, the apiextensions-apiserver built by build.sh and core_proxy.py; print a KUBECONFIG
# (plain http; $OUT/run/kubeconfig-tls reaches the same through TLS with certificate-authority-data).
#   OUT=/tmp/k8s ./start.sh && KUBECONFIG=$OUT/run/kubeconfig .venv/bin/pytest e2e
set -euo pipefail
OUT=${OUT:-/tmp/k8s}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-$HERE/../../.venv/bin/python}
R=$OUT/run
mkdir -p "$R"
cd "$R"
if [ ! -f admin.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=e2e-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
    -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 2>/dev/null
fi
nohup "$OUT/root/usr/bin/etcd" --data-dir "$R/etcd" --listen-client-urls http://127.0.0.1:22379 \
  --advertise-client-urls http://127.0.0.1:22379 --listen-peer-urls http://127.0.0.1:22380 >etcd.log 2>&1 &
sleep 3
nohup "$OUT/apiextensions-apiserver" --etcd-servers http://127.0.0.1:22379 --secure-port 26443 \
  --bind-address 127.0.0.1 --cert-dir "$R/certs" --client-ca-file "$R/ca.crt" \
  --enable-priority-and-fairness=false >apiext.log 2>&1 &
for _ in $(seq 60); do
  curl -sk --cert admin.crt --key admin.key https://127.0.0.1:26443/readyz >/dev/null && break
  sleep 1
done
# the Python HTTP parser (kubelet.py teaches it the SPDY/3.1 upgrade) and the SPDY/3 dictionary
AIOHTTP_NO_EXTENSIONS=1 \
  HARNESS_SPDY_DICTIONARY=$OUT/root/usr/share/gocode/src/github.com/moby/spdystream/spdy/dictionary.go \
  HARNESS_CERT=$R/admin.crt HARNESS_KEY=$R/admin.key nohup "$PY" "$HERE/core_proxy.py" >proxy.log 2>&1 &
for _ in $(seq 60); do grep -q "proxy up" proxy.log 2>/dev/null && break; sleep 1; done
if [ ! -f tls.crt ]; then  # a server certificate for 127.0.0.1 from the harness CA
  printf '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=IP:127.0.0.1\n' >san.cnf
  openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj "/CN=127.0.0.1" \
    -config san.cnf 2>/dev/null
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 3650 \
    -extfile san.cnf -extensions ext 2>/dev/null
fi
HARNESS_TLS_CERT=$R/tls.crt HARNESS_TLS_KEY=$R/tls.key nohup "$PY" "$HERE/tls_relay.py" >tls.log 2>&1 &
for _ in $(seq 30); do grep -q "tls relay up" tls.log 2>/dev/null && break; sleep 1; done
# kubeconfig FILE CLUSTER: the admin user (the proxy lets it through) on that cluster entry
kubeconfig() {
  cat >"$1" <<CONF
apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster: $2
users:
- name: admin
  user: {}
contexts:
- name: harness
  context: {cluster: harness, user: admin}
current-context: harness
CONF
}
kubeconfig kubeconfig '{server: "http://127.0.0.1:27443"}'
kubeconfig kubeconfig-tls \
  "{server: \"https://127.0.0.1:27444\", certificate-authority-data: \"$(base64 -w0 ca.crt)\"}"
echo "$R/kubeconfig"
