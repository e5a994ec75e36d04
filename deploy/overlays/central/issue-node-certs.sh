#!/bin/sh
# Gives every node (or the nodes named) its own client certificate for the central jipamd:
# subject CN = the node's name (what the central jipamd takes as the caller's node), signed by the
# nodes' CA (the ca.crt of the Secret jipamd-tls). For each node it creates the Secret
# jipam-node-tls-<node> (ca.crt: the CA of jipamd's server certificate, tls.crt, tls.key) and runs
# the Job of node-cert-install-job.yaml on that node, which puts the files into the node's
# /etc/jipam/node-tls, where the node's jipamd (DaemonSet jipam-node) reads them.
#
#   deploy/overlays/central/issue-node-certs.sh NODES_CA.pem NODES_CA.key SERVER_CA.pem [NODE...]
#
# Run it again for a node that joins, and before a certificate expires (DAYS, default 365). Keys
# never leave this machine except inside their node's Secret. The Job runs the image the overlay's
# kustomization.yaml names (images: newName:newTag), or IMAGE when set: kustomize does not see the
# Job, which this script applies itself.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 NODES_CA.pem NODES_CA.key SERVER_CA.pem [NODE...]" >&2; exit 2; }
ca=$1 cakey=$2 serverca=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
days=${DAYS:-365}
kustomized() { sed -n "s/^ *$1: *//p" "$here/kustomization.yaml" | head -n 1 | tr -d "\"'"; }
image=${IMAGE:-$(kustomized newName):$(kustomized newTag)}
case $image in
  :*|*: | *[!A-Za-z0-9./:@_-]*) echo "$0: image \"$image\" is not an image reference: set IMAGE" >&2; exit 2 ;;
esac
nodes=${*:-$(kubectl get nodes -o jsonpath='{.items[*].metadata.name}')}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The Job's name is also the value of a label on its pods, at most 63 characters: for a longer node
# name it is the first part of jipam-node-tls-<node> and a hash of the whole node name.
job_name() {
  name=jipam-node-tls-$1
  if [ ${#name} -le 63 ]; then echo "$name"; return; fi
  echo "$(printf '%s' "$name" | cut -c1-52 | sed 's/[.-]*$//')-$(printf '%s' "$1" | sha256sum | cut -c1-10)"
}
skipped=
for node in $nodes; do
  # the central jipamd takes a node's name from its certificate's CN, which X.509 bounds at 64
  # characters: such a node cannot get a certificate here (the others still do)
  if [ ${#node} -gt 64 ]; then
    echo "node $node: not issued: its name has ${#node} characters, a certificate's CN at most 64" >&2
    skipped="$skipped $node"
    continue
  fi
  job=$(job_name "$node")
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$node" \
      -keyout "$work/$node.key" -out "$work/$node.csr" 2>"$work/openssl.err" \
      || { cat "$work/openssl.err" >&2; echo "node $node: openssl could not make its key and request" >&2; exit 1; }
  printf 'extendedKeyUsage=clientAuth\n' > "$work/ext"
  # the serial file in the work folder, not beside the CA (which may be read-only, or a Secret's)
  openssl x509 -req -in "$work/$node.csr" -CA "$ca" -CAkey "$cakey" -CAserial "$work/ca.srl" -CAcreateserial \
      -days "$days" -extfile "$work/ext" -out "$work/$node.crt" 2>"$work/openssl.err" \
      || { cat "$work/openssl.err" >&2; echo "node $node: openssl could not sign its certificate" >&2; exit 1; }
  kubectl -n jipam create secret generic "jipam-node-tls-$node" --from-file=ca.crt="$serverca" \
      --from-file=tls.crt="$work/$node.crt" --from-file=tls.key="$work/$node.key" \
      --dry-run=client -o yaml | kubectl apply -f -
  kubectl -n jipam delete job "$job" --ignore-not-found
  sed -e "s/__JOB__/$job/g" -e "s/__NODE__/$node/g" -e "s|__IMAGE__|$image|g" "$here/node-cert-install-job.yaml" \
    | kubectl apply -f -
  echo "node $node: certificate CN=$node, Secret jipam-node-tls-$node, installed by Job $job"
done
if [ -n "$skipped" ]; then
  echo "not issued (names over 64 characters):$skipped" >&2
  exit 1
fi
