#!/usr/bin/env bash
# Builds a root file system with Debian's Prosody, for a test image made with
# `docker import` (no registry can be reached here, so no image can be pulled).
#
#   prosody-rootfs.sh OUT.tar              from this machine's installed packages (default)
#   prosody-rootfs.sh --debootstrap OUT.tar from Debian's mirror
#
# The default copies the files of the packages Prosody needs, as dpkg installed them
# on this machine (`apt-get install prosody`): no network, about 90 MB, a few seconds.
# --debootstrap builds a minimal Debian bookworm instead: about 270 MB and 35 s on a
# warm machine, and it needs the Debian mirror. Either way the image runs the same
# prosody and prosodyctl as the machine, which is what the provisioner's tests need.
set -euo pipefail
shopt -s inherit_errexit

mode=host
if [ "${1:-}" = "--debootstrap" ]; then mode=debootstrap; shift; fi
out="${1:?usage: prosody-rootfs.sh [--debootstrap] OUT.tar}"

stage=$(mktemp -d /tmp/bastide-rootfs-XXXXXX)
trap 'rm -rf "$stage"' EXIT

# Installed packages that satisfy `dependency`, an alternative list such as "a | b (>= 1)";
# virtual packages (lua5.4-socket) are resolved to the installed package providing them.
installed_provider() {
  local alternative name
  IFS='|' read -ra alternatives <<<"$1"
  for alternative in "${alternatives[@]}"; do
    name=$(sed -E 's/\(.*\)//; s/:any//; s/[[:space:]]//g' <<<"$alternative")
    [ -n "$name" ] || continue
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null)" = installed ]; then echo "$name"; return; fi
    # a virtual package: the first installed package that provides it
    dpkg-query -W -f='${db:Status-Status} ${Package} ${Provides}\n' 2>/dev/null |
      awk -v want="$name" '$1 == "installed" { for (i = 3; i <= NF; i++) { p = $i; gsub(/[,(].*/, "", p); if (p == want) { print $2; exit } } }' |
      grep . && return
  done
  return 0
}

# Prosody's dependency closure among installed packages, plus what Debian marks
# Essential and the image still needs: env (the scripts' #!) and a shell for debugging.
package_closure() {
  local -A seen=()
  local queue=(prosody coreutils dash) package dependency provider
  while [ ${#queue[@]} -gt 0 ]; do
    package=${queue[0]}
    queue=("${queue[@]:1}")
    [ -z "${seen[$package]:-}" ] || continue
    seen[$package]=1
    echo "$package"
    while IFS= read -r dependency; do
      [ -n "${dependency// /}" ] || continue
      provider=$(installed_provider "$dependency")
      [ -z "$provider" ] || queue+=("$provider")
    done < <(dpkg-query -W -f='${Pre-Depends},${Depends}\n' "$package" | tr ',' '\n')
  done
}

from_host() {
  command -v prosody >/dev/null || { echo "prosody is not installed: apt-get install prosody" >&2; exit 1; }
  local root="$stage/root"
  mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
  # Debian bookworm's merged /usr: /bin, /lib... are links into /usr, as on the host.
  for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$root/$dir"; done
  package_closure | sort -u >"$stage/packages"
  # Files and links only: a listed directory would bring every other package's files
  # along, and would replace the merged-/usr links. tar creates the parents.
  while read -r package; do dpkg -L "$package"; done <"$stage/packages" | sort -u |
    while read -r path; do if [ -L "$path" ] || [ -f "$path" ]; then printf '%s\n' "${path#/}"; fi; done >"$stage/files"
  tar -C / --no-recursion -cf - -T "$stage/files" | tar -C "$root" -xf -
  local uid gid
  uid=$(id -u prosody) gid=$(id -g prosody)
  mkdir -p "$root/etc" "$root/tmp" "$root/var/lib/prosody" "$root/run/prosody" "$root/var/log/prosody"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nprosody:x:%s:%s:Prosody XMPP Server:/var/lib/prosody:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$uid" "$gid" >"$root/etc/passwd"
  printf 'root:x:0:\nprosody:x:%s:\nnogroup:x:65534:\n' "$gid" >"$root/etc/group"
  chown "$uid:$gid" "$root/var/lib/prosody" "$root/run/prosody" "$root/var/log/prosody"
  echo "$root"
}

from_debootstrap() {
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed: apt-get install debootstrap" >&2; exit 1; }
  local root="$stage/root"
  # debootstrap does not resolve virtual packages: name the providers of Prosody's lua5.4-* needs.
  debootstrap --variant=minbase --include=prosody,lua-socket,lua-sec,lua-bitop bookworm "$root" http://deb.debian.org/debian >"$stage/debootstrap.log" 2>&1 ||
    { tail -20 "$stage/debootstrap.log" >&2; exit 1; }
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  echo "$root"
}

root=$("from_$mode")
tar --numeric-owner -C "$root" -cf "$out" .
