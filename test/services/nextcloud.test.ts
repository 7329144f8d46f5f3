// The Nextcloud module: its blueprint, the config.php it renders (read back by PHP),
// the Redis config (loaded by a real redis-server), the config hook (run by sh) and
// the occ commands that enforce the sharing and two-factor policy.
import test from "ava";
import { phpLiteral, type PhpValue } from "../../stacks/platform/php.ts";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as docker from "@pulumi/docker";
import {
  ADMIN_PATHS,
  APACHE_WORKERS,
  APACHE_WORKERS_CONF,
  PHP_MEMORY_LIMIT_MB,
  DAV_DISCOVERY,
  NEXTCLOUD_PUBLIC_OCS,
  CONFIG_HOOK,
  CONFIG_SOURCE,
  CONFIG_TARGET,
  NEXTCLOUD_SECRETS,
  NEXTCLOUD_TWO_FACTOR_GROUP,
  bastideConfigPhp,
  configHookScript,
  nextcloud,
  nextcloudOccSettings,
  calendarSharesPerHour,
  nextcloudSystemConfig,
  redisConf,
} from "../../stacks/services/nextcloud/blueprint.ts";
import { blueprintContext } from "../../stacks/services/catalog.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { nextcloudUpgradeProblem, nextcloudVersion } from "../../stacks/services/nextcloud/upgrade.ts";
import { contract as nextcloudContract } from "../../stacks/services/upstream/nextcloud.ts";
import { EDGE_NETWORK } from "../../stacks/platform/network.ts";
import { ServiceComponent } from "../../stacks/platform/component.ts";
import type { Association } from "../../stacks/config/schema.ts";
import type { ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { exampleAssociation } from "../support/association.ts";
import { oidcProviderCommand } from "../../stacks/services/nextcloud/oidc.ts";
import { identityIssuer } from "../../stacks/services/identity/blueprint.ts";
import { commandLine } from "../../provisioners/nextcloud-settings/occ.ts";
import { registerUnderMocks, ofType, CONTAINER, VOLUME } from "../support/program.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

const example = exampleAssociation();
const blueprintOf = (config: Association, profile = config.profile): ServiceBlueprint =>
  nextcloud.blueprint(config, blueprintContext(config, profile));
const containerOf = (b: ServiceBlueprint, name: string) => {
  const found = b.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} container`);
  return found;
};
const FAKE_SECRETS: Record<string, string> = {
  [NEXTCLOUD_SECRETS.db]: "fakeDbPassw0rd",
  [NEXTCLOUD_SECRETS.admin]: "fakeAdminPassw0rd",
  [NEXTCLOUD_SECRETS.redis]: "fakeRedisPassw0rd",
};

/** Runs a PHP file and returns what it printed; fails loudly if PHP rejects it. */
function php(file: string): string {
  const result = run(requireProgram("php", "php-cli"), [file]);
  if (result.status !== 0) throw new Error(`php ${file} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** What PHP makes of bastide.config.php: `php -l` must accept it, then its $CONFIG as JSON. */
function phpReads(configPhp: string): Record<string, unknown> {
  const dir = scratch({ "bastide.config.php": configPhp });
  const file = join(dir, "bastide.config.php");
  const lint = run(requireProgram("php", "php-cli"), ["-l", file]);
  if (lint.status !== 0) throw new Error(`php -l rejected bastide.config.php:\n${lint.stdout}${lint.stderr}`);
  writeFileSync(join(dir, "read.php"), `<?php include ${phpLiteral(file)}; echo json_encode($CONFIG);`);
  return JSON.parse(php(join(dir, "read.php")));
}

// ---------------------------------------------------------------------------------------
// The blueprint

test("four containers on pinned images: database and Redis on the internal network only", (t) => {
  const b = blueprintOf(example);
  t.deepEqual(
    b.containers.map((c) => [c.name, c.image, c.networks]),
    [
      ["db", IMAGES.postgres, ["internal"]],
      ["redis", IMAGES.redis, ["internal"]],
      ["app", IMAGES.nextcloud, ["edge", "internal"]],
      ["cron", IMAGES.nextcloud, ["edge", "internal"]],
    ],
  );
  t.deepEqual(containerOf(b, "cron").command, ["/cron.sh"]);
  t.is(b.title, "Fichiers et agendas (Nextcloud)");
});

test("containers start in order: the app after its database and Redis, cron after the app", (t) => {
  const b = blueprintOf(example);
  const position = (name: string) => b.containers.findIndex((c) => c.name === name);
  for (const c of b.containers)
    for (const dependency of c.dependsOn ?? []) t.true(position(dependency) < position(c.name), `${c.name} is listed before ${dependency}`);
  t.deepEqual(containerOf(b, "app").dependsOn, ["db", "redis"]);
  t.deepEqual(containerOf(b, "cron").dependsOn, ["app"]);
});

test("memory: every Apache worker and one occ may reach the image's memory_limit at once, beside the shared caches", (t) => {
  for (const profile of ["small", "standard"] as const) {
    const b = blueprintOf(example, profile);
    const mb = (name: string) => containerOf(b, name).memoryMb[profile];
    // The image's default and Nextcloud's recommendation (nextcloud/docker 34/apache/Dockerfile 20;
    // lib/private/MemoryInfo.php RECOMMENDED_MEMORY_LIMIT): below it every occ warns.
    t.is(containerOf(b, "app").env!.PHP_MEMORY_LIMIT, "512M", profile);
    t.is(containerOf(b, "cron").env!.PHP_MEMORY_LIMIT, "512M", profile);
    const workers = APACHE_WORKERS[profile];
    const conf = b.files(FAKE_SECRETS).find((f) => f.path === APACHE_WORKERS_CONF)!;
    t.is(conf.container, "app");
    t.regex(conf.content, new RegExp(`^\\s*MaxRequestWorkers ${workers}$`, "m"), `${profile}: Apache is capped`);
    // opcache 128M + JIT 8M (Dockerfile 22, 95-104) and APCu's 32M segment for Apache; occ has its own APCu.
    t.true(mb("app") >= (workers + 1) * 512 + 128 + 8 + 2 * 32, `${profile}: app ${mb("app")} MiB for ${workers} workers and one occ`);
    t.true(mb("cron") >= 512 + 32, `${profile}: cron ${mb("cron")} MiB`);
  }
  t.true(APACHE_WORKERS.standard > APACHE_WORKERS.small);
});

test("Debian's Apache accepts the worker cap after its own mpm_prefork.conf, as the image reads them", (t) => {
  const apache = requireProgram("apache2", "apache2");
  const dir = scratch();
  const conf = blueprintOf(example).files(FAKE_SECRETS).find((f) => f.path === APACHE_WORKERS_CONF)!.content;
  writeFileSync(join(dir, "workers.conf"), conf);
  // apache2.conf includes mods-enabled/*.conf (mpm_prefork.conf: 150 workers) before conf-enabled/*.conf.
  writeFileSync(
    join(dir, "httpd.conf"),
    [
      "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
      "Include /etc/apache2/mods-available/mpm_prefork.conf",
      `Include ${join(dir, "workers.conf")}`,
      "ServerName localhost",
      `PidFile ${dir}/httpd.pid`,
      `ErrorLog ${dir}/error.log`,
      "Listen 127.0.0.1:1",
      "",
    ].join("\n"),
  );
  const checked = spawnSync(apache, ["-t", "-f", join(dir, "httpd.conf")], { encoding: "utf8", timeout: 30_000 });
  t.is(checked.status, 0, checked.stderr);
  t.regex(checked.stderr, /Syntax OK/);
});

test("PHP, PostgreSQL and Redis limits are fitted to each container's memory", (t) => {
  for (const profile of ["small", "standard"] as const) {
    const b = blueprintOf(example, profile);
    const mb = (name: string) => containerOf(b, name).memoryMb[profile];
    const phpLimit = (name: string) => parseInt(containerOf(b, name).env!.PHP_MEMORY_LIMIT!, 10);
    t.true(phpLimit("app") < mb("app"), `${profile}: app memory_limit`);
    t.true(phpLimit("cron") < mb("cron"), `${profile}: cron memory_limit`);
    const buffers = containerOf(b, "db").command!.find((a) => a.startsWith("shared_buffers="))!;
    t.is(buffers, `shared_buffers=${mb("db") / 4}MB`);
    const conf = b.files(FAKE_SECRETS).find((f) => f.container === "redis")!.content;
    const maxmemory = parseInt(conf.match(/^maxmemory (\d+)mb$/m)![1]!, 10);
    t.true(maxmemory < mb("redis"), `${profile}: Redis maxmemory ${maxmemory} leaves no headroom`);
  }
});

test("volumes: the html folder and the database, each saying what it holds", (t) => {
  const b = blueprintOf(example);
  t.deepEqual(
    b.volumes.map((v) => [v.name, v.path]),
    [
      ["html", "/var/www/html"],
      ["db", "/var/lib/postgresql/data"],
    ],
  );
  t.regex(b.volumes[0]!.holds, /files.*trash.*versions/i);
  t.regex(b.volumes[1]!.holds, /accounts.*calendars/i);
  // cron reads the same installation and data as the app.
  t.deepEqual(containerOf(b, "cron").volumes, containerOf(b, "app").volumes);
  for (const c of b.containers)
    for (const v of c.volumes ?? []) t.true(b.volumes.some((declared) => declared.name === v.volume && declared.path === v.path));
});

test("route: the cloud name goes to the app; admin pages are VPN-only, personal settings are not", (t) => {
  const b = blueprintOf(exampleAssociation((i) => (i.services.nextcloud.subdomain = "fichiers")));
  t.is(b.routes.length, 1);
  const route = b.routes[0]!;
  t.is(route.host, "fichiers.jardins-canal.localhost");
  t.is(route.upstream, "bastide-nextcloud-app:80");
  t.deepEqual(route.vpnOnlyPaths, ADMIN_PATHS);
  t.deepEqual(route.vpnOnlyExceptions, NEXTCLOUD_PUBLIC_OCS);
  for (const path of ["/settings/admin*", "/index.php/settings/admin*"]) t.true(ADMIN_PATHS.includes(path), path);
  // A prefix test, as Caddy's `path /x*` is (test/services/proxy.test.ts runs the real Caddy).
  const matches = (patterns: string[], url: string) => patterns.some((p) => (p.endsWith("*") ? url.startsWith(p.slice(0, -1)) : url === p));
  const caught = (url: string) => matches(ADMIN_PATHS, url) && !matches(NEXTCLOUD_PUBLIC_OCS, url);
  t.true(caught("/index.php/settings/admin/security"));
  t.true(caught("/settings/users"));
  t.false(caught("/settings/user/security"), "members set up their second factor there");
  // The provisioning API creates accounts and makes admins (provisioning_api/appinfo/routes.php, Nextcloud 34).
  t.true(caught("/ocs/v2.php/cloud/users"));
  t.true(caught("/ocs/v1.php/cloud/groups"));
  t.false(caught("/ocs/v2.php/cloud/user"), "clients read the signed-in account there");
  t.false(caught("/ocs/v2.php/cloud/capabilities"), "clients read the server's capabilities there");
  t.deepEqual(route.redirects, DAV_DISCOVERY);
});

test("the Nextcloud environment: Postgres, Redis, the proxy's network and the public name", (t) => {
  const b = blueprintOf(example);
  const env = containerOf(b, "app").env!;
  t.like(env, {
    POSTGRES_HOST: "bastide-nextcloud-db",
    POSTGRES_DB: "nextcloud",
    POSTGRES_USER: "nextcloud",
    REDIS_HOST: "bastide-nextcloud-redis",
    NEXTCLOUD_TRUSTED_DOMAINS: "cloud.jardins-canal.localhost",
    OVERWRITEPROTOCOL: "https",
    OVERWRITEHOST: "cloud.jardins-canal.localhost",
    OVERWRITECLIURL: "https://cloud.jardins-canal.localhost",
    TRUSTED_PROXIES: EDGE_NETWORK.subnet,
  });
  t.true("APACHE_DISABLE_REWRITE_IP" in env);
  t.deepEqual(containerOf(b, "db").env, { POSTGRES_DB: "nextcloud", POSTGRES_USER: "nextcloud" });
  // cron loads the same config files, which read Redis and the proxy settings from the environment.
  const cron = containerOf(b, "cron");
  for (const key of ["REDIS_HOST", "OVERWRITEHOST", "TRUSTED_PROXIES"]) t.is(cron.env![key], env[key], key);
  t.deepEqual(cron.secretEnv, { REDIS_HOST_PASSWORD: NEXTCLOUD_SECRETS.redis });
});

test("enabled follows services.nextcloud.enabled", (t) => {
  t.true(nextcloud.enabled(example));
  t.false(nextcloud.enabled(exampleAssociation((i) => (i.services.nextcloud.enabled = false))));
});

// ---------------------------------------------------------------------------------------
// Secrets

test("passwords reach containers only through secretEnv and files marked holdsSecrets", (t) => {
  const b = blueprintOf(example);
  t.deepEqual(b.secrets.map((s) => s.name).sort(), Object.values(NEXTCLOUD_SECRETS).sort());
  for (const c of b.containers) {
    for (const key of Object.keys(c.env ?? {})) t.notRegex(key, /PASSWORD|AUTH|SECRET|TOKEN/, `${c.name}: ${key} is plain env`);
    for (const secret of Object.values(c.secretEnv ?? {})) t.true(b.secrets.some((s) => s.name === secret), `${c.name}: ${secret}`);
  }
  t.deepEqual(containerOf(b, "app").secretEnv, {
    POSTGRES_PASSWORD: NEXTCLOUD_SECRETS.db,
    NEXTCLOUD_ADMIN_PASSWORD: NEXTCLOUD_SECRETS.admin,
    REDIS_HOST_PASSWORD: NEXTCLOUD_SECRETS.redis,
  });
  t.is(containerOf(b, "db").secretEnv?.POSTGRES_PASSWORD, NEXTCLOUD_SECRETS.db);

  const files = b.files(FAKE_SECRETS);
  const fakes = Object.values(FAKE_SECRETS);
  for (const f of files) {
    const embedded = fakes.filter((v) => f.content.includes(v));
    t.is(f.holdsSecrets, embedded.length > 0, `${f.path}: holdsSecrets=${f.holdsSecrets} but embeds ${embedded.length} secrets`);
  }
  const redis = files.find((f) => f.path.endsWith("redis.conf"))!;
  t.true(redis.content.includes(FAKE_SECRETS[NEXTCLOUD_SECRETS.redis]!));
  // Every declared file is rendered for the container that uploads it.
  for (const c of b.containers) for (const path of c.files ?? []) t.true(files.some((f) => f.container === c.name && f.path === path), path);
});

test.serial("under Pulumi: no secret in a command or a clear input; the config file stays readable", async (t) => {
  const config = example;
  const blueprint = blueprintOf(config);
  const resources = await registerUnderMocks(() => {
    const provider = new docker.Provider("local", {});
    const edgeNetwork = new docker.Network("edge", { name: EDGE_NETWORK.name }, { provider });
    new ServiceComponent({ config, blueprint, provider, edgeNetwork, publicAddress: "127.0.0.1" });
  });
  const containers = ofType(resources, CONTAINER);
  t.deepEqual(containers.map((c) => c.inputs.name).sort(), [
    "bastide-nextcloud-app",
    "bastide-nextcloud-cron",
    "bastide-nextcloud-db",
    "bastide-nextcloud-redis",
  ]);
  for (const c of containers) {
    t.false(JSON.stringify(c.inputs.command ?? []).includes("<secret:"), `${c.inputs.name}: secret in command`);
    t.false(JSON.stringify(c.inputs.healthcheck ?? {}).includes("<secret:"), `${c.inputs.name}: secret in health check`);
    for (const [key, value] of Object.entries(c.inputs))
      if (JSON.stringify(value).includes("<secret:")) t.true(c.secretInputs.includes(key), `${c.inputs.name}.${key} is stored in clear`);
  }
  const redis = containers.find((c) => c.inputs.name === "bastide-nextcloud-redis")!;
  t.true(JSON.stringify(redis.inputs.uploads).includes("<secret:nextcloud-redis-password>"));
  t.true(redis.secretInputs.includes("uploads"));
  const app = containers.find((c) => c.inputs.name === "bastide-nextcloud-app")!;
  const upload = app.inputs.uploads.find((u: any) => u.file === CONFIG_SOURCE);
  t.regex(upload.content, /'trashbin_retention_obligation' => 'auto, 30'/);
  t.is(app.inputs.uploads.find((u: any) => u.file === CONFIG_HOOK).permissions, "0755");
  t.true(app.inputs.envs.includes("POSTGRES_PASSWORD=<secret:nextcloud-db-password>"));
  const volumes = ofType(resources, VOLUME);
  t.deepEqual(volumes.map((v) => v.inputs.name).sort(), ["bastide-nextcloud-db", "bastide-nextcloud-html"]);
  t.true(volumes.every((v) => v.protect));
});

// ---------------------------------------------------------------------------------------
// config.php, read back by PHP

test("bastide.config.php passes php -l and PHP reads exactly the computed settings", (t) => {
  const host = "cloud.jardins-canal.localhost";
  const content = blueprintOf(example).files(FAKE_SECRETS).find((f) => f.path === CONFIG_SOURCE)!.content;
  t.true(content.startsWith("<?php\n"), "nothing may be printed before the PHP block");
  t.false(content.includes("?>"));
  const read = phpReads(content);
  t.deepEqual(read, nextcloudSystemConfig(example, host));
  t.like(read, {
    trashbin_retention_obligation: "auto, 30",
    versions_retention_obligation: "auto, 90",
    activity_expire_days: 90,
    default_language: "fr",
    default_locale: "fr_FR",
    default_phone_region: "FR",
    "overwrite.cli.url": `https://${host}`,
    overwriteprotocol: "https",
    overwritehost: host,
    "auth.bruteforce.protection.enabled": true,
    skeletondirectory: "",
    maintenance_window_start: 1,
    loglevel: 2,
  });
  t.deepEqual(read.trusted_proxies, [EDGE_NETWORK.subnet]);
  t.deepEqual(read.forwarded_for_headers, ["HTTP_X_FORWARDED_FOR"]);
  t.true((read.log_rotate_size as number) > 0);
});

test("config.php follows the settings: retention days, language, country", (t) => {
  const config = exampleAssociation((i) => {
    i.organisation.language = "en";
    i.organisation.country = "IE";
    i.services.nextcloud = { trashbinDays: 7, versionsDays: 365, activityExpireDays: 14, subdomain: "files" };
  });
  const read = phpReads(bastideConfigPhp(config, "files.jardins-canal.localhost"));
  t.like(read, {
    trashbin_retention_obligation: "auto, 7",
    versions_retention_obligation: "auto, 365",
    activity_expire_days: 14,
    default_language: "en",
    default_locale: "en_IE",
    default_phone_region: "IE",
    "overwrite.cli.url": "https://files.jardins-canal.localhost",
  });
  // The blueprint renders the same file for the hostname it routes.
  const b = blueprintOf(config);
  t.is(b.files(FAKE_SECRETS).find((f) => f.path === CONFIG_SOURCE)!.content, bastideConfigPhp(config, b.routes[0]!.host));

  const locale = (language: string, country: string) =>
    nextcloudSystemConfig(exampleAssociation((i) => Object.assign(i.organisation, { language, country })), "h").default_locale;
  t.is(locale("fr", "BE"), "fr_BE");
  t.is(locale("fr", "DE"), "fr_FR");
  t.is(locale("en", "DE"), "en_GB");
});

test("phpLiteral: hostile strings come back from PHP unchanged", (t) => {
  const hostile: PhpValue = {
    quote: "it's",
    backslashQuote: "\\'; system('id'); //",
    trailingBackslash: "C:\\dir\\",
    closeTag: "?><?php echo 'pwned'; ?>",
    variables: "$CONFIG {$x} ${y}",
    escapes: "\\n \\t \\x41 \\u{41}",
    controls: "line1\nline2\r\n\ttab\u0000nul",
    heredoc: "<<<EOT\nEOT;\n",
    unicode: "Équipe potager · 日本 🌱",
    "key's \\ ?>": "keys are escaped too",
    nested: [["a", 1, -2, true, false, null], { inner: "'" }],
    empty: [],
  };
  const dir = scratch();
  const file = join(dir, "literal.php");
  writeFileSync(file, `<?php\necho json_encode(${phpLiteral(hostile)});\n`);
  t.deepEqual(JSON.parse(php(file)), hostile);
});

test("phpLiteral refuses numbers PHP would not read back exactly", (t) => {
  for (const n of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) t.throws(() => phpLiteral(n), undefined, String(n));
  t.is(phpLiteral(-3), "-3");
});

// ---------------------------------------------------------------------------------------
// The config hook

test("the config hook is valid sh and copies the uploaded file into the config folder", (t) => {
  const b = blueprintOf(example);
  const hook = b.files(FAKE_SECRETS).find((f) => f.path === CONFIG_HOOK)!;
  t.is(hook.container, "app");
  t.is(hook.mode, "0755", "the image skips hooks that are not executable");
  t.true(hook.content.startsWith("#!/bin/sh\n"));
  t.is(hook.content, configHookScript(CONFIG_SOURCE, CONFIG_TARGET));
  // An upload into the html volume would create config/ as root before the install.
  t.false(CONFIG_SOURCE.startsWith("/var/www/html/"));
  t.true(CONFIG_TARGET.startsWith("/var/www/html/config/") && CONFIG_TARGET.endsWith(".config.php"));
  t.true(containerOf(b, "app").files!.includes(CONFIG_HOOK));

  const sh = requireProgram("sh", "dash");
  const dir = scratch({ "source.php": "<?php $CONFIG = array ();\n", "target.php": "old" });
  const script = join(dir, "hook.sh");
  writeFileSync(script, configHookScript(join(dir, "source.php"), join(dir, "target.php")));
  const syntax = run(sh, ["-n", script]);
  t.is(syntax.status, 0, syntax.stderr);
  const ran = run(sh, [script]);
  t.is(ran.status, 0, ran.stderr);
  t.is(readFileSync(join(dir, "target.php"), "utf8"), "<?php $CONFIG = array ();\n");
  // A missing config folder stops the container instead of starting without Bastide's settings.
  writeFileSync(script, configHookScript(join(dir, "source.php"), join(dir, "missing", "target.php")));
  t.not(run(sh, [script]).status, 0);
});

// ---------------------------------------------------------------------------------------
// Redis, loaded by a real redis-server

/** Starts redis-server on the rendered config (on a socket in a scratch folder), runs `use`, stops it. */
async function withRedis(conf: string, use: (cli: (args: string[], auth?: string) => string) => void): Promise<void> {
  const server = requireProgram("redis-server", "redis-server");
  const client = requireProgram("redis-cli", "redis-tools");
  const dir = scratch({ "redis.conf": conf });
  const socket = join(dir, "redis.sock");
  // Options after the file override it: no TCP port, a socket and data folder in the scratch folder.
  const child = spawn(server, [join(dir, "redis.conf"), "--port", "0", "--unixsocket", socket, "--dir", dir], { stdio: "ignore" });
  try {
    for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!existsSync(socket)) throw new Error("redis-server did not start with the rendered redis.conf");
    use((args, auth) => {
      const env = { ...process.env };
      delete env.REDISCLI_AUTH;
      if (auth !== undefined) env.REDISCLI_AUTH = auth;
      const r = spawnSync(client, ["-s", socket, ...args], { encoding: "utf8", timeout: 10_000, env });
      return `${r.stdout}${r.stderr}`.trim();
    });
  } finally {
    child.kill("SIGTERM");
  }
}

