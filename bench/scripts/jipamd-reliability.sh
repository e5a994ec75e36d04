#!/usr/bin/env bash
# Longer runs of jipamd's reliability tests than the normal suite's (docs/reliability.md):
# JipamdCrashIT (SIGKILL under 64 clients, restart, check) and JipamdFloodIT (flood past workers
# and queue). Builds ipam-server and what it needs in this tree.
#   bench/scripts/jipamd-reliability.sh [TRIALS] [FLOOD_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=${1:-500}
flood=${2:-60}
exec ./mvnw -B -ntp -q -pl ipam-server -am verify -Dtest=NoSuch -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test='JipamdCrashIT,JipamdFloodIT' -Dfailsafe.failIfNoSpecifiedTests=false \
  -Djipam.jipamd.crash.trials="$trials" -Djipam.jipamd.crash.seconds=$((trials * 10)) \
  -Djipam.jipamd.flood.seconds="$flood"
