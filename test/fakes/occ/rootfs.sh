#!/usr/bin/env bash
# Builds the root file system of the fake occ's test image, for `docker import` (no registry
# can be reached here): this machine's PHP CLI (php-cli) and the libraries it links, an
# empty /var/www/html as in Nextcloud's image, and the www-data user (uid 33) occ runs as.
# The fake occ itself is not in the image: the test mounts it with its state.
#
#   rootfs.sh OUT.tar
set -euo pipefail

out="${1:?usage: rootfs.sh OUT.tar}"
php=$(command -v php) || { echo "php is not installed: apt-get install php-cli" >&2; exit 1; }
php=$(readlink -f "$php")

stage=$(mktemp -d /tmp/bastide-occ-rootfs-XXXXXX)
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"

copy() { # a file at the same path, its symlink chain resolved into a real file
  mkdir -p "$stage$(dirname "$1")"
  cp -L "$1" "$stage$1"
}

copy "$php"
ln -s "$(basename "$php")" "$stage$(dirname "$php")/php" 2>/dev/null || true
# The dynamic loader and every library php links, at the paths ld.so looks them up.
ldd "$php" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | sort -u | while read -r lib; do copy "$lib"; done

# PHP's timezone database is the system's (Debian's php); without UTC it warns on every start.
for zone in /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc/UTC; do copy "$zone"; done

mkdir -p "$stage/etc" "$stage/tmp" "$stage/var/www/html"
chmod 1777 "$stage/tmp"
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
EOF
chown 33:33 "$stage/var/www/html"

tar -C "$stage" --numeric-owner -cf "$out" .