test.serial("redis.conf: a real redis-server loads it and answers only with the password", async (t) => {
  const b = blueprintOf(example);
  const conf = b.files(FAKE_SECRETS).find((f) => f.path.endsWith("redis.conf"))!;
  t.deepEqual(containerOf(b, "redis").command, ["redis-server", conf.path]);
  const password = FAKE_SECRETS[NEXTCLOUD_SECRETS.redis]!;
  await withRedis(conf.content, (cli) => {
    t.regex(cli(["ping"]), /NOAUTH/);
    // The health check's way: redis-cli takes the password from REDISCLI_AUTH, not its arguments.
    t.is(cli(["ping"], password), "PONG");
    t.regex(cli(["ping"], "wrong"), /WRONGPASS/);
    t.is(cli(["config", "get", "maxmemory"], password), `maxmemory\n${48 * 1024 * 1024}`);
    t.is(cli(["config", "get", "save"], password), "save");
    t.is(cli(["config", "get", "appendonly"], password), "appendonly\nno");
  });
  const health = containerOf(b, "redis").healthcheck!.test.join(" ");
  t.false(health.includes(password));
  t.regex(health, /redis-cli ping/);
});

test.serial("redis.conf quotes the password: quotes, backslashes and spaces survive", async (t) => {
  const password = `pa"ss\\word with 'spaces'`;
  await withRedis(redisConf(password, 16), (cli) => {
    t.is(cli(["ping"], password), "PONG");
    t.regex(cli(["ping"], "pa"), /WRONGPASS/);
  });
});

