// What Bastide relies on about an upstream image, read from that image's own sources at
// the pinned tag (principle 6 of the design notes: the real program is the judge).
//
// Each image's contract is one file of stacks/services/upstream/, named after its key in
// IMAGES (upstream/index.ts maps them). The image-contract test holds each container of
// each blueprint to its image's contract, so an upgrade re-reads upstream instead of
// guessing, and a blueprint that drifts from what the image expects fails a test before a
// real `pulumi up` would.

/** Where a fact was read: a public repository, at a tag or commit, a file and a line. */
export interface Source {
  /** owner/name of the public repository, e.g. "jitsi/docker-jitsi-meet". */
  repo: string;
  /** The tag (or commit) matching the pinned image, e.g. "stable-11146". */
  ref: string;
  /** Path inside the repository. */
  file: string;
  /** Line, or first-last lines, of the fact. */
  line?: number | `${number}-${number}`;
}

/** One upstream fact and where it was read. */
export interface Fact<T> {
  value: T;
  source: Source;
  /** Why Bastide cares, or what the source says in words, where the value alone is not clear. */
  note?: string;
}

export interface PortFact {
  /** The port upstream listens on by default. */
  port: number;
  protocol: "tcp" | "udp";
  /** What listens there. */
  purpose: string;
  /**
   * Where the listening port is chosen, when upstream lets it move: an environment
   * variable the image reads, or a `key = value` line of a file Bastide uploads.
   */
  configuredBy?: { env: string } | { file: string; key: string };
}

/** A path the image must be able to write at run time, and how Bastide provides it. */
export interface WritablePath {
  path: string;
  /** "volume": persisted data; "tmpfs": scratch the image recreates at every start. */
  provide: "volume" | "tmpfs";
  /** tmpfs mount options upstream uses, e.g. "size=16M,mode=1750,exec". */
  tmpfsOptions?: string;
  /**
   * Who must own the tmpfs when the image cannot hand it over itself: upstream relies on a
   * setuid helper to chown it at start, which no-new-privileges disables, so Bastide mounts it
   * owned by the image's user (adds `uid=…,gid=…` to upstream's options).
   */
  ownerUnderNoNewPrivileges?: { uid: number; gid: number };
}

export interface ImageContract {
  /** Key in IMAGES (or "framadate" for the image Bastide builds). */
  image: string;
  /** The tag the facts were read at; must match the tag pinned in IMAGES. */
  tag: string;
  /**
   * Where the pinned digest was checked against a public record (for official images,
   * docker-library/repo-info's repos/<name>/remote/<tag>.md). Absent only with `unverifiedDigest`.
   */
  digest?: Fact<string>;
  /** Why no digest is pinned, where no public record of one could be found. */
  unverifiedDigest?: string;
  /** The user the main process runs as (name and uid), and how it gets there. */
  user: Fact<{ name: string; uid: number; startsAsRoot: boolean }>;
  /** The init system (s6-overlay, tini, docker-entrypoint.sh...). */
  init: Fact<string>;
  /**
   * Whether the image starts under `no-new-privileges` (no setuid/setcap binary needed at
   * start). Bastide keeps the option on wherever this is true.
   */
  worksWithNoNewPrivileges: Fact<boolean>;
  /** Capabilities beyond Docker's default set that the image needs. */
  capabilities: Fact<string[]>;
  /** Kernel settings of the container's namespace the image needs, with their values. */
  requiredSysctls?: Fact<Record<string, string>>;
  /** Paths the image writes at run time that Bastide must provide (volume or tmpfs). */
  writablePaths: Fact<WritablePath[]>;
  /** Where the image keeps the data that must survive a container replacement. */
  dataPaths: Fact<string[]>;
  /**
   * Where the image reads configuration files that Bastide uploads: a file, a folder (ending
   * in "/"), or `$VAR` for the folder of the path an environment variable names.
   */
  configPaths: Fact<string[]>;
  /** Environment variables the image (its entrypoint or templates) reads. */
  env: Fact<string[]>;
  /**
   * Variables read not by the image's start-up but by a program of the image that Bastide
   * runs in the container (e.g. redis-cli in a health check reads REDISCLI_AUTH).
   */
  envReadByCommands?: Fact<string[]>;
  /** Whether the image supports being started as another user (`docker run --user`). */
  allowsUserOverride?: Fact<boolean>;
  /** Ports the image listens on. */
  ports: Fact<PortFact[]>;
  /**
   * The health check upstream uses or documents, as a command line: an http(s) URL in it
   * names the path to probe; otherwise its first word names the program to run.
   */
  health?: Fact<string>;
  /**
   * The health check of another program the image runs when given as the container's
   * command, by the command's first word (e.g. a purge loop beside the web server).
   */
  healthByCommand?: Fact<Record<string, string>>;
  /** Memory upstream documents for the program, in MiB, where it documents any. */
  documentedMemoryMb?: Fact<number>;
}
