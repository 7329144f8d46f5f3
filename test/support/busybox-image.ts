// A test image from this machine's own programs (no registry can be reached here): busybox,
// and PHP when asked, with the shared libraries they load, imported into the test engine with
// `docker import`. Tagged by the binaries it is built from, so that a stale image is never used.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import { ensureImportedImage } from "./docker.ts";
import { requireProgram } from "./programs.ts";

/** A program and the shared libraries it loads, as ldd lists them. */
function withLibraries(program: string): string[] {
  const out = spawnSync("ldd", [program], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`ldd ${program} failed: ${out.stderr}`);
  const libraries = [...out.stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
  return [program, ...libraries];
}

/** A root file system with busybox (and php when asked), its libraries and a passwd with www-data. */
function buildRootfs(tarFile: string, withPhp: boolean): void {
  const busybox = requireProgram("busybox", "busybox");
  const stage = mkdtempSync(join(tmpdir(), "bastide-test-rootfs-"));
  // The image's / is this folder: mkdtemp's 0700 would shut every other user out.
  chmodSync(stage, 0o755);
  try {
    const php = withPhp ? spawnSync("readlink", ["-f", requireProgram("php", "php-cli")], { encoding: "utf8" }).stdout.trim() : undefined;
    for (const file of new Set([...withLibraries(busybox), ...(php ? withLibraries(php) : [])])) {
      mkdirSync(join(stage, dirname(file)), { recursive: true });
      copyFileSync(file, join(stage, file));
      chmodSync(join(stage, file), 0o755);
    }
    mkdirSync(join(stage, "bin"), { recursive: true });
    copyFileSync(busybox, join(stage, "bin/busybox"));
    chmodSync(join(stage, "bin/busybox"), 0o755);
    const applets = spawnSync(busybox, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox");
    for (const applet of applets) if (!existsSync(join(stage, "bin", applet))) symlinkSync("busybox", join(stage, "bin", applet));
    if (php) {
      symlinkSync(php, join(stage, "usr/bin/php"));
      // PHP reads its default time zone's rules from tzdata; without them it warns on every run.
      for (const zone of ["UTC", "Etc/UTC"]) {
        mkdirSync(dirname(join(stage, "usr/share/zoneinfo", zone)), { recursive: true });
        copyFileSync(join("/usr/share/zoneinfo", zone), join(stage, "usr/share/zoneinfo", zone));
      }
    }
    mkdirSync(join(stage, "etc"), { recursive: true });
    mkdirSync(join(stage, "tmp"), { mode: 0o1777 });
    chmodSync(join(stage, "tmp"), 0o1777);
    writeFileSync(join(stage, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    writeFileSync(join(stage, "etc/group"), "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n");
    const tar = spawnSync("tar", ["--numeric-owner", "-C", stage, "-cf", tarFile, "."], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Tagged by what they are built from, so that a stale image is never used. */
function imageTag(withPhp: boolean): string {
  const hash = createHash("sha256").update("audit-rootfs/3");
  hash.update(readFileSync(requireProgram("busybox", "busybox")));
  if (withPhp) hash.update(readFileSync(requireProgram("php", "php-cli")));
  return hash.digest("hex").slice(0, 12);
}


/** The image's reference in the test engine, imported on first use: busybox's applets, www-data, and `php` when asked. */
export async function busyboxImage(docker: Docker, { php }: { php: boolean }): Promise<string> {
  const reference = `bastide-test/${php ? "php" : "busybox"}:${imageTag(php)}`;
  await ensureImportedImage(docker, reference, (file) => buildRootfs(file, php));
  return reference;
}