// ---------------------------------------------------------------------------------------
// occ settings

const commands = (config: Association) => nextcloudOccSettings(config).map((s) => s.command.join(" "));

test("occ settings for the example: sharing policy, quota, cron mode and admin 2FA", (t) => {
  t.deepEqual(commands(example), [
    "php occ background:cron",
    "php occ config:app:set files default_quota --value=5 GB",
    "php occ config:app:set core shareapi_enforce_links_password --value=yes",
    "php occ config:app:set core shareapi_default_expire_date --value=yes",
    "php occ config:app:set core shareapi_enforce_expire_date --value=yes",
    "php occ config:app:set core shareapi_expire_after_n_days --value=30",
    // 3 team calendars and the association's: two runs of 4 shares, and upstream's 20.
    "php occ config:app:set dav rateLimitShareAddressbookOrCalendar --value=28",
    // The members' information notice, which the proxy serves on every host (proxy/notices.ts).
    "php occ config:app:set theming privacyUrl --value=https://cloud.jardins-canal.localhost/confidentialite/membres.html --type=string",
    "php occ app:enable twofactor_totp",
    "php occ twofactorauth:enforce --on --group _admins-2fa",
  ]);
  for (const s of nextcloudOccSettings(example)) t.true(s.reason.length > 10, s.command.join(" "));
  // The value is one argument: exec runs it without a shell, so "5 GB" needs no quoting.
  const quota = nextcloudOccSettings(example)[1]!.command;
  t.is(quota.at(-1), "--value=5 GB");
});

