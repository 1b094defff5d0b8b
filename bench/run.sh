#!/usr/bin/env bash
# Runs the download benchmark from one command: installs what is missing,
# builds the benchmark clients in release mode, then hands over to bench.py,
# which starts nginx on 127.0.0.1 and prints the tables.
#
#   bench/run.sh            full run (7 runs per client, about 8 minutes on 2 cores)
#   bench/run.sh --quick    smoke run with small files and 2 runs
#   bench/run.sh --help     every option of bench.py
set -euo pipefail
cd "$(dirname "$0")/.."

# -- tools -------------------------------------------------------------------

# Python with requests: the distribution's interpreter first, as on a fresh
# Debian machine, else whichever python3 comes first on PATH.
find_python() {
    for candidate in /usr/bin/python3 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import requests' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
}

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v cc >/dev/null 2>&1 || [ -n "${CC:-}" ] || missing+=(gcc)
[ -x /usr/bin/time ] || missing+=(time)
[ -n "$(find_python)" ] || missing+=(python3-requests)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "run.sh: missing ${missing[*]}; install them with your package manager" >&2
        exit 1
    fi
    echo "run.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    # Debian and Ubuntu call the small build nginx-light; others only have nginx.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]/nginx-light/nginx}" >/dev/null
    fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PYTHON=$(find_python)

# -- build -------------------------------------------------------------------

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "run.sh: building the Rust client (cargo bench --no-run) in $CARGO_TARGET_DIR" >&2
RUST_BIN=$(cargo bench --bench download --no-run --message-format=json 2>/dev/null \
    | "$PYTHON" -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "download" and message.get("executable"):
        print(message["executable"])
')
if [ -z "$RUST_BIN" ]; then
    # Show the compiler errors.
    cargo bench --bench download --no-run >&2
    echo "run.sh: building the benchmark client failed" >&2
    exit 1
fi

# The C library is a final artifact, so it is built as one would ship it:
# release mode with TRACE logging compiled out.
echo "run.sh: building the C library and bench/c_client.c" >&2
cargo build --release --lib --features release-max-log-debug --quiet
C_BIN="$CARGO_TARGET_DIR/bench-c-client"
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -pthread -Iinclude bench/c_client.c \
    -L"$CARGO_TARGET_DIR/release" -ltallyfy_files -Wl,-rpath,"$CARGO_TARGET_DIR/release" -o "$C_BIN"

exec "$PYTHON" bench/bench.py --rust-bin "$RUST_BIN" --c-bin "$C_BIN" \
    --nginx "$NGINX" --python "$PYTHON" "$@"
