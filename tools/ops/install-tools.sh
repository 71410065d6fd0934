#!/usr/bin/env bash
# Installs what `npm run test:ops` needs beyond RabbitMQ and Redis, idempotently:
#   - promtool, from Debian's prometheus package unpacked into .cache/ops/prometheus
#     (no Prometheus server is installed or run);
#   - Debian's Chromium (/usr/bin/chromium) for the browser test, when missing.
# Needs root or passwordless sudo only when Chromium is missing.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${ROOT}/.cache/ops"
PROMTOOL="${CACHE}/prometheus/usr/bin/promtool"

as_root() {
  if [[ ${EUID} -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else "$@"; fi
}

if [[ ! -x ${PROMTOOL} ]]; then
  mkdir -p "${CACHE}/deb"
  (cd "${CACHE}/deb" && apt-get download prometheus >/dev/null 2>&1)
  dpkg -x "$(ls "${CACHE}"/deb/prometheus_*.deb | head -n 1)" "${CACHE}/prometheus"
fi
"${PROMTOOL}" --version 2>&1 | head -n 1

if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
chromium --version