test("the hourly limit on calendar shares grows with the calendars Bastide shares, and never falls below Nextcloud's 20", (t) => {
  // The example's 3 team calendars and the association's, plus `n` teams with a calendar and one without.
  const withTeams = (n: number) =>
    calendarSharesPerHour(
      exampleAssociation((i) => i.teams.push(...Array.from({ length: n }, (_, k) => ({ id: `equipe-${k}`, name: `Équipe ${k}`, calendar: true })), { id: "sans-agenda", name: "Sans agenda", calendar: false })),
    );
  t.is(withTeams(0), 28);
  t.is(withTeams(27), 82, "31 calendars: 62 shares for two runs, upstream's 20 on top");
  t.true(withTeams(27) >= 20 + 31, "a first run of 31 calendars stays under the limit, with upstream's 20 left for members' own shares");
});

test("occ settings follow the config: relaxed passwords, expiry days, quota, 2FA off", (t) => {
  const relaxed = exampleAssociation((i) => {
    i.services.nextcloud = {
      defaultQuota: "none",
      shareLinks: { requirePassword: false, expireAfterDays: 7, relaxedBecause: "Les affiches publiques sont partagées sans mot de passe." },
      adminTwoFactor: false,
    };
  });
  const list = commands(relaxed);
  t.true(list.includes("php occ config:app:set core shareapi_enforce_links_password --value=no"));
  t.true(list.includes("php occ config:app:set core shareapi_expire_after_n_days --value=7"));
  t.true(list.includes("php occ config:app:set core shareapi_enforce_expire_date --value=yes"), "expiry stays enforced");
  t.true(list.includes("php occ config:app:set files default_quota --value=none"));
  t.true(list.includes("php occ twofactorauth:enforce --off"));
  t.false(list.some((c) => c.includes("twofactor_totp") || c.includes("--on") || c.includes("_admins-2fa")));
  const why = nextcloudOccSettings(relaxed).find((s) => s.command.includes("shareapi_enforce_links_password"))!.reason;
  t.true(why.includes("Les affiches publiques sont partagées sans mot de passe."), "the register quotes the reason");
});

