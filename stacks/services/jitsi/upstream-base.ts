// What the four docker-jitsi-meet images share, read from jitsi/docker-jitsi-meet at the
// pinned tag: one base image (Debian, s6-overlay, an unprivileged user), the same /run
// tmpfs in upstream's compose file. Each image's own contract (stacks/services/upstream/
// jitsi-*.ts) adds what is its own.
import type { Fact, ImageContract, Source, WritablePath } from "../image-contract.ts";

/** The docker-jitsi-meet release the four images are pinned at. */
export const JITSI_RELEASE = "stable-11146-2";

export const dockerJitsiMeet = (file: string, line?: Source["line"]): Source => ({
  repo: "jitsi/docker-jitsi-meet",
  ref: JITSI_RELEASE,
  file,
  ...(line === undefined ? {} : { line }),
});

/** s6-overlay's own sources, at the version docker-jitsi-meet's base image installs. */
const S6_OVERLAY_VERSION = "v3.2.3.0";
const s6Overlay = (file: string, line?: Source["line"]): Source => ({
  repo: "just-containers/s6-overlay",
  ref: S6_OVERLAY_VERSION,
  file,
  ...(line === undefined ? {} : { line }),
});

/** The base image's user: `adduser ... s6`, then `USER s6`; every image built on it ends with `USER s6`. */
export const JITSI_USER = { name: "s6", uid: 1000, gid: 1000 } as const;

export const user: Fact<{ name: string; uid: number; startsAsRoot: boolean }> = {
  value: { name: JITSI_USER.name, uid: JITSI_USER.uid, startsAsRoot: false },
  source: dockerJitsiMeet("base/Dockerfile", "56-72"),
  note:
    "`adduser --disabled-password --gecos \"\" s6` (line 56), `USER s6` (line 72); the uid is the first " +
    "Debian assigns, 1000, which base/rootfs/usr/bin/check-writable line 5 states: \"The containers run as " +
    "an unprivileged user (uid 1000)\".",
};

export const init: Fact<string> = {
  value: "s6-overlay v3.2.3.0 (/init), S6_READ_ONLY_ROOT=1",
  source: dockerJitsiMeet("base/Dockerfile", "4-74"),
  note: "S6_OVERLAY_VERSION=v3.2.3.0 (line 4), ENV S6_READ_ONLY_ROOT=1 (line 12), ENTRYPOINT [ \"/init\" ] (line 74).",
};

/**
 * Upstream's compose file gives every container `tmpfs: /run:size=16M,mode=1750,exec`.
 * That tmpfs belongs to root: upstream relies on s6-overlay-suexec, setuid root, to run
 * preinit as root, which then hands /run to the container's user. Under no-new-privileges
 * the setuid bit is ignored, preinit runs as uid 1000 and refuses a /run that belongs to
 * root with mode 1750. Bastide keeps no-new-privileges and mounts the same tmpfs owned by
 * the image's user, which preinit accepts as is.
 */
export const RUN_TMPFS_UPSTREAM_OPTIONS = "size=16M,mode=1750,exec";
export const RUN_TMPFS_OPTIONS = `${RUN_TMPFS_UPSTREAM_OPTIONS},uid=${JITSI_USER.uid},gid=${JITSI_USER.gid}`;

export const runTmpfs: WritablePath = {
  path: "/run",
  provide: "tmpfs",
  tmpfsOptions: RUN_TMPFS_UPSTREAM_OPTIONS,
  ownerUnderNoNewPrivileges: { uid: JITSI_USER.uid, gid: JITSI_USER.gid },
};

/** Where the compose file declares each service's /run tmpfs. */
export const composeRunTmpfs = (line: `${number}-${number}`): Source => dockerJitsiMeet("docker-compose.yml", line);

/** Bastide names the image's own user (uid 1000), so /run's owner and the process's user are one and the same. */
export const allowsUserOverride: Fact<boolean> = {
  value: true,
  source: dockerJitsiMeet("base/Dockerfile", 72),
  note: "`USER s6`: the image already runs as uid 1000 and starts nothing as root, so naming that uid changes no user, only makes it explicit.",
};

export const worksWithNoNewPrivileges: Fact<boolean> = {
  value: true,
  source: s6Overlay("layout/rootfs-overlay/package/admin/s6-overlay-@VERSION@/libexec/preinit", "50-121"),
  note:
    "/init runs preinit through s6-overlay-suexec (layout/rootfs-overlay/init lines 42-49), setuid root, which " +
    "no-new-privileges disables; preinit then runs as the container user and only needs /run to be a writable, " +
    "exec tmpfs that belongs to that user (lines 57-60 and 94: no fix-up when /run's uid is the user's).",
};

export const noCapabilities: Fact<string[]> = {
  value: [],
  source: dockerJitsiMeet("docker-compose.yml"),
  note: "Upstream's compose file adds no cap_add to web, prosody, jicofo or jvb; they run as uid 1000 and bind ports above 1024.",
};

/** What the four s6-overlay images share: the release, the user, the init and what it needs. */
export const s6ImageFacts = {
  tag: JITSI_RELEASE,
  user,
  init,
  worksWithNoNewPrivileges,
  allowsUserOverride,
  capabilities: noCapabilities,
} satisfies Partial<ImageContract>;
