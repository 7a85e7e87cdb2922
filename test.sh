#!/usr/bin/env bash
# Runs every test project and ends with one line: "N passed, N failed, N skipped".
#
# Tests that need PostgreSQL start a throwaway server of their own on a free loopback port (see
# tests/Testing/EphemeralPostgres.cs); this script only makes sure PostgreSQL is installed. Set
# ConnectionStrings__postgres to use a server you run instead.
set -uo pipefail
cd "$(dirname "$0")"

have_postgres() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if [ -z "${ConnectionStrings__postgres:-}" ] && ! have_postgres; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing PostgreSQL (Debian package) for the Postgres-backed tests..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || {
      echo "Could not install PostgreSQL; the Postgres-backed tests cannot run." >&2; exit 1; }
  else
    echo "PostgreSQL is needed: run 'sudo apt-get install postgresql', or set ConnectionStrings__postgres." >&2
    exit 1
  fi
fi

dotnet build Orchestration.sln -nologo -v quiet || { echo "Build failed."; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

log=$(mktemp)
# A test that hangs is stopped after 10 minutes and named (with a dump of its process) instead of holding CI until
# its time limit with nothing to show; the run then fails. The whole suite takes about 8 minutes.
dotnet test Orchestration.sln --no-build -nologo --blame-hang --blame-hang-timeout 10m 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Each test assembly prints "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ..." (or "Failed!  - ...").
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- Failed:/ {
    gsub(",", "");
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i + 1);
      if ($i == "Passed:") p += $(i + 1);
      if ($i == "Skipped:") s += $(i + 1);
    }
  }
  END { print p + 0, f + 0, s + 0 }' "$log")
rm -f "$log"

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run failed without reporting a failed test (a crash or a missing assembly): never report green
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