test("enforced 2FA names a group the service account is not in: an enforced group overrules an excluded one", (t) => {
  // MandatoryTwoFactor::isEnforcedFor at 34.0.1 reads excluded groups only when no group is
  // enforced; recorded in test/contracts/recordings/nextcloud-34/two-factor-enforcement.json
  // (enforced for admin, excluding a group the service account was in: its login got 401).
  // _bastide is the install-time admin: in `admin`, so `admin` cannot be the enforced group.
  t.is(containerOf(blueprintOf(example), "app").env?.NEXTCLOUD_ADMIN_USER, "_bastide");
  const enforce = nextcloudOccSettings(example).find((s) => s.command.includes("twofactorauth:enforce"))!;
  t.deepEqual(enforce.command, ["php", "occ", "twofactorauth:enforce", "--on", "--group", NEXTCLOUD_TWO_FACTOR_GROUP]);
  t.false(commands(example).some((c) => c.includes("--exclude")));
  t.regex(enforce.reason, /_bastide/);
});

test("every occ setting of the example ran on the real Nextcloud 34 as recorded, exit 0", (t) => {
  const recording = JSON.parse(readFileSync(new URL("../contracts/recordings/nextcloud-34/provisioning-first-run.json", import.meta.url), "utf8")) as {
    exchanges: { command?: string; exit?: number; stdout?: string }[];
  };
  const ran = new Map(recording.exchanges.filter((e) => e.command).map((e) => [e.command!, e]));
  const appList = JSON.parse(ran.get("php occ app:list --output=json")!.stdout!) as { enabled: Record<string, string> };
  for (const s of nextcloudOccSettings(example)) {
    const command = commandLine(s.command);
    t.deepEqual(s.command.slice(0, 2), ["php", "occ"]);
    // An app already enabled is not enabled again (the run read app:list first).
    if (s.command[2] === "app:enable" && !ran.has(command)) t.truthy(appList.enabled[s.command[3]!], command);
    else t.is(ran.get(command)?.exit, 0, command);
  }
});

