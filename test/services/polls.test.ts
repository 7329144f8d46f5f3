import test from "ava";
import { noticePages } from "../../stacks/services/proxy/notice-pages.ts";
import { adaptCaddyfile } from "../support/caddy.ts";
import { phpLiteral } from "../../stacks/platform/php.ts";
import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CONFIG_PATH,
  FRAMADATE_IMAGE,
  FRAMADATE_ROOT,
  FRAMADATE_VERSION,
  SECRETS,
  polls,
} from "../../stacks/services/polls/blueprint.ts";
import { caddyfile } from "../../stacks/services/proxy/blueprint.ts";
import { blueprintContext, blueprints } from "../../stacks/services/catalog.ts";
import { BUILT_IMAGES, FRAMADATE_BASE, IMAGES, isPinned } from "../../stacks/services/images.ts";
import type { Profile, ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";
import { CONTAINER, VOLUME, deployUnderMocks, ofType, secretPlaceholder } from "../support/program.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CONTEXT = join(REPO, BUILT_IMAGES.framadate.context);
const FAKE_PASSWORD = "fake-db-password-0123456789abcdef";
const FAKE_SECRETS = { [SECRETS.dbPassword]: FAKE_PASSWORD, [SECRETS.dbRootPassword]: "fake-root-password-fedcba9876543210" };

const php = () => requireProgram("php", "php-cli");

/** The stand-in Framadate's database is SQLite in memory: PHP needs its PDO driver. */
function phpWithSqlite(): string {
  const modules = run(php(), ["-m"]).stdout.split("\n").map((m) => m.trim());
  if (!modules.includes("pdo_sqlite")) throw new Error("PHP has no pdo_sqlite: apt-get install php-sqlite3 (CI's .ci/run does)");
  return php();
}

function blueprintOf(config: Association, profile: Profile = config.profile): ServiceBlueprint {
  return polls.blueprint(config, blueprintContext(config, profile));
}

const container = (b: ServiceBlueprint, name: string) => {
  const found = b.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};

function configPhp(config: Association, secrets: Record<string, string> = FAKE_SECRETS): string {
  const file = blueprintOf(config).files(secrets).find((f) => f.container === "app" && f.path === CONFIG_PATH);
  if (!file) throw new Error("no config.php for the app");
  return file.content;
}

/** Checks config.php with `php -l`, then runs it and returns what Framadate would read. */
function readBackConfig(content: string): any {
  const dir = scratch({ "config.php": content });
  const lint = run(php(), ["-l", join(dir, "config.php")]);
  if (lint.status !== 0) throw new Error(`php -l failed:\n${lint.stdout}${lint.stderr}`);
  const dump = [
    `include ${phpLiteral(join(dir, "config.php"))};`,
    "$names = ['APP_URL','NOMAPPLICATION','ADRESSEMAILADMIN','ADRESSEMAILREPONSEAUTO','DB_USER','DB_PASSWORD',",
    "'DB_CONNECTION_STRING','MIGRATION_TABLE','TABLENAME_PREFIX','DEFAULT_LANGUAGE','URL_PROPRE','USE_REMOTE_USER','LOG_FILE',",
    "'PURGE_DELAY','MAX_SLOTS_PER_POLL','IMAGE_TITRE'];",
    "$constants = []; foreach ($names as $n) { $constants[$n] = constant($n); }",
    "echo json_encode(['constants' => $constants, 'config' => $config, 'languages' => $ALLOWED_LANGUAGES], JSON_THROW_ON_ERROR);",
  ].join("\n");
  const result = run(php(), ["-d", "display_errors=stderr", "-r", dump]);
  if (result.status !== 0 || result.stderr.trim() !== "") throw new Error(`php could not read config.php:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

// ---------------------------------------------------------------- blueprint

test("the example runs Framadate from the built image, MariaDB and a daily purge", (t) => {
  const config = exampleAssociation();
  const b = blueprintOf(config);
  t.is(b.service, "polls");
  t.deepEqual(b.containers.map((c) => c.name).sort(), ["app", "db", "purge"]);

  const app = container(b, "app");
  const purge = container(b, "purge");
  const db = container(b, "db");
  t.is(app.image, `bastide/framadate:${FRAMADATE_VERSION}`);
  t.is(app.build, "framadate");
  t.is(purge.image, FRAMADATE_IMAGE, "the purge reuses Framadate's own code from the same image");
  t.is(purge.build, "framadate");
  t.is(db.image, IMAGES.mariadb);
  for (const c of b.containers) t.true(isPinned(c.image), `${c.name} is pinned`);

  t.deepEqual(app.networks, ["edge", "internal"]);
  t.deepEqual(db.networks, ["internal"], "the database is never on the edge network");
  t.deepEqual(purge.networks, ["internal"]);
  t.deepEqual(purge.command, ["bastide-purge-loop"]);
  t.deepEqual(app.dependsOn, ["db"]);
  t.deepEqual(purge.dependsOn, ["app"], "the purge starts once the app has migrated the schema");
  for (const c of b.containers) t.falsy(c.ports, `${c.name} publishes no port: the proxy reaches the app`);

  t.deepEqual(b.routes, [
    {
      host: "sondage.jardins-canal.localhost",
      upstream: "bastide-polls-app:80",
      vpnOnlyPaths: ["/admin", "/admin/*"],
      headers: { "X-Robots-Tag": "noindex, nofollow" },
    },
  ]);
});

test("health checks: curl refusing redirects for the app, MariaDB's own script, the purge's stamp", (t) => {
  const b = blueprintOf(exampleAssociation());
  const app = container(b, "app").healthcheck!.test;
  t.is(app[0], "CMD");
  t.is(app[1], "curl");
  t.true(app.includes("--max-redirs") && app.includes("-L"), "a redirect to maintenance.php is a failure");
  t.deepEqual(container(b, "db").healthcheck!.test, ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]);
  t.deepEqual(container(b, "purge").healthcheck!.test, ["CMD", "bastide-purge-loop", "--check"]);
});

test("memory: 320 MiB on the small profile, double on standard, with MariaDB and Apache sized to match", (t) => {
  const config = exampleAssociation();
  const small = blueprintOf(config, "small");
  const standard = blueprintOf(config, "standard");
  const mb = (b: ServiceBlueprint, p: Profile) => Object.fromEntries(b.containers.map((c) => [c.name, c.memoryMb[p]]));
  t.deepEqual(mb(small, "small"), { app: 128, db: 160, purge: 32 });
  const total = (b: ServiceBlueprint, p: Profile) => b.containers.reduce((sum, c) => sum + c.memoryMb[p], 0);
  t.true(total(small, "small") <= 320);
  t.is(total(standard, "standard"), 2 * total(small, "small"));

  const flag = (b: ServiceBlueprint, name: string) => container(b, "db").command!.find((a) => a.startsWith(`--${name}=`));
  t.is(flag(small, "innodb-buffer-pool-size"), "--innodb-buffer-pool-size=32M");
  t.is(flag(standard, "innodb-buffer-pool-size"), "--innodb-buffer-pool-size=96M");
  t.is(container(small, "db").command![0], "mariadbd");
  t.is(container(small, "app").env!.FRAMADATE_MAX_WORKERS, "4");
  t.is(container(standard, "app").env!.FRAMADATE_MAX_WORKERS, "8");
});

test("the poll database is a declared volume that says what it holds and for how long", (t) => {
  const config = exampleAssociation((input) => (input.services.polls = { purgeDelayDays: 45 }));
  const b = blueprintOf(config);
  t.deepEqual(
    b.volumes.map((v) => v.name),
    ["db"],
  );
  const [volume] = b.volumes;
  t.is(volume!.path, "/var/lib/mysql");
  t.regex(volume!.holds, /answers/);
  t.regex(volume!.holds, /45 days after its end date/);
  t.deepEqual(container(b, "db").volumes, [{ volume: "db", path: "/var/lib/mysql" }]);
  t.falsy(container(b, "app").volumes, "the app keeps no data of its own");
});

test("polls can be turned off, and the subdomain changed", (t) => {
  const off = exampleAssociation((input) => (input.services.polls = { enabled: false }));
  t.false(polls.enabled(off));
  t.false(blueprints(off).some((b) => b.service === "polls"));
  t.true(blueprints(exampleAssociation()).some((b) => b.service === "polls"));

  const renamed = exampleAssociation((input) => (input.services.polls = { subdomain: "vote" }));
  t.is(blueprintOf(renamed).routes[0]!.host, "vote.jardins-canal.localhost");
  t.is(readBackConfig(configPhp(renamed)).constants.APP_URL, "vote.jardins-canal.localhost");
});

test("the proxy keeps Framadate's admin pages to the VPN (checked by caddy adapt)", (t) => {
  const config = exampleAssociation();
  const adapted = adaptCaddyfile(caddyfile(config, blueprintOf(config).routes));
  const paths: string[][] = [];
  const walk = (n: any): void => {
    if (n && typeof n === "object") {
      if (Array.isArray(n.path) && n.not) paths.push(n.path);
      Object.values(n).forEach(walk);
    }
  };
  walk(adapted);
  t.deepEqual(paths, [["/admin", "/admin/*"]]);
});

// ---------------------------------------------------------------- config.php

test("config.php is valid PHP and carries the association's settings (read back by php)", (t) => {
  const config = exampleAssociation();
  const { constants, config: settings, languages } = readBackConfig(configPhp(config));
  t.is(constants.NOMAPPLICATION, "Les Jardins Partagés du Canal");
  t.is(constants.ADRESSEMAILADMIN, "contact@jardins-canal.localhost");
  t.is(constants.ADRESSEMAILREPONSEAUTO, "no-reply@jardins-canal.localhost");
  t.is(constants.APP_URL, "sondage.jardins-canal.localhost");
  t.is(constants.DB_USER, "framadate");
  t.is(constants.DB_PASSWORD, FAKE_PASSWORD);
  t.is(constants.DB_CONNECTION_STRING, "mysql:host=bastide-polls-db;port=3306;dbname=framadate;charset=utf8mb4");
  t.is(constants.TABLENAME_PREFIX, "fd_");
  t.is(constants.MIGRATION_TABLE, "framadate_migration");
  t.is(constants.DEFAULT_LANGUAGE, "fr");
  t.true("fr" in languages && "en" in languages);
  t.false(constants.URL_PROPRE);
  t.false(constants.USE_REMOTE_USER);
  t.is(constants.PURGE_DELAY, 60);
  t.is(settings.default_poll_duration, 30);
  t.is(
    settings.tracking_code,
    `<p class="text-center small"><a href="https://sondage.jardins-canal.localhost/confidentialite/sondages.html" lang="fr">Vos données : notice d'information</a> · <a href="https://sondage.jardins-canal.localhost/privacy/polls.html" lang="en">Your data: privacy notice</a></p>`,
    "no analytics snippet: only the link to the respondents' notice",
  );
  t.false(/<script|<img|<iframe|src=/i.test(settings.tracking_code), "nothing that runs or fetches");
  const served = noticePages(config).map((p) => `https://sondage.jardins-canal.localhost${p.path}`);
  for (const href of settings.tracking_code.match(/https:[^"]+/g)) t.true(served.includes(href), `${href} is served by the proxy`);
  t.false(settings.use_smtp, "no mail server in Bastide");
  t.false(settings.user_can_add_img_or_link, "no images loaded from other sites");
  t.true(settings.provide_fork_awesome, "icons served locally, not from a font CDN");
  t.is(typeof settings.smtp_options, "object", "MailService still gets its options");
});

test("Framadate's log file, ROOT_DIR . LOG_FILE, is /dev/null for an install three levels under /", (t) => {
  const { constants } = readBackConfig(configPhp(exampleAssociation()));
  t.is(FRAMADATE_ROOT.split("/").filter(Boolean).length, 3);
  // Rebuild the image's layout under a scratch folder that stands for /.
  const fakeSlash = mkdtempSync(join(tmpdir(), "bastide-fd-root-"));
  t.teardown(() => rmSync(fakeSlash, { recursive: true, force: true }));
  mkdirSync(join(fakeSlash, FRAMADATE_ROOT, "app", "inc"), { recursive: true });
  mkdirSync(join(fakeSlash, "dev"));
  writeFileSync(join(fakeSlash, "dev", "null"), "");
  // Framadate's init.php: define('ROOT_DIR', __DIR__ . '/../../'), __DIR__ being app/inc.
  const rootDir = `${join(fakeSlash, FRAMADATE_ROOT, "app", "inc")}/../../`;
  const resolved = run(php(), ["-r", `echo realpath(${phpLiteral(rootDir)} . ${phpLiteral(constants.LOG_FILE)});`]);
  t.is(resolved.stdout, join(fakeSlash, "dev", "null"));
});

test("purge delay, poll duration and language flow from the config into config.php", (t) => {
  const config = exampleAssociation((input) => {
    input.organisation.language = "en";
    input.services.polls = { purgeDelayDays: 7, defaultDurationDays: 14 };
  });
  const { constants, config: settings } = readBackConfig(configPhp(config));
  t.is(constants.PURGE_DELAY, 7);
  t.is(settings.default_poll_duration, 14);
  t.is(constants.DEFAULT_LANGUAGE, "en");

  const other = readBackConfig(configPhp(exampleAssociation((input) => (input.services.polls = { purgeDelayDays: 365 }))));
  t.is(other.constants.PURGE_DELAY, 365);
});

const HOSTILE = [
  "it's",
  "back\\slash",
  "ends with a backslash\\",
  "\\'",
  "'; system('id'); //",
  "?> <?php echo 'out'; ?>",
  "$config {$x} ${y} \\n \\t \\x41",
  "line\nbreak\r\nand\ttab",
  "quote \" double",
  "null\u0000byte",
  "émoji 🗳️ Ünïcödé",
  "",
];

test("phpString makes a literal PHP reads back as exactly the same string", (t) => {
  const program = HOSTILE.map((s, i) => `$v[${i}] = ${phpLiteral(s)};`).join("\n");
  const dir = scratch({ "strings.php": `<?php\n${program}\necho json_encode($v, JSON_THROW_ON_ERROR);\n` });
  t.is(run(php(), ["-l", join(dir, "strings.php")]).status, 0);
  const result = run(php(), [join(dir, "strings.php")]);
  t.is(result.status, 0, result.stderr);
  t.deepEqual(JSON.parse(result.stdout), HOSTILE);
});

test("a hostile organisation name and password cannot break out of config.php", (t) => {
  const name = "Les \"Amis\" d'O'Brien \\ ?> <?php exit; $x";
  const config = exampleAssociation((input) => (input.organisation.name = name));
  const password = "p'w\\";
  const { constants } = readBackConfig(configPhp(config, { ...FAKE_SECRETS, [SECRETS.dbPassword]: password }));
  t.is(constants.NOMAPPLICATION, name);
  t.is(constants.DB_PASSWORD, password);
});

// ---------------------------------------------------------------- secrets

test("secrets reach containers only through secretEnv and files marked holdsSecrets", (t) => {
  for (const profile of ["small", "standard"] as const) {
    const b = blueprintOf(exampleAssociation(), profile);
    const declared = new Set(b.secrets.map((s) => s.name));
    t.deepEqual([...declared].sort(), [SECRETS.dbPassword, SECRETS.dbRootPassword].sort());
    for (const s of b.secrets) t.true(s.length >= 32, `${s.name} is long enough`);

    const files = b.files(FAKE_SECRETS);
    for (const value of Object.values(FAKE_SECRETS)) {
      t.false(JSON.stringify({ ...b, files: undefined }).includes(value), "no secret value in the blueprint itself");
      for (const f of files) if (f.content.includes(value)) t.true(f.holdsSecrets, `${f.container}:${f.path} holds a secret`);
    }
    for (const c of b.containers) {
      for (const v of Object.values(c.env ?? {})) t.false(v.includes("fake-"), `${c.name} env has no secret`);
      for (const secret of Object.values(c.secretEnv ?? {})) t.true(declared.has(secret), `${c.name} names a declared secret`);
      for (const path of c.files ?? []) t.truthy(files.find((f) => f.container === c.name && f.path === path), `${c.name} gets ${path}`);
    }
    t.deepEqual(container(b, "db").secretEnv, { MARIADB_PASSWORD: SECRETS.dbPassword, MARIADB_ROOT_PASSWORD: SECRETS.dbRootPassword });
    t.deepEqual(
      files.map((f) => [f.container, f.path, f.holdsSecrets, f.mode]),
      [
        ["app", CONFIG_PATH, true, "0640"],
        ["purge", CONFIG_PATH, true, "0640"],
      ],
    );
  }
});

test.serial("under Pulumi mocks the polls containers, image build, protected volume and secret uploads register", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation());
  const containers = ofType(resources, CONTAINER).filter((r) => r.name.startsWith("bastide-polls-"));
  t.deepEqual(containers.map((c) => c.name).sort(), ["bastide-polls-app", "bastide-polls-db", "bastide-polls-purge"]);

  const builds = ofType(resources, "docker:index/image:Image").filter((r) => r.name.startsWith("polls-"));
  t.true(builds.length >= 1);
  for (const b of builds) {
    t.is(b.inputs.build.context, BUILT_IMAGES.framadate.context);
    t.is(b.inputs.imageName, FRAMADATE_IMAGE);
  }

  const volume = ofType(resources, VOLUME).find((v) => v.name === "bastide-polls-db");
  t.truthy(volume);
  t.true(volume!.protect);

  const byName = (name: string) => containers.find((c) => c.name === name)!;
  for (const name of ["bastide-polls-app", "bastide-polls-purge"]) {
    const c = byName(name);
    t.true(c.secretInputs.includes("uploads"), `${name}: config.php is a Pulumi secret`);
    const upload = c.inputs.uploads.find((u: any) => u.file === CONFIG_PATH);
    t.true(upload.content.includes(`const DB_PASSWORD = '${secretPlaceholder(`polls-${SECRETS.dbPassword}`)}';`));
  }
  const db = byName("bastide-polls-db");
  t.true(db.secretInputs.includes("envs"));
  t.true(db.inputs.envs.includes(`MARIADB_PASSWORD=${secretPlaceholder(`polls-${SECRETS.dbPassword}`)}`));
  t.deepEqual(db.inputs.healthcheck.tests, ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]);
});

