#!/bin/sh
# CoreDog node setup: sets kernel.core_pattern (and, when asked, fs.suid_dumpable) on this node and logs the
# values it replaces. Runs as a privileged init container of the watcher DaemonSet, so once per node and again
# after each reboot (/proc/sys is not persistent). kernel.core_pattern is one global setting per node, not per
# container: this replaces systemd-coredump or apport on the node.
#
# Environment: COREDOG_CORE_PATTERN (required), COREDOG_SUID_DUMPABLE (empty: leave alone), NODE_NAME,
# COREDOG_PROC_SYS (/proc/sys; the tests point it at a directory of their own).
set -eu

proc_sys="${COREDOG_PROC_SYS:-/proc/sys}"
node="${NODE_NAME:-$(hostname)}"

# logfmt like the watcher and the webhook: level, msg, then fields; values quoted with \ and " escaped.
quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}
log() {
  echo "level=$1 msg=$(quote "$2") component=node-setup node=$(quote "$node")${3:+ $3}"
}

# set_value NAME PATH VALUE: writes VALUE to $proc_sys/PATH unless it is there already, then reads it back.
set_value() {
  file="$proc_sys/$2"
  if ! previous="$(cat "$file")"; then
    log error "cannot read $1" "file=$(quote "$file")"
    exit 1
  fi
  if [ "$previous" = "$3" ]; then
    log info "$1 already set" "value=$(quote "$3")"
    return 0
  fi
  if ! printf '%s\n' "$3" >"$file"; then
    log error "cannot write $1; the init container must be privileged" "file=$(quote "$file") previous=$(quote "$previous")"
    exit 1
  fi
  now="$(cat "$file")"
  if [ "$now" != "$3" ]; then
    log error "$1 did not take the value" "wanted=$(quote "$3") now=$(quote "$now")"
    exit 1
  fi
  log info "$1 set" "previous=$(quote "$previous") value=$(quote "$3")"
}

pattern="${COREDOG_CORE_PATTERN:-}"
case "$pattern" in
/*) ;;
"")
  log error "COREDOG_CORE_PATTERN is empty; set nodeSetup.corePattern"
  exit 1
  ;;
*)
  log error "refusing kernel.core_pattern: CoreDog needs the kernel to write files to an absolute path such as /corefile/core.%e.%p.%h.%t (a | pipes cores away from the pod)" "value=$(quote "$pattern")"
  exit 1
  ;;
esac
# The kernel keeps at most 127 bytes (CORENAME_MAX_SIZE) and would cut the rest silently.
if [ "$(printf '%s' "$pattern" | wc -c)" -gt 127 ]; then
  log error "refusing kernel.core_pattern longer than 127 bytes" "value=$(quote "$pattern")"
  exit 1
fi
set_value kernel.core_pattern kernel/core_pattern "$pattern"

dumpable="${COREDOG_SUID_DUMPABLE:-}"
case "$dumpable" in
"") ;;
0 | 1 | 2) set_value fs.suid_dumpable fs/suid_dumpable "$dumpable" ;;
*)
  log error "refusing fs.suid_dumpable: it is 0, 1 or 2" "value=$(quote "$dumpable")"
  exit 1
  ;;
esac