test("settings config.php cannot hold are not duplicated in occ, and the reverse", (t) => {
  const system = Object.keys(nextcloudSystemConfig(example, "h"));
  for (const s of nextcloudOccSettings(example)) for (const key of system) t.false(s.command.includes(key), `${key} is set twice`);
  // The activity app reads activity_expire_days from config.php; an app setting of that name does nothing.
  t.true(system.includes("activity_expire_days"));
});

// ---------------------------------------------------------------------------------------
// Upgrades: one major at a time (nextcloud/docker entrypoint.sh 192-194; version.php's
// $OC_VersionCanBeUpgradedFrom in 34.0.1 lists 33.0 and 34.0 only).

const NC32 = "nextcloud:32.0.15-apache@sha256:ea7bd4d0dc80337b4298c71ae7ab8ce7d42e5237c3b9abbe60602d2451e33c44";
const NC33 = "nextcloud:33.0.9-apache";
const NC34 = "nextcloud:34.0.4-apache@sha256:63c1924fe431909541a7f4320a693d8502768998b5bd113284be922acf645d75";

test("upgrade guard: a fresh stack, a patch release or the next major pass; a skipped major or a downgrade is refused with the way out", (t) => {
  t.deepEqual(nextcloudVersion(IMAGES.nextcloud)?.major, 34, "the pinned image is Nextcloud 34");
  t.is(nextcloudUpgradeProblem(undefined, NC34), undefined, "nothing deployed yet");
  t.is(nextcloudUpgradeProblem(NC34, NC34), undefined);
  t.is(nextcloudUpgradeProblem("nextcloud:34.0.1-apache", NC34), undefined, "a patch release");
  t.is(nextcloudUpgradeProblem(NC33, NC34), undefined, "one major up");
  const skipped = nextcloudUpgradeProblem(NC32, NC34);
  t.regex(skipped ?? "", /runs Nextcloud 32\.0\.15 and this Bastide pins 34\.0\.4/);
  t.regex(skipped ?? "", /one major version at a time \(32 → 33 → … → 34\)/);
  t.regex(skipped ?? "", /Nothing was changed: first run `pulumi up` with the Bastide release that pins Nextcloud 33/);
  t.regex(nextcloudUpgradeProblem(NC34, NC33) ?? "", /cannot go back to an older major version/);
  t.regex(nextcloudUpgradeProblem("registry.example/other:1.0", NC34) ?? "", /names no Nextcloud version/);
});

