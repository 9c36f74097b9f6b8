#!/usr/bin/env bash
# PostgreSQL and Redis for tests/e2e/test_celery_deployment.py (CeleryExecutor on PostgreSQL + Redis).
# Installs them from Debian's packages when they are missing and this runs as root (as CI does);
# otherwise says how, and that test is skipped with that reason.
set -euo pipefail
have() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; }
if have; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing postgresql and redis-server (Debian packages) for the Celery deployment test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql redis-server >/dev/null
  # The packages may start their own servers: the test starts throwaway ones of its own.
  service postgresql stop >/dev/null 2>&1 || true
  service redis-server stop >/dev/null 2>&1 || true
else
  echo "PostgreSQL or Redis missing: the Celery deployment test will be skipped" \
       "(sudo apt-get install postgresql redis-server to run it)"
fi
