// Synapse's image, ghcr.io/element-hq/synapse. Read in element-hq/synapse's docker/ folder.
//
// The v1.163.2 tag is not in the snapshot of element-hq/synapse that could be read here
// (it ends at v1.157.1, July 2026), so the image's start-up facts are read at v1.157.1;
// docker/start.py and the runtime stage of docker/Dockerfile last changed on 2026-06-24
// (#19877, poetry bump). The program itself is the PyPI release 1.163.2, which the Synapse
// tests run. Re-read these lines at the pinned tag when a snapshot that has it is at hand.
import type { ImageContract, Source } from "../image-contract.ts";

const at = (file: string, line: Source["line"]): Source => ({ repo: "element-hq/synapse", ref: "v1.157.1", file, line });

export const contract: ImageContract = {
  image: "synapse",
  tag: "v1.163.2",
  unverifiedDigest:
    "ghcr.io publishes no digest list, and neither the release notes of element-hq/synapse nor element-hq/ess-helm " +
    "(which pins the tag only, charts/matrix-stack/values.yaml) records one: pinned by its exact version tag.",
  user: {
    value: { name: "991", uid: 991, startsAsRoot: true },
    source: at("docker/start.py", "237-245"),
    note: "Started as root, start.py runs Synapse through `gosu 991:991` (or UID/GID when set); it has no passwd entry.",
  },
  init: {
    value: "/start.py (Python), which execs gosu then python -m synapse.app.homeserver",
    source: at("docker/Dockerfile", 206),
  },
  worksWithNoNewPrivileges: {
    value: true,
    source: at("docker/start.py", "310-317"),
    note: "gosu drops from root with setgroups/setgid/setuid calls; no setuid or file-capability binary is executed.",
  },
  capabilities: { value: [], source: at("docker/Dockerfile", "170-209"), note: "No capability beyond Docker's defaults (CHOWN, SETUID, SETGID are among them)." },
  writablePaths: {
    value: [{ path: "/data", provide: "volume" }],
    source: at("docker/README.md", 14),
    note: "\"the image expects a single volume, located at /data\": media store and signing key.",
  },
  dataPaths: { value: ["/data"], source: at("docker/README.md", "14-22") },
  configPaths: {
    value: ["$SYNAPSE_CONFIG_PATH"],
    source: at("docker/README.md", "112-113"),
    note: "run mode reads the config at SYNAPSE_CONFIG_PATH (default /data/homeserver.yaml); files it names (log config) sit beside it.",
  },
  env: {
    value: [
      "SYNAPSE_CONFIG_DIR",
      "SYNAPSE_CONFIG_PATH",
      "SYNAPSE_WORKER",
      "UID",
      "GID",
      "TZ",
      "SYNAPSE_HTTP_PROXY",
      "SYNAPSE_HTTPS_PROXY",
      "SYNAPSE_NO_PROXY",
      "SYNAPSE_SERVER_NAME",
      "SYNAPSE_REPORT_STATS",
      "SYNAPSE_DATA_DIR",
      "SYNAPSE_ENABLE_METRICS",
      "SYNAPSE_LOG_LEVEL",
      "SYNAPSE_LOG_SENSITIVE",
      "SYNAPSE_LOG_TESTING",
    ],
    source: at("docker/README.md", "108-121"),
    note: "run-mode variables (README 108-121); generate-mode ones read in docker/start.py 176-183 and docker/conf/log.config.",
  },
  allowsUserOverride: { value: true, source: at("docker/README.md", "116-118"), note: "\"If unset, and no user is set via docker run --user\"." },
  ports: {
    value: [
      { port: 8008, protocol: "tcp", purpose: "client-server (and federation) HTTP listener of the config's listeners" },
      { port: 8448, protocol: "tcp", purpose: "federation listener, when configured" },
    ],
    source: at("docker/Dockerfile", "199-201"),
    note: "Bastide's homeserver.yaml has one listener on 8008 (SYNAPSE_PORT).",
  },
  health: { value: "curl -fSs http://localhost:8008/health", source: at("docker/Dockerfile", "208-209") },
  documentedMemoryMb: {
    value: 1024,
    source: at("docs/setup/installation.md", 215),
    note: "\"At least 1GB of free RAM if you want to join large public rooms\": federated servers only; Bastide's limit_remote_rooms keeps them out.",
  },
};
