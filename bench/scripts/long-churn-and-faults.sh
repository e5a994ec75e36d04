#!/usr/bin/env bash
# Longer runs of issue 11's etcd-fault and sustained-churn tests than ./scripts/test makes:
# the fault sequence (follower kill, leader kill, leader SIGSTOP, quorum loss) ROUNDS times over,
# and the two churns (64 plugin processes on a file store, 16 nodes on etcd) for SECONDS each.
# Prints each test's summary (the fault table is also left in ipam-etcd/target/etcd-faults.md).
# Each test method is capped at 600 s by its @Timeout: keep ROUNDS <= 12 and SECONDS <= 400.
# Usage: bench/scripts/long-churn-and-faults.sh [ROUNDS [SECONDS]]   (defaults 5 and 120)
set -uo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
seconds=${2:-120}
log=$(mktemp /tmp/jipam-long-churn.XXXXXX)
./mvnw -B -ntp -q -DskipTests package || exit 1
./mvnw -B -ntp -pl ipam-etcd -am verify -Dit.test=EtcdClusterFaultsIT -Dtest=NoSuch -Dsurefire.failIfNoSpecifiedTests=false \
  -Dfailsafe.failIfNoSpecifiedTests=false -Djipam.etcdfaults.rounds="$rounds" >"$log" 2>&1
faults=$?
grep -E "^(etcd faults|etcd's own|\||  failed|  slowest)" "$log"
./mvnw -B -ntp -pl ipam-plugin-bin -am verify -Dit.test=SustainedChurnIT -Dtest=NoSuch \
  -Dsurefire.failIfNoSpecifiedTests=false -Dfailsafe.failIfNoSpecifiedTests=false \
  -Djipam.churn.seconds="$seconds" -Djipam.churn.etcdSeconds="$seconds" >>"$log" 2>&1
churn=$?
grep -E '^sustained churn' "$log"
if ((faults != 0 || churn != 0)); then
  grep -E '^\[ERROR\]' "$log" | head -40
  echo "FAILED (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
