// Redis's official image (Nextcloud's cache and file locks), redis:7.4.11-alpine: the
// newest release of the 7.4 line Nextcloud was set up with (docker-library/repo-info has
// no 7.4.12). Bastide runs it as a cache that never saves to disk.
//
// The built image is recorded by docker-library/repo-info for this tag and digest. The
// entrypoint was read in redis/docker-library-redis (where the image's sources moved), at
// the newest commit that could be read here (October 2024): it dropped privileges with
// gosu then; the 7.4.11 build installs setpriv for the same step.
import type { ImageContract, Source } from "../image-contract.ts";

const RECORD: Source = { repo: "docker-library/repo-info", ref: "1742085aa3304e996a45e00271d6b8308029b6e3", file: "repos/redis/remote/7.4.11-alpine.md" };
const entrypoint = (line: Source["line"]): Source => ({
  repo: "redis/docker-library-redis",
  ref: "e5650da99bb377b2ed4f9f1ef993ff24729b1c16",
  file: "7.4/alpine/docker-entrypoint.sh",
  line,
});
const DOCS: Source = { repo: "docker-library/docs", ref: "006c29db436f68079e8cde8f22cc8f4cbd2d992b", file: "redis/content.md" };

export const contract: ImageContract = {
  image: "redis",
  tag: "7.4.11-alpine",
  digest: {
    value: "sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf",
    source: { ...RECORD, line: 4 },
    note: "The image index `docker pull redis@sha256:…` line of the 7.4.11-alpine record (16 platforms).",
  },
  user: {
    value: { name: "redis", uid: 999, startsAsRoot: true },
    source: entrypoint("10-14"),
    note: "adduser -S -G redis -u 999 redis (the record's Dockerfile); as root, redis-server is re-executed as redis.",
  },
  init: { value: "docker-entrypoint.sh (sh), which execs redis-server", source: RECORD, note: "ENTRYPOINT [\"docker-entrypoint.sh\"]." },
  worksWithNoNewPrivileges: {
    value: true,
    source: entrypoint("10-14"),
    note: "gosu (setpriv in 7.4.11) drops from root with setuid calls; no setuid binary is needed.",
  },
  capabilities: { value: [], source: entrypoint("10-14"), note: "chown and the user switch use Docker's default capabilities." },
  writablePaths: { value: [], source: DOCS, note: "redis-server writes to /data only when persistence is on (see dataPaths)." },
  dataPaths: {
    value: ["/data"],
    source: DOCS,
    note: "\"If persistence is enabled, data is stored in the VOLUME /data\" (section Start with persistent storage).",
  },
  configPaths: {
    value: ["/usr/local/etc/redis/"],
    source: DOCS,
    note: "The documented place for a redis.conf passed as redis-server's argument (section \"if you want to use your own redis.conf\").",
  },
  env: { value: [], source: entrypoint("1-24"), note: "The 7.4 entrypoint reads no variable." },
  envReadByCommands: {
    value: ["REDISCLI_AUTH"],
    source: { repo: "redis/redis", ref: "7.4.11", file: "src/redis-cli.c" },
    note: "parseEnv(): redis-cli takes the password from REDISCLI_AUTH (getenv(REDIS_CLI_AUTH_ENV)) when -a is not given.",
  },
  allowsUserOverride: { value: true, source: entrypoint("10-11"), note: "\"allow the container to be started with `--user`\"." },
  ports: { value: [{ port: 6379, protocol: "tcp", purpose: "Redis" }], source: RECORD, note: "EXPOSE 6379/tcp." },
  health: {
    value: "redis-cli ping",
    source: RECORD,
    note: "The image defines no HEALTHCHECK; redis-cli is built and installed with the server (the build ends with redis-cli --version).",
  },
};
