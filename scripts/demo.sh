#!/usr/bin/env bash
# The newcomer's first command: a real OpenStack on 127.0.0.1, the runbooks' broken states seeded into it,
# and stackdoctor checking it. Needs root (it installs Debian's OpenStack packages the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
bash test/cloud/up.sh
bash test/cloud/seed.sh
# shellcheck disable=SC1091
set -a; . "${STACKDOCTOR_CLOUD_DIR:-/var/tmp/stackdoctor-cloud}/cloud.env"; set +a
echo
echo "== stackdoctor check (against the local cloud, with the seeded faults)"
set +e
node dist/cli/main.js check --os-cloud stackdoctor-admin \
  --set "nova-db=${STACKDOCTOR_NOVA_DB_URL}" --set confirm-after=0
code=$?
set -e
echo
echo "exit code ${code} (0 ok, 1 warning, 2 critical, 3 could not check)"
echo "next: node dist/cli/main.js fix --os-cloud stackdoctor-admin     # the plan; add --apply to repair"
echo "      bash test/cloud/seed.sh --undo                             # remove the seeded faults"
