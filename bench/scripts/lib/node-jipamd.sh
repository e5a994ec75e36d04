# Sourced by the scripts that measure a node's jipamd through the shim (shim.sh, jipamd-cni-calls.sh):
# node_jipamd_start WORK NETWORK starts dist/bin/jipamd on WORK/j.sock (file store in WORK/jd, one
# line per call in WORK/jipamd.log), waits until it is ready and sets jipamd_pid and conf (a network
# NETWORK on 198.18.0.0/24 in daemon mode); call COMMAND ID runs the shim once with that config;
# warm_up PAIRS sends untimed ADD+DEL pairs. node_jipamd_work NAME makes the work folder (work, under
# /tmp) and the EXIT trap that kills the jipamd and removes the folder.
jipamd_pid=
node_jipamd_work() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  # each step may fail (jipamd gone already) without ending the trap before the folder goes; jipamd
  # writes its file store's stamps back as it stops, so the folder goes once it has exited
  trap '[ -z "$jipamd_pid" ] || { kill "$jipamd_pid" 2>/dev/null; wait "$jipamd_pid" 2>/dev/null; } || true; rm -rf "$work"' EXIT
}
node_jipamd_start() {
  dist/bin/jipamd --socket "$1/j.sock" --store file --data-dir "$1/jd" --log-calls 2> "$1/jipamd.log" &
  jipamd_pid=$!
  for _ in $(seq 600); do grep -q " jipamd ready" "$1/jipamd.log" && break; sleep 0.1; done
  grep -q " jipamd ready" "$1/jipamd.log" || { echo "jipamd not ready within 60 s:" >&2; cat "$1/jipamd.log" >&2; exit 1; }
  conf='{"cniVersion":"1.0.0","name":"'$2'","ipam":{"type":"jipam","daemon":{"socket":"'$1/j.sock'"},"subnet":"198.18.0.0/24"}}'
  export CNI_IFNAME=eth0 CNI_NETNS=/var/run/netns/x CNI_PATH=/usr/lib/cni
}
call() { CNI_COMMAND=$1 CNI_CONTAINERID=$2 dist/bin/jipam <<< "$conf" > /dev/null; }
warm_up() { for i in $(seq "$1"); do call ADD "w$i"; call DEL "w$i"; done; }