test("upgrade guard, the way back: a downgrade passes only once the admin says the older major's data was restored, and says how", (t) => {
  const refused = nextcloudUpgradeProblem(NC34, NC33);
  t.regex(refused ?? "", /the backup taken before it was restored \(npm run restore\), say so and run again: npm run pulumi -- config set bastide:nextcloudRestored 33$/);
  t.is(nextcloudUpgradeProblem(NC34, NC33, 33), undefined, "restored to 33: the record of 34 no longer stands");
  t.regex(nextcloudUpgradeProblem(NC34, NC33, 32) ?? "", /cannot go back/, "restored to another major than the one pinned");
  t.regex(nextcloudUpgradeProblem(NC32, NC34, 34) ?? "", /one major version at a time/, "it never lets an upgrade skip a major");
});

test("the image contract is read at the pinned tag and digest; app and cron set only variables the image reads", (t) => {
  const [reference, digest] = IMAGES.nextcloud.split("@");
  t.is(reference, `nextcloud:${nextcloudContract.tag}`);
  t.is(digest, nextcloudContract.digest!.value);
  const mailed = exampleAssociation((i) => (i.mail = { host: "smtp.example.org", port: 587, security: "starttls", from: "cloud@jardins-canal.localhost", username: "cloud" }));
  for (const name of ["app", "cron"]) {
    const c = containerOf(blueprintOf(mailed), name);
    const set = [...Object.keys(c.env ?? {}), ...Object.keys(c.secretEnv ?? {})];
    t.deepEqual(set.filter((k) => !nextcloudContract.env.value.includes(k)), [], name);
  }
  t.is(nextcloudContract.documentedMemoryMb!.value, PHP_MEMORY_LIMIT_MB);
});

