#!/usr/bin/env bash
# The main job: a COLO pair of a small Linux guest whose only networking is
# colo-proxy, a client load with live figures, a failover of the primary
# while a TCP connection is open, service going on.  Ends by itself and
# removes its namespaces and processes; prints where its logs are.
#
# usage: project/demo.sh BUILD_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
echo "== colo-proxy demo: a primary and a secondary QEMU (TCG) run one guest"
echo "   under COLO; the guest boots in about half a minute"
exec /usr/bin/python3 "$top/project/e2e/colo_e2e.py" "$1" --demo \
    --cmdline --scenario primary-lost
