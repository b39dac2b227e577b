#!/bin/sh
# netns-run.sh CMD ARGS...: runs CMD in a loopback-only network namespace when the machine allows one
# (root, or unprivileged user namespaces), so nothing it starts can reach anything but 127.0.0.1.
# Otherwise it warns once on stderr and runs CMD directly; the offline environment (ANTHROPIC_BASE_URL
# on the mock, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1) then keeps the CLI on loopback.
# The exit status is CMD's.
#
# CCB_NETNS=0 skips the namespace (and the warning) altogether.
if [ $# -eq 0 ]; then
  echo "usage: netns-run.sh CMD [ARGS...]" >&2
  exit 2
fi

# Already inside one of our namespaces (nested call): just run.
if [ "${CCB_IN_NETNS:-}" = 1 ] || [ "${CCB_NETNS:-1}" = 0 ]; then
  exec "$@"
fi

# Script run inside the new namespace: brings lo up (ip, ifconfig or busybox), then execs "$@".
# $CCB_NETNS_REMAP, when set, is a command prefix that maps the user back to the real uid/gid.
lo_up='
if command -v ip >/dev/null 2>&1; then
  ip link set lo up || exit 97
elif command -v ifconfig >/dev/null 2>&1; then
  ifconfig lo 127.0.0.1 up || exit 97
elif command -v busybox >/dev/null 2>&1; then
  busybox ip link set lo up 2>/dev/null || busybox ifconfig lo 127.0.0.1 up || exit 97
else
  echo "netns-run: no ip, ifconfig or busybox to bring lo up" >&2
  exit 97
fi
export CCB_IN_NETNS=1
remap=${CCB_NETNS_REMAP:-}
unset CCB_NETNS_REMAP
exec $remap "$@"'

if command -v unshare >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    # Root: a plain network namespace.
    if unshare -n sh -c "$lo_up" sh true 2>/dev/null; then
      exec unshare -n sh -c "$lo_up" sh "$@"
    fi
  else
    # Not root: an unprivileged user namespace (as root inside it, to bring lo up), then a nested
    # user namespace that maps back to the real uid/gid so CMD does not run as root.
    export CCB_NETNS_REMAP="unshare --map-user=$(id -u) --map-group=$(id -g) --"
    if unshare -r -n sh -c "$lo_up" sh true 2>/dev/null; then
      exec unshare -r -n sh -c "$lo_up" sh "$@"
    fi
    unset CCB_NETNS_REMAP
  fi
fi

echo "netns-run: no network namespace available (not root or unshare refused); running with loopback-only traffic by configuration" >&2
exec "$@"
