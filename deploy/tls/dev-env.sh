# Source this (`. deploy/tls/dev-env.sh [DIR] [CLIENT]`) to point troupectl
# at the development certificates of `make run`: DIR defaults to ./tls,
# CLIENT (a certificate name in DIR, e.g. admin or viewer) to admin.
TROUPECTL_TLS_CA="${1:-tls}/ca.pem"
TROUPECTL_TLS_CERT="${1:-tls}/${2:-admin}.pem"
TROUPECTL_TLS_KEY="${1:-tls}/${2:-admin}.key"
export TROUPECTL_TLS_CA TROUPECTL_TLS_CERT TROUPECTL_TLS_KEY
