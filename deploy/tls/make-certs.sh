#!/bin/sh
# Makes a development CA and troupe node and client certificates with the
# openssl command line tool (Debian package openssl). docs/security.md.
#
#   make-certs.sh [-d DIR] ca                       DIR/ca.pem, DIR/ca.key
#   make-certs.sh [-d DIR] node ID [ADDR...]        DIR/ID.pem, DIR/ID.key
#   make-certs.sh [-d DIR] client NAME admin|viewer DIR/NAME.pem, DIR/NAME.key
#   make-certs.sh [-d DIR] dev ID...                ca, nodes ID..., admin, viewer
#
# DIR defaults to ./tls. node and client need DIR/ca.pem and DIR/ca.key
# (made by `ca`, or by `dev`, which makes the CA only if it is missing).
#
# The identity is in the subject: CN = the node id or user name, OU = the
# role (node, admin or viewer), O = troupe. troupe maps OU to a permission
# (runtime/auth.hpp): node and admin may do everything, viewer only reads.
# A node certificate also gets subjectAltNames for 127.0.0.1, localhost and
# each ADDR (an IP or DNS name); CAF does not check them today, but a future
# hostname check would. Keys are EC P-256, unencrypted, mode 0600: anyone who
# can read a key file holds that identity.
set -eu

dir=./tls
if [ "${1:-}" = "-d" ]; then
  [ $# -ge 2 ] || { echo "make-certs.sh: -d needs a directory" >&2; exit 2; }
  dir=$2
  shift 2
fi
usage() {
  sed -n '5,8p' "$0" | sed 's/^# *//' >&2
  exit 2
}
[ $# -ge 1 ] || usage
mkdir -p "$dir"
umask 077

valid_name() { # node ids and user names: [A-Za-z0-9][A-Za-z0-9._-]{0,62}
  printf '%s' "$1" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' || {
    echo "make-certs.sh: '$1' is not a valid name ([A-Za-z0-9][A-Za-z0-9._-]{0,62})" >&2
    exit 2
  }
}

make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/O=troupe/OU=ca/CN=troupe development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "$dir/ca.pem"
}

# sign NAME ROLE EXTENSIONS: key + CSR + certificate signed by the CA.
sign() {
  [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] || {
    echo "make-certs.sh: $dir/ca.pem or $dir/ca.key missing; run 'make-certs.sh -d $dir ca' first" >&2
    exit 1
  }
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$1.key" -out "$dir/$1.csr" -subj "/O=troupe/OU=$2/CN=$1" 2>/dev/null
  printf '%s\n' "$3" > "$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/$1.pem" -days 825 -sha256 \
    -extfile "$dir/$1.ext" 2>/dev/null
  rm -f "$dir/$1.csr" "$dir/$1.ext"
  echo "$dir/$1.pem"
}

make_node() {
  id=$1
  shift
  valid_name "$id"
  san="IP:127.0.0.1,DNS:localhost"
  for a in "$@"; do
    if printf '%s' "$a" | grep -Eq '^[0-9.]+$|:'; then san="$san,IP:$a"; else san="$san,DNS:$a"; fi
  done
  sign "$id" node "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san"
}

make_client() {
  valid_name "$1"
  case "$2" in
    admin|viewer) ;;
    *) echo "make-certs.sh: role must be admin or viewer, not '$2'" >&2; exit 2 ;;
  esac
  sign "$1" "$2" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
}

cmd=$1
shift
case "$cmd" in
  ca) [ $# -eq 0 ] || usage; make_ca ;;
  node) [ $# -ge 1 ] || usage; make_node "$@" ;;
  client) [ $# -eq 2 ] || usage; make_client "$1" "$2" ;;
  dev)
    [ $# -ge 1 ] || usage
    [ -f "$dir/ca.pem" ] || make_ca
    for id in "$@"; do make_node "$id"; done
    make_client admin admin
    make_client viewer viewer
    ;;
  *) usage ;;
esac
