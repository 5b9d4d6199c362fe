#!/usr/bin/env bash
# Initialise a SoftHSM2 token for kmiphsm, idempotently.
#
#   softhsm/init-token.sh DIR LABEL
#
# Creates DIR/tokens, DIR/softhsm2.conf (from softhsm2.conf.in), random PINs in
# DIR/user-pin and DIR/so-pin (mode 600, never printed), and a token LABEL in a free
# slot unless a token with that label exists already. Prints nothing but errors.
# Used by `make serve` (DIR=var/softhsm), `make test` and the test suite (a temporary DIR).
set -euo pipefail
dir=${1:?usage: init-token.sh DIR LABEL}
label=${2:?usage: init-token.sh DIR LABEL}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v softhsm2-util >/dev/null 2>&1; then
  echo "init-token.sh: softhsm2-util not found; install Debian's softhsm2 package (apt-get install softhsm2)" >&2
  exit 1
fi

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
umask 077
if [ ! -f "$dir/softhsm2.conf" ]; then
  sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" > "$dir/softhsm2.conf"
fi
for f in user-pin so-pin; do
  if [ ! -s "$dir/$f" ]; then
    od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$dir/$f"
  fi
done
export SOFTHSM2_CONF="$dir/softhsm2.conf"
if softhsm2-util --show-slots 2>/dev/null | grep -q "Label:[[:space:]]*$label[[:space:]]*$"; then
  exit 0
fi
softhsm2-util --init-token --free --label "$label" \
  --so-pin "$(cat "$dir/so-pin")" --pin "$(cat "$dir/user-pin")" >/dev/null
