// Test images from this machine's Debian packages (no registry can be reached here): a root
// file system with the installed files of some packages and of everything they depend on (the
// dependency walk of scripts/test-images/prosody-rootfs.sh, for any packages), imported into
// the test engine with `docker import`, then finished by a `setup` script run with $root set
// (users, folders, an entrypoint). Tagged by the script, the setup and the packages' versions.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import type Docker from "dockerode";
import { ensureImportedImage } from "./docker.ts";

/** Written with ¤{ for bash's ${, which a template literal would take for its own. */
const ROOTFS_SCRIPT = String.raw`set -euo pipefail
out="$1"; setup="$2"; shift 2
stage=$(mktemp -d /tmp/bastide-rootfs-XXXXXX)
trap 'rm -rf "$stage"' EXIT
installed_provider() {
  local alternative name
  IFS='|' read -ra alternatives <<<"$1"
  for alternative in "¤{alternatives[@]}"; do
    name=$(sed -E 's/\(.*\)//; s/:any//; s/[[:space:]]//g' <<<"$alternative")
    [ -n "$name" ] || continue
    if [ "$(dpkg-query -W -f='¤{db:Status-Status}' "$name" 2>/dev/null)" = installed ]; then echo "$name"; return; fi
    dpkg-query -W -f='¤{db:Status-Status} ¤{Package} ¤{Provides}\n' 2>/dev/null |
      awk -v want="$name" '$1 == "installed" { for (i = 3; i <= NF; i++) { p = $i; gsub(/[,(].*/, "", p); if (p == want) { print $2; exit } } }' | grep . && return
  done
  return 0
}
declare -A seen=()
queue=("$@")
while [ ¤{#queue[@]} -gt 0 ]; do
  package=¤{queue[0]}; queue=("¤{queue[@]:1}")
  [ -z "¤{seen[$package]:-}" ] || continue
  seen[$package]=1
  echo "$package" >>"$stage/packages"
  while IFS= read -r dependency; do
    [ -n "¤{dependency// /}" ] || continue
    provider=$(installed_provider "$dependency")
    [ -z "$provider" ] || queue+=("$provider")
  done < <(dpkg-query -W -f='¤{Pre-Depends},¤{Depends}\n' "$package" | tr ',' '\n')
done
root="$stage/root"
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$root/$dir"; done
sort -u "$stage/packages" | while read -r package; do dpkg -L "$package"; done | sort -u |
  while read -r path; do if [ -L "$path" ] || [ -f "$path" ]; then printf '%s\n' "¤{path#/}"; fi; done >"$stage/files"
tar -C / --no-recursion -cf - -T "$stage/files" | tar -C "$root" -xf -
# Debian points awk at mawk and sh at dash through links no package lists.
[ -e "$root/usr/bin/awk" ] || [ ! -e "$root/usr/bin/mawk" ] || ln -s mawk "$root/usr/bin/awk"
[ -e "$root/usr/bin/sh" ] || [ ! -e "$root/usr/bin/dash" ] || ln -s dash "$root/usr/bin/sh"
mkdir -p "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
export root
bash -c "$setup"
tar --numeric-owner -C "$root" -cf "$out" .
`.replaceAll("¤{", "${");

export interface DebianImage {
  /** Repository part of the reference; the tag is derived. */
  name: string;
  /** Installed packages to copy, with their dependencies. */
  packages: string[];
  /** Bash run after the copy, with $root the image's root folder. */
  setup?: string;
  /** Dockerfile instructions for the import (ENTRYPOINT, ENV...). */
  changes?: string[];
}

export async function debianImage(docker: Docker, image: DebianImage): Promise<string> {
  const versions = spawnSync("dpkg-query", ["-W", "-f=${Package}=${Version}\n", ...image.packages], { encoding: "utf8" });
  if (versions.status !== 0) throw new Error(`missing packages for the ${image.name} test image: apt-get install ${image.packages.join(" ")} (CI's .ci/run does)`);
  const tag = createHash("sha256").update(ROOTFS_SCRIPT).update(image.setup ?? "").update(JSON.stringify(image.changes ?? [])).update(versions.stdout).digest("hex").slice(0, 16);
  const reference = `${image.name}:${tag}`;
  await ensureImportedImage(
    docker,
    reference,
    (tarFile) => {
      const built = spawnSync("bash", ["-c", ROOTFS_SCRIPT, "rootfs", tarFile, image.setup ?? "", ...image.packages], { encoding: "utf8", timeout: 10 * 60_000 });
      if (built.status !== 0) throw new Error(`building the ${image.name} test image failed (${built.status ?? built.signal}): ${built.stderr}`);
    },
    image.changes ?? [],
  );
  return reference;
}