// ---------------------------------------------------------------- the image

const dockerfile = () => readFileSync(join(CONTEXT, "Dockerfile"), "utf8");

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.split(/\s+/)[0]!.length).trim() }));
}

test("the Dockerfile builds FROM the pinned base and pins the same Framadate version", (t) => {
  const ins = instructions(dockerfile());
  t.deepEqual(
    ins.filter((i) => i.op === "FROM").map((i) => i.args),
    [FRAMADATE_BASE],
  );
  t.true(ins.some((i) => i.op === "ARG" && i.args === `FRAMADATE_VERSION=${FRAMADATE_VERSION}`));
  t.true(ins.some((i) => i.op === "ARG" && /^FRAMADATE_SHA256=/.test(i.args)), "the checksum is a build ARG");
  const run = ins.filter((i) => i.op === "RUN").map((i) => i.args).join("\n");
  t.regex(run, /curl -fsSL --proto '=https'[^\n]*"https:\/\/packages\.framasoft\.org\/projects\/framadate\/framadate-\$\{FRAMADATE_VERSION\}\.zip"/);
  t.regex(run, /if \[ -n "\$FRAMADATE_SHA256" \]; then\s+echo "\$FRAMADATE_SHA256  \/tmp\/framadate\.zip" \| sha256sum -c -/);
  t.regex(run, /docker-php-ext-install [^;]*\bintl\b[^;]*\bpdo_mysql\b/);
  t.regex(run, /grep -q "const VERSION = '\$\{FRAMADATE_VERSION\}';"/, "the build refuses an archive of another version");
  t.notRegex(run, /http:\/\//, "nothing is downloaded in clear");
  t.deepEqual(ins.find((i) => i.op === "ENTRYPOINT")?.args, '["bastide-entrypoint"]');
  t.deepEqual(ins.find((i) => i.op === "CMD")?.args, '["apache2-foreground"]');
  t.regex(dockerfile(), /could not be computed offline/, "the missing checksum is stated");
});

test("every COPY source exists in the build context and lands where the scripts expect it", (t) => {
  const copies = instructions(dockerfile()).filter((i) => i.op === "COPY");
  t.true(copies.length >= 4);
  const copied: string[] = [];
  for (const c of copies) {
    t.false(c.args.startsWith("--from"), "no other build stage");
    const parts = c.args.split(/\s+/);
    const sources = parts.slice(0, -1);
    for (const source of sources) {
      t.true(existsSync(join(CONTEXT, source)), `${source} exists in ${BUILT_IMAGES.framadate.context}`);
      copied.push(source);
    }
  }
  t.deepEqual(copied.sort(), ["apache-bastide.conf", "entrypoint.sh", "migrate.php", "php-bastide.ini", "purge-loop.sh", "purge.php"]);
  const text = dockerfile();
  t.regex(text, /COPY entrypoint\.sh \/usr\/local\/bin\/bastide-entrypoint/);
  t.regex(text, /COPY purge-loop\.sh \/usr\/local\/bin\/bastide-purge-loop/);
  t.regex(text, /BASTIDE_LIB=\/usr\/local\/lib\/bastide/);
  t.regex(text, /FRAMADATE_ROOT=\/var\/www\/html/);
  t.true(CONFIG_PATH.startsWith("/var/www/html/"), "config.php goes into the install folder");
});

test("the image's scripts pass sh -n, bash -n and php -l", (t) => {
  const bash = requireProgram("bash", "bash");
  for (const script of ["entrypoint.sh", "purge-loop.sh"]) {
    const path = join(CONTEXT, script);
    t.true(readFileSync(path, "utf8").startsWith("#!/bin/sh\n"), `${script} is a POSIX sh script`);
    t.is(run("sh", ["-n", path]).status, 0, `sh -n ${script}`);
    t.is(run(bash, ["-n", path]).status, 0, `bash -n ${script}`);
  }
  for (const script of ["migrate.php", "purge.php"]) {
    const lint = run(php(), ["-l", join(CONTEXT, script)]);
    t.is(lint.status, 0, `${script}: ${lint.stdout}${lint.stderr}`);
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("Apache accepts the image's settings and refuses Framadate's sources while serving its assets", async (t) => {
  const apache = requireProgram("apache2", "apache2");
  const modules = "/usr/lib/apache2/modules";
  const dir = mkdtempSync(join(tmpdir(), "bastide-apache-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const docroot = join(dir, "html");
  const pages: Record<string, string> = {
    "app/inc/config.php": "<?php // the database password",
    "tpl/page.tpl": "{$title}",
    "vendor/smarty/smarty/libs/Smarty.class.php": "<?php",
    "vendor/some/lib/font.css": "asset",
    "js/core.js": "script",
    "composer.json": "{}",
  };
  for (const [path, content] of Object.entries(pages)) {
    mkdirSync(dirname(join(docroot, path)), { recursive: true });
    writeFileSync(join(docroot, path), content);
  }
  spawnSync("chmod", ["-R", "a+rX", dir]);
  const port = await freePort();
  const settings = readFileSync(join(CONTEXT, "apache-bastide.conf"), "utf8").replaceAll("/var/www/html", docroot);
  writeFileSync(join(dir, "bastide.conf"), settings);
  writeFileSync(
    join(dir, "httpd.conf"),
    [
      `LoadModule mpm_prefork_module ${modules}/mod_mpm_prefork.so`,
      `LoadModule authz_core_module ${modules}/mod_authz_core.so`,
      "ServerName localhost",
      `PidFile ${dir}/httpd.pid`,
      `ErrorLog ${dir}/error.log`,
      `Listen 127.0.0.1:${port}`,
      `DocumentRoot ${docroot}`,
      "User www-data",
      "Group www-data",
      `Include ${dir}/bastide.conf`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env, FRAMADATE_MAX_WORKERS: "4" };
  const syntax = spawnSync(apache, ["-f", join(dir, "httpd.conf"), "-t"], { env, encoding: "utf8", timeout: 30_000 });
  t.is(syntax.status, 0, syntax.stderr);

  // Apache stops by signalling its whole process group: give it its own.
  const server = spawn(apache, ["-f", join(dir, "httpd.conf"), "-DFOREGROUND"], { env, stdio: "ignore", detached: true });
  t.teardown(() => server.kill("SIGTERM"));
  const status = async (path: string) => (await fetch(`http://127.0.0.1:${port}/${path}`)).status;
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = await status("js/core.js").then((s) => s === 200, () => false);
    if (!up) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.true(up, "Apache answered");
  t.is(await status("app/inc/config.php"), 403);
  t.is(await status("tpl/page.tpl"), 403);
  t.is(await status("vendor/smarty/smarty/libs/Smarty.class.php"), 403);
  t.is(await status("composer.json"), 403);
  t.is(await status("vendor/some/lib/font.css"), 200, "libraries' assets stay reachable");
  const headers = (await fetch(`http://127.0.0.1:${port}/js/core.js`)).headers;
  t.is(headers.get("server"), "Apache", "no version in the Server header");
});

// ---------------------------------------------------------------- the scripts, against a stand-in Framadate

/**
 * A stand-in for Framadate 1.1's files the scripts touch: init.php (which, like the
 * real one, redirects and exits when the database is down), admin/migration.php with
 * its counters, FramaDB::allTables(), Utils::table() and PurgeService::purgeOldPolls()
 * (at most 20 polls a call). Its state lives in files so that runs can be observed.
 */
function fakeFramadate(t: { teardown: (fn: () => void) => void }) {
  const root = mkdtempSync(join(tmpdir(), "bastide-framadate-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    "app/inc/config.php": `<?php
define('DB_CONNECTION_STRING', getenv('FAKE_DSN') ?: 'sqlite::memory:');
define('DB_USER', '');
define('DB_PASSWORD', '');
const TABLENAME_PREFIX = 'fd_';
const MIGRATION_TABLE = 'framadate_migration';
const PURGE_DELAY = 60;
$config = ['default_poll_duration' => 30];
`,
    "app/classes.php": `<?php
namespace Framadate {
    class Utils { public static function table(string $name): string { return TABLENAME_PREFIX . $name; } }
    class FramaDB {
        public function allTables(): array {
            $f = getenv('FAKE_STATE') . '/tables';
            return is_file($f) ? file($f, FILE_IGNORE_NEW_LINES) : [];
        }
    }
}
namespace Framadate\\Services {
    class LogService { public function log(string $tag, string $message): void {} }
    class PurgeService {
        public function __construct(LogService $logService) {}
        public function purgeOldPolls(): int {
            global $config;
            if (!isset($config['default_poll_duration'])) { throw new \\Exception('config not in the global scope'); }
            $f = getenv('FAKE_STATE') . '/expired';
            $left = (int) file_get_contents($f);
            $found = min(20, $left);
            if (!getenv('FAKE_PURGE_STUCK')) { file_put_contents($f, (string) ($left - $found)); }
            file_put_contents(getenv('FAKE_STATE') . '/calls', "call\\n", FILE_APPEND);
            return $found;
        }
    }
}
`,
    "app/inc/init.php": `<?php
@include_once __DIR__ . '/config.php';
require_once __DIR__ . '/../classes.php';
if (getenv('FAKE_DB_DOWN')) {
    header('Location: http://localhost/maintenance.php');
    exit;
}
$connect = new Framadate\\FramaDB();
`,
    "admin/migration.php": `<?php
include_once __DIR__ . '/../app/inc/init.php';
$mode = getenv('FAKE_MIGRATION') ?: 'ok';
if ($mode === 'exit') { echo '<div class="alert">Smarty error page</div>'; exit; }
if ($mode === 'throw') { throw new PDOException('SQLSTATE[42000]: syntax error'); }
file_put_contents(getenv('FAKE_STATE') . '/tables', $mode === 'no-tables' ? '' : "fd_framadate_migration\\nfd_poll\\n");
$countSucceeded = $mode === 'failed' ? 13 : 14;
$countFailed = $mode === 'failed' ? 1 : 0;
$countSkipped = 0;
$fail = $mode === 'failed' ? ['Add column "ValueMax" in table "vote" for version 0.9'] : [];
echo '<html><body>Migration page</body></html>';
`,
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const state = join(root, "state");
  mkdirSync(state);
  writeFileSync(join(state, "expired"), "0");
  // Readable by www-data too, for the entrypoint test that runs as root.
  for (const dir of [root, join(root, "app"), join(root, "app/inc"), join(root, "admin")]) chmodSync(dir, 0o755);
  chmodSync(state, 0o777);
  chmodSync(join(state, "expired"), 0o666);
  return { root, state };
}

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runScript(command: string, args: string[], env: Record<string, string>): Outcome {
  const result = spawnSync(command, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const script = (name: string) => join(CONTEXT, name);

test("migrate.php runs Framadate's migration page, discards its HTML and reports its counters", (t) => {
  const { root, state } = fakeFramadate(t);
  const ok = runScript(phpWithSqlite(), [script("migrate.php")], { FRAMADATE_ROOT: root, FAKE_STATE: state, BASTIDE_DB_WAIT_ATTEMPTS: "1" });
  t.is(ok.status, 0, ok.stderr);
  t.is(ok.stdout, "framadate migration: 14 applied, 0 already in place\n");
  t.false(ok.stdout.includes("<html>"));
});

test("migrate.php fails loudly when a migration fails, the page stops early or throws, or no poll table appears", (t) => {
  const { root, state } = fakeFramadate(t);
  const env = { FRAMADATE_ROOT: root, FAKE_STATE: state, BASTIDE_DB_WAIT_ATTEMPTS: "1" };
  const failed = runScript(phpWithSqlite(), [script("migrate.php")], { ...env, FAKE_MIGRATION: "failed" });
  t.is(failed.status, 1);
  t.regex(failed.stderr, /1 migration\(s\) failed: Add column "ValueMax"/);

  const stopped = runScript(php(), [script("migrate.php")], { ...env, FAKE_MIGRATION: "exit" });
  t.is(stopped.status, 1);
  t.regex(stopped.stderr, /stopped before its end: Smarty error page/);

  const redirected = runScript(php(), [script("migrate.php")], { ...env, FAKE_DB_DOWN: "1" });
  t.is(redirected.status, 1, "init.php's redirect-and-exit is a failure");

  const thrown = runScript(php(), [script("migrate.php")], { ...env, FAKE_MIGRATION: "throw" });
  t.not(thrown.status, 0);

  const empty = runScript(php(), [script("migrate.php")], { ...env, FAKE_MIGRATION: "no-tables" });
  t.is(empty.status, 1);
  t.regex(empty.stderr, /poll table is missing/);
});

test("migrate.php waits for the database a bounded number of times, then fails", (t) => {
  const { root, state } = fakeFramadate(t);
  const started = Date.now();
  const down = runScript(php(), [script("migrate.php")], {
    FRAMADATE_ROOT: root,
    FAKE_STATE: state,
    FAKE_DSN: "mysql:host=127.0.0.1;port=9;dbname=framadate",
    BASTIDE_DB_WAIT_ATTEMPTS: "3",
    BASTIDE_DB_WAIT_SECONDS: "1",
  });
  t.is(down.status, 1);
  t.regex(down.stderr, /database unreachable after 3 attempts/);
  t.true(Date.now() - started >= 2000, "it waited between attempts");
});

test("purge.php repeats Framadate's 20-poll purge until none is left", (t) => {
  const { root, state } = fakeFramadate(t);
  writeFileSync(join(state, "expired"), "45");
  const result = runScript(php(), [script("purge.php")], { FRAMADATE_ROOT: root, FAKE_STATE: state });
  t.is(result.status, 0, result.stderr);
  t.is(result.stdout, "framadate purge: 45 poll(s) purged, none left older than 60 days past its end\n");
  t.is(readFileSync(join(state, "expired"), "utf8"), "0");
  t.is(readFileSync(join(state, "calls"), "utf8").split("\n").filter(Boolean).length, 4, "20 + 20 + 5, then an empty round");
});

test("purge.php stops after its bound when polls keep coming back, and fails when Framadate cannot start", (t) => {
  const { root, state } = fakeFramadate(t);
  writeFileSync(join(state, "expired"), "3");
  const stuck = runScript(php(), [script("purge.php")], {
    FRAMADATE_ROOT: root,
    FAKE_STATE: state,
    FAKE_PURGE_STUCK: "1",
    BASTIDE_PURGE_MAX_ROUNDS: "5",
  });
  t.is(stuck.status, 1);
  t.regex(stuck.stderr, /expired polls remain after 5 rounds/);
  t.is(readFileSync(join(state, "calls"), "utf8").split("\n").filter(Boolean).length, 5);

  const down = runScript(php(), [script("purge.php")], { FRAMADATE_ROOT: root, FAKE_STATE: state, FAKE_DB_DOWN: "1" });
  t.is(down.status, 1);
  t.regex(down.stderr, /Framadate did not start/);
});

test("bastide-purge-loop runs the purge, stamps each success, and its health check reads the stamp", (t) => {
  const { root, state } = fakeFramadate(t);
  writeFileSync(join(state, "expired"), "25");
  const stamp = join(state, "purge.ok");
  const env = {
    FRAMADATE_ROOT: root,
    FAKE_STATE: state,
    BASTIDE_PURGE_SCRIPT: script("purge.php"),
    BASTIDE_PURGE_STAMP: stamp,
    BASTIDE_PURGE_INTERVAL_SECONDS: "0",
    BASTIDE_PURGE_RUNS: "2",
  };
  const check = () => runScript("sh", [script("purge-loop.sh"), "--check"], env).status;
  t.not(check(), 0, "unhealthy before any purge");

  const loop = runScript("sh", [script("purge-loop.sh")], env);
  t.is(loop.status, 0, loop.stderr);
  t.is(loop.stdout.split("\n").filter((l) => l.startsWith("framadate purge:")).length, 2, "two bounded runs");
  t.true(existsSync(stamp));
  t.is(check(), 0, "healthy after a success");

  const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
  utimesSync(stamp, old, old);
  t.not(check(), 0, "unhealthy when the last success is days old");
});

test("bastide-purge-loop keeps no stamp when the purge fails", (t) => {
  const { root, state } = fakeFramadate(t);
  const stamp = join(state, "purge.ok");
  const loop = runScript("sh", [script("purge-loop.sh")], {
    FRAMADATE_ROOT: root,
    FAKE_STATE: state,
    FAKE_DB_DOWN: "1",
    BASTIDE_PURGE_SCRIPT: script("purge.php"),
    BASTIDE_PURGE_STAMP: stamp,
    BASTIDE_PURGE_RETRY_SECONDS: "0",
    BASTIDE_PURGE_RUNS: "1",
  });
  t.is(loop.status, 0);
  t.regex(loop.stderr, /purge failed, next try in 0s/);
  t.false(existsSync(stamp));
});

test("the entrypoint secures config.php, migrates before Apache, and runs other roles as www-data", (t) => {
  const { root, state } = fakeFramadate(t);
  const lib = join(root, "lib");
  const bin = join(root, "bin");
  mkdirSync(lib);
  mkdirSync(bin);
  for (const name of ["migrate.php", "purge.php"]) writeFileSync(join(lib, name), readFileSync(script(name)));
  // Stands for the base image's entrypoint: records who runs what.
  writeFileSync(join(bin, "docker-php-entrypoint"), `#!/bin/sh\necho "$(id -un) $*" >> "$FAKE_STATE/entrypoint.log"\n`);
  for (const dir of [lib, bin]) chmodSync(dir, 0o755);
  chmodSync(join(bin, "docker-php-entrypoint"), 0o755);
  writeFileSync(join(state, "entrypoint.log"), "");
  chmodSync(join(state, "entrypoint.log"), 0o666);
  phpWithSqlite();
  const env = { FRAMADATE_ROOT: root, BASTIDE_LIB: lib, FAKE_STATE: state, BASTIDE_DB_WAIT_ATTEMPTS: "1", PATH: `${bin}:${process.env.PATH}` };
  const root_ = process.getuid?.() === 0;
  const appUser = root_ ? "www-data" : spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();
  const me = spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();

  const web = runScript("sh", [script("entrypoint.sh"), "apache2-foreground"], env);
  t.is(web.status, 0, web.stderr);
  t.regex(web.stdout, /framadate migration: 14 applied/);
  if (root_) {
    const stat = statSync(join(root, "app/inc/config.php"));
    t.is(stat.mode & 0o777, 0o640);
    t.is(stat.uid, 0);
    t.is(stat.gid, Number(spawnSync("id", ["-g", "www-data"], { encoding: "utf8" }).stdout.trim()));
    t.is(readFileSync(join(state, "tables"), "utf8").length > 0, true);
    t.is(statSync(join(state, "tables")).uid, Number(spawnSync("id", ["-u", "www-data"], { encoding: "utf8" }).stdout.trim()), "migrated as www-data");
  }

  const purge = runScript("sh", [script("entrypoint.sh"), "bastide-purge-loop"], env);
  t.is(purge.status, 0, purge.stderr);
  t.is(purge.stdout, "", "the purge role does not migrate");
  t.deepEqual(readFileSync(join(state, "entrypoint.log"), "utf8").split("\n").filter(Boolean), [
    `${me} apache2-foreground`,
    `${appUser} bastide-purge-loop`,
  ]);

  rmSync(join(root, "app/inc/config.php"));
  const missing = runScript("sh", [script("entrypoint.sh"), "apache2-foreground"], env);
  t.is(missing.status, 1);
  t.regex(missing.stderr, /config\.php is missing/);
});
