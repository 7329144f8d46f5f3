// The smallest image a test container needs to run `sleep` and `cat`: this machine's busybox
// and the libraries it loads, imported into the test Docker engine (no registry here).
// Tagged by busybox's own bytes, so a stale image is never used.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import { ensureImportedImage } from "./docker.ts";
import { requireProgram } from "./programs.ts";

function withLibraries(program: string): string[] {
  const out = spawnSync("ldd", [program], { encoding: "utf8" });
  // A static busybox has no libraries: ldd says so and exits non-zero.
  if (out.status !== 0) return [program];
  return [program, ...[...out.stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!)];
}

function buildRootfs(tarFile: string): void {
  const busybox = requireProgram("busybox", "busybox");
  const stage = mkdtempSync(join(tmpdir(), "bastide-busybox-rootfs-"));
  chmodSync(stage, 0o755);
  try {
    for (const file of withLibraries(busybox)) {
      mkdirSync(join(stage, dirname(file)), { recursive: true });
      copyFileSync(file, join(stage, file));
      chmodSync(join(stage, file), 0o755);
    }
    mkdirSync(join(stage, "bin"), { recursive: true });
    copyFileSync(busybox, join(stage, "bin/busybox"));
    chmodSync(join(stage, "bin/busybox"), 0o755);
    for (const applet of ["sh", "cat", "sleep", "mkdir", "rm"]) if (!existsSync(join(stage, "bin", applet))) symlinkSync("busybox", join(stage, "bin", applet));
    mkdirSync(join(stage, "etc"), { recursive: true });
    mkdirSync(join(stage, "tmp"), { mode: 0o1777 });
    writeFileSync(join(stage, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(stage, "etc/group"), "root:x:0:\n");
    const tar = spawnSync("tar", ["--numeric-owner", "-C", stage, "-cf", tarFile, "."], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The image's reference, built once per busybox. */
export async function busyboxImage(docker: Docker): Promise<string> {
  const tag = createHash("sha256").update("busybox-rootfs/1").update(readFileSync(requireProgram("busybox", "busybox"))).digest("hex").slice(0, 12);
  const reference = `bastide-test/busybox:${tag}`;
  await ensureImportedImage(docker, reference, buildRootfs);
  return reference;
}
