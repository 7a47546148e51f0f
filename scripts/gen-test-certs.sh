#!/usr/bin/env bash
# Test certificates for loopback TLS (tests, the demo, b24emu). Idempotent: existing files are kept, so the CMake
# configure step that calls this does not churn the build. Never use these outside tests: the keys are not secret.
#
#   scripts/gen-test-certs.sh OUTDIR
#
# Creates in OUTDIR:
#   ca.pem, ca.key              a test CA
#   server.pem, server.key      signed by the CA; SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   other-ca.pem, other-ca.key  an unrelated CA (a client trusting only this must reject server.pem)
#   wrong-host.pem, wrong-host.key  signed by the CA for DNS:wrong-host.invalid only (host name mismatch tests),
#                               valid a day less than server.pem (the certificate reload tests)
set -euo pipefail

out=${1:?usage: gen-test-certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"

days=36500  # long validity: test certificates must not expire under a pinned build

make_ca() {  # name subject
    local name=$1 subject=$2
    if [[ -s $name.pem && -s $name.key ]]; then
        return
    fi
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$days" \
        -keyout "$name.key" -out "$name.pem" -subj "$subject" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() {  # name cn san [days]
    local name=$1 cn=$2 san=$3 leaf_days=${4:-$days}
    if [[ -s $name.pem && -s $name.key && $name.pem -nt ca.pem ]]; then
        return
    fi
    local ext
    ext=$(mktemp)
    trap 'rm -f "$ext" "$name.csr"' RETURN
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
        "$san" >"$ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "/CN=$cn" 2>/dev/null
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$leaf_days" \
        -extfile "$ext" -out "$name.pem" 2>/dev/null
}

make_ca ca "/CN=dispatch test CA"
make_ca other-ca "/CN=dispatch other test CA"
make_leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
# A day shorter than server.pem, made in the same second or not: the certificate reload tests tell the two apart by
# their expiry too.
make_leaf wrong-host wrong-host.invalid "DNS:wrong-host.invalid" $((days - 1))
chmod 600 ./*.key