// ---------------------------------------------------------------------------------------
// Issue 10: the login through the identity provider (stacks/services/nextcloud/oidc.ts)

const withoutIdentity = exampleAssociation((i) => void (i.services.identity = { enabled: false }));

test("identity provider on (the default): PHP reads user_oidc's soft auto-provisioning without account creation, and no password reset", (t) => {
  const content = blueprintOf(example).files(FAKE_SECRETS).find((f) => f.path === CONFIG_SOURCE)!.content;
  const read = phpReads(content);
  // The keys and values user_oidc v8.10.1 reads (LoginController.php 633-634, ProvisioningService.php 250-252).
  t.deepEqual(read.user_oidc, { auto_provision: true, soft_auto_provision: true, disable_account_creation: true });
  // core/Controller/LostController.php 152 (34.0.1): any non-empty value refuses the reset mail.
  t.is(read.lost_password_link, "disabled");
  t.true(blueprintOf(example).secrets.some((s) => s.name === NEXTCLOUD_SECRETS.oidcClient && s.length >= 32));
});

test("identity provider off: config.php and the generated secrets are what they were before it", (t) => {
  const read = phpReads(blueprintOf(withoutIdentity).files(FAKE_SECRETS).find((f) => f.path === CONFIG_SOURCE)!.content);
  t.false("user_oidc" in read);
  t.false("lost_password_link" in read);
  t.deepEqual(
    blueprintOf(withoutIdentity).secrets.map((s) => s.name).sort(),
    ["admin-password", "db-password", "redis-password"],
  );
});

test("the provider command: the secret from standard input, the uid as the member id, teams left to Bastide", (t) => {
  const command = oidcProviderCommand(example);
  t.deepEqual(command.slice(0, 4), ["php", "occ", "user_oidc:provider", "bastide"]);
  t.true(command.includes("--clientsecret-file=php://stdin"));
  t.false(command.some((word) => word.startsWith("--clientsecret=")));
  t.true(command.includes("--discoveryuri=https://connexion.jardins-canal.localhost/realms/bastide/.well-known/openid-configuration"));
  // uniqueUid defaults to true (ProviderService.php 69, BOOLEAN_SETTINGS_DEFAULT_VALUES): it must be set off,
  // or the uid would be a hash and every member would land in a new, empty account.
  for (const option of ["--unique-uid=0", "--mapping-uid=preferred_username", "--group-provisioning=0", "--check-bearer=0"]) t.true(command.includes(option), option);
  const custom = exampleAssociation((i) => void (i.services.identity = { subdomain: "login" }));
  t.true(oidcProviderCommand(custom).includes("--discoveryuri=https://login.jardins-canal.localhost/realms/bastide/.well-known/openid-configuration"));
  t.is(identityIssuer(custom), "https://login.jardins-canal.localhost/realms/bastide");
});
