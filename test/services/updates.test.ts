// `npm run updates` against a real OCI registry (CNCF distribution, test/support/registry.ts) with
// token authentication: the newer patch found with the digest the registry answers, the variant
// and the pinning scheme kept, a new major flagged and not bumped, a data-migration major never
// proposed, an unreachable or rate-limiting registry reported for its image only; the patch applies
// with git and --write gives the same files. GitHub cannot be reached here: release notes that
// cannot be read must be said so, not guessed; the security verdict on notes that can be read is
// checked with a server answering in the shape of GitHub's releases API.
import test from "ava";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../cli/updates.ts";
import { applyBumps, patchOf } from "../../stacks/services/updates/proposal.ts";
import { securityMention } from "../../stacks/services/updates/release-notes.ts";
import { newerReleases, SERIES_RULES } from "../../stacks/services/updates/versions.ts";
import { freePort } from "../support/docker.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// --- the choice of tags, pure -----------------------------------------------------------

test("a newer patch keeps the variant; moving tags, other variants and pre-releases are never proposed", (t) => {
  const tags = ["34.0.4-apache", "34.0.5-apache", "34.0.6-fpm", "34.0-apache", "34-apache", "latest", "34.0.7rc1-apache", "35.0.0-apache"];
  t.deepEqual(newerReleases("34.0.4-apache", tags), { bump: "34.0.5-apache", laterSeries: { tag: "35.0.0-apache", rule: { series: 1, laterSeries: "bump" } } });
  t.deepEqual(newerReleases("34.0.5-apache", ["34.0.4-apache", "34.0.5-apache"]), {}, "nothing older or equal");
});

test("Nextcloud's next major is the only later one shown; a PostgreSQL major is a migration; MariaDB keeps its 11.8 series", (t) => {
  const nextcloud = SERIES_RULES["library/nextcloud"]!;
  t.is(newerReleases("34.0.4-apache", ["35.0.2-apache", "36.0.1-apache"], nextcloud).laterSeries?.tag, "35.0.2-apache");
  t.is(newerReleases("33.0.9-apache", ["35.0.2-apache"], nextcloud).laterSeries, undefined, "33 → 35 is two majors: not shown");
  const postgres = newerReleases("17.11-alpine", ["17.12-alpine", "18.1-alpine"], SERIES_RULES["library/postgres"]!);
  t.is(postgres.bump, "17.12-alpine");
  t.is(postgres.laterSeries?.rule.laterSeries, "migration");
  const mariadb = newerReleases("11.8.9", ["11.8.10", "11.9.1", "12.0.2"], SERIES_RULES["library/mariadb"]!);
  t.is(mariadb.bump, "11.8.10");
  t.is(mariadb.laterSeries?.tag, "12.0.2");
  t.is(newerReleases("stable-11146-2", ["stable-11146-3", "stable-11200-1"], SERIES_RULES["jitsi/web"]!).bump, "stable-11200-1", "every Jitsi release is the next");
  t.is(newerReleases("1.0.20250521-r1-ls110", ["1.0.20250521-r1-ls111", "1.0.20250521-r2-ls112"]).bump, "1.0.20250521-r2-ls112");
});

test("a release is called a security release only when its notes say so", (t) => {
  t.is(securityMention("## Bug fixes\n- Fix crash on startup\n"), undefined);
  t.is(securityMention("Upgrade urgency: SECURITY, see below\n* (CVE-2025-21605) Limit output buffer"), "Upgrade urgency: SECURITY, see below");
  t.is(securityMention("Fixes:\n- Fix for CVE-2026-1234 in the share API"), "- Fix for CVE-2026-1234 in the share API");
});

test("a bump replaces the pin, dates it and says where its digest came from; a former such comment is replaced, not stacked", (t) => {
  const before = 'export const IMAGES = {\n  // Digest: a record.\n  redis: "redis:7.4.11-alpine@sha256:' + "a".repeat(64) + '",\n} as const;\n';
  const bump = { from: `redis:7.4.11-alpine@sha256:${"a".repeat(64)}`, to: `redis:7.4.12-alpine@sha256:${"b".repeat(64)}`, source: "https://registry-1.docker.io/v2/library/redis/manifests/7.4.12-alpine", date: "2026-12-07" };
  const once = applyBumps(before, [bump]);
  t.true(once.includes(`  // npm run updates, 2026-12-07: redis:7.4.12-alpine, digest sha256:${"b".repeat(64)} as answered by https://registry-1.docker.io/v2/library/redis/manifests/7.4.12-alpine (was ${bump.from}).\n  redis: "${bump.to}",`), once);
  t.true(once.includes("// Digest: a record."), "the reviewed comment is kept for the reviewer to update");
  const twice = applyBumps(once, [{ ...bump, from: bump.to, to: `redis:7.4.13-alpine@sha256:${"c".repeat(64)}`, date: "2026-12-08" }]);
  t.is(twice.match(/npm run updates,/g)?.length, 1);
  t.is(patchOf("stacks/services/images.ts", before, before), "");
});

// --- against a real registry ------------------------------------------------------------

/** A project folder with an images.ts and a Dockerfile like Bastide's, pinned to images in `host`. */
function project(images: Record<string, string>, base: string): string {
  const root = mkdtempSync(join(tmpdir(), "bastide-updates-"));
  mkdirSync(join(root, "stacks", "services"), { recursive: true });
  mkdirSync(join(root, "docker", "framadate"), { recursive: true });
  // An ES module, as in Bastide (package.json "type": "module"), so that a rewritten images.ts is read anew.
  writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module" }));
  const entries = Object.entries(images).map(([name, reference]) => `  // Digest: the record it was read in.\n  ${name}: "${reference}",`);
  writeFileSync(
    join(root, "stacks", "services", "images.ts"),
    `export const IMAGES = {\n${entries.join("\n")}\n} as const;\n\n/** Base of an image the project builds. */\nexport const FRAMADATE_BASE = "${base}";\n`,
  );
  writeFileSync(join(root, "docker", "framadate", "Dockerfile"), `# Must stay FROM the same reference as FRAMADATE_BASE.\nFROM ${base}\nRUN true\n`);
  return root;
}

async function updates(root: string, args: string[], releaseNotesApi: string, lang = "C.UTF-8") {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { LANG: lang }, { log: (text) => out.push(text), error: (text) => err.push(text) }, {
    root,
    releaseNotesApi,
    today: "2026-12-07",
    // Two tags a page: the registry lists tags in lexical order, so 34.0.5-apache and every later
    // tag of library/nextcloud are found only by following its pages.
    tagsPageSize: 2,
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** An HTTP server on 127.0.0.1 that answers every request 429, as a rate-limiting registry does. */
async function rateLimitingRegistry() {
  const port = await freePort();
  const server = createServer((_req, res) => {
    res.writeHead(429, { "content-type": "application/json", "retry-after": "1" });
    res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "You have reached your pull rate limit." }] }));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { host: `127.0.0.1:${port}`, stop: () => new Promise((resolve) => server.close(resolve)) };
}

let registry: TestRegistry;
const pushed: Record<string, string> = {};

test.before(async () => {
  registry = await startRegistry();
  const tags: Record<string, string[]> = {
    "library/nextcloud": ["34.0.4-apache", "34.0.5-apache", "34.0.6-fpm", "34-apache", "35.0.1-apache", "36.0.0-apache"],
    "library/postgres": ["17.11-alpine", "17.12-alpine", "18.1-alpine"],
    "jitsi/web": ["stable-11146-2", "stable-11200-1"],
    "library/php": ["8.2.34-apache", "8.2.35-apache", "8.3.1-apache"],
  };
  for (const [repository, list] of Object.entries(tags)) for (const tag of list) pushed[`${repository}:${tag}`] = await registry.push(repository, tag);
});

test.after.always(async () => {
  await registry?.stop();
});

test("updates: the newer patch with the digest the registry answers, variant and scheme kept, majors flagged, an unreachable or rate-limited registry reported alone", async (t) => {
  const host = registry.host;
  const closed = `127.0.0.1:${await freePort()}`;
  const limiting = await rateLimitingRegistry();
  const notes = `http://127.0.0.1:${await freePort()}`;
  const images = {
    nextcloud: `${host}/library/nextcloud:34.0.4-apache@${pushed["library/nextcloud:34.0.4-apache"]}`,
    postgres: `${host}/library/postgres:17.11-alpine@${pushed["library/postgres:17.11-alpine"]}`,
    jitsiWeb: `${host}/jitsi/web:stable-11146-2`,
    redis: `${closed}/library/redis:7.4.11-alpine@sha256:${"0".repeat(64)}`,
    keycloak: `${limiting.host}/keycloak/keycloak:26.7.3`,
  };
  const base = `${host}/library/php:8.2.34-apache@${pushed["library/php:8.2.34-apache"]}`;
  const root = project(images, base);
  const pristine = mkdtempSync(join(tmpdir(), "bastide-updates-pristine-"));
  cpSync(root, pristine, { recursive: true });
  try {
    const run = await updates(root, [], notes);
    t.is(run.code, 2, "two images could not be checked");

    // The registry's own answer for the new tag, asked apart from `updates`.
    const nextcloud = await registry.digestOf("library/nextcloud", "34.0.5-apache");
    t.is(nextcloud, pushed["library/nextcloud:34.0.5-apache"]!, "the digest the push was answered");
    const postgres = await registry.digestOf("library/postgres", "17.12-alpine");
    const php = await registry.digestOf("library/php", "8.2.35-apache");

    // What it says, image by image.
    t.regex(run.stdout, new RegExp(`newer, proposed: ${host}/library/nextcloud:34\\.0\\.5-apache@${nextcloud}\\n\\s+digest read from http://${host}/v2/library/nextcloud/manifests/34\\.0\\.5-apache`));
    t.regex(run.stdout, /NEW MAJOR \(not in this patch; to take it alone: npm run updates -- --major nextcloud\): \S+\/library\/nextcloud:35\.0\.1-apache@sha256:/);
    t.regex(run.stdout, /Nextcloud upgrades one major version at a time/);
    t.notRegex(run.stdout, /36\.0\.0-apache|34\.0\.6-fpm/, "two majors ahead, or another variant, is never shown");
    t.regex(run.stdout, /NEW MAJOR \(never proposed as a bump\): \S+\/library\/postgres:18\.1-alpine@sha256:[0-9a-f]{64}\n.*\n.*\n\s+a new PostgreSQL major cannot read/);
    t.regex(run.stdout, new RegExp(`newer, proposed: ${host}/jitsi/web:stable-11200-1\\n\\s+digest read from \\S+ \\(digest sha256:[0-9a-f]{64}\\)`), "a tag-only pin stays tag-only");
    t.regex(run.stdout, /redis {2}\S+\n {2}NOT CHECKED: the registry could not be reached \(ECONNREFUSED\)/);
    t.regex(run.stdout, /keycloak {2}\S+\n {2}NOT CHECKED: the registry refused with 429 Too Many Requests \(rate limited\)/);
    t.regex(run.stdout, /FRAMADATE_BASE {2}\S+\n {2}newer, proposed: \S+\/library\/php:8\.2\.35-apache@/);
    t.regex(run.stdout, new RegExp(`security: not known, the release notes at ${notes}/repos/nextcloud/server/releases/tags/v34\\.0\\.5 could not be read`));
    t.regex(run.stdout, /security: not known, Bastide knows no release notes for this image/, "PostgreSQL publishes none on GitHub");

    // The patch: what git applies to the untouched project, and nothing else.
    const patch = run.stdout.slice(run.stdout.indexOf("--- a/"), run.stdout.indexOf("To apply it:"));
    const added = patch.split("\n").filter((line) => line.startsWith("+") && !line.startsWith("+++"));
    t.is(added.length, 10, "a comment and a pin for nextcloud, postgres, jitsiWeb and FRAMADATE_BASE in images.ts, and for the base in the Dockerfile");
    t.false(added.some((line) => /35\.0\.1|18\.1-alpine|redis|keycloak/.test(line)), patch);
    writeFileSync(join(pristine, "proposal.patch"), patch);
    execFileSync("git", ["apply", "proposal.patch"], { cwd: pristine });

    const written = await updates(root, ["--write"], notes);
    t.regex(written.stdout, /written: stacks\/services\/images\.ts, docker\/framadate\/Dockerfile/);
    for (const file of ["stacks/services/images.ts", "docker/framadate/Dockerfile"])
      t.is(readFileSync(join(root, file), "utf8"), readFileSync(join(pristine, file), "utf8"), `${file}: --write and the patch agree`);
    const imagesTs = readFileSync(join(root, "stacks/services/images.ts"), "utf8");
    for (const expected of [
      `nextcloud: "${host}/library/nextcloud:34.0.5-apache@${nextcloud}"`,
      `postgres: "${host}/library/postgres:17.12-alpine@${postgres}"`,
      `jitsiWeb: "${host}/jitsi/web:stable-11200-1"`,
      `FRAMADATE_BASE = "${host}/library/php:8.2.35-apache@${php}"`,
      `// npm run updates, 2026-12-07: ${host}/library/nextcloud:34.0.5-apache, digest ${nextcloud} as answered by http://${host}/v2/library/nextcloud/manifests/34.0.5-apache (was ${images.nextcloud}).`,
    ])
      t.true(imagesTs.includes(expected), expected);
    t.regex(readFileSync(join(root, "docker/framadate/Dockerfile"), "utf8"), new RegExp(`# npm run updates, 2026-12-07: .*\\nFROM ${host}/library/php:8\\.2\\.35-apache@${php}\\n`));

    // Up to date now: a second run proposes nothing.
    const again = await updates(root, [], notes);
    t.regex(again.stdout, /Nothing to change among the images checked; 2 could not be checked \(above\): run it again later\./, "redis and keycloak still could not be checked");

    // The next Nextcloud major, only when asked for by name; a PostgreSQL major never.
    const major = await updates(root, ["--major", "nextcloud"], notes);
    t.is(major.code, 0);
    t.regex(major.stdout, /\+ {2}nextcloud: "\S+\/library\/nextcloud:35\.0\.1-apache@sha256:[0-9a-f]{64}",/);
    const refused = await updates(root, ["--major", "postgres", "--write"], notes);
    t.regex(refused.stderr, /postgres: 18\.1-alpine is another major version: a new PostgreSQL major cannot read/);
    t.regex(refused.stdout, /Nothing to change\./);
    t.true(readFileSync(join(root, "stacks/services/images.ts"), "utf8").includes("postgres:17.12-alpine"));
    const unknown = await updates(root, ["--major", "nginx"], notes);
    t.is(unknown.code, 2);
    t.regex(unknown.stderr, /--major nginx: no pinned image has that name; the names are nextcloud, postgres, jitsiWeb, redis, keycloak, FRAMADATE_BASE/);
  } finally {
    await limiting.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(pristine, { recursive: true, force: true });
  }
});

test("updates: a release whose notes mention a CVE is called a security release, with the line and the notes' page; notes that are not there are said so", async (t) => {
  const host = registry.host;
  // The shape of GitHub's "Get a release by tag name" answer (REST API, releases: `body`, `html_url`),
  // served for Nextcloud 34.0.5 only; GitHub itself cannot be reached from here.
  const port = await freePort();
  const notes = createServer((req, res) => {
    if (req.url === "/repos/nextcloud/server/releases/tags/v34.0.5") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ tag_name: "v34.0.5", html_url: "https://github.com/nextcloud/server/releases/tag/v34.0.5", body: "## Changes\n- Fix share expiry for CVE-2026-12345 in the sharing API\n- Update translations" }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "Not Found" }));
  });
  await new Promise<void>((resolve) => notes.listen(port, "127.0.0.1", resolve));
  const root = project({ nextcloud: `${host}/library/nextcloud:34.0.4-apache@${pushed["library/nextcloud:34.0.4-apache"]}` }, `${host}/library/php:8.2.34-apache@${pushed["library/php:8.2.34-apache"]}`);
  try {
    const run = await updates(root, [], `http://127.0.0.1:${port}`);
    t.is(run.code, 0);
    t.regex(run.stdout, /nextcloud:34\.0\.5-apache@sha256:[0-9a-f]{64}\n.*\n\s+SECURITY release: upstream's release notes say "- Fix share expiry for CVE-2026-12345 in the sharing API" \(https:\/\/github\.com\/nextcloud\/server\/releases\/tag\/v34\.0\.5\)/);
    t.regex(run.stdout, new RegExp(`php:8\\.2\\.35-apache@sha256:[0-9a-f]{64}\\n.*\\n\\s+security: not known, the release notes at http://127\\.0\\.0\\.1:${port}/repos/php/php-src/releases/tags/php-8\\.2\\.35 could not be read \\(HTTP 404\\)`));
    // The same, for an admin whose locale is French.
    const french = await updates(root, [], `http://127.0.0.1:${port}`, "fr_FR.UTF-8");
    t.regex(french.stdout, /plus récente, proposée : \S+nextcloud:34\.0\.5-apache@sha256:[0-9a-f]{64}\n\s+empreinte lue sur .*\n\s+Version de SÉCURITÉ : les notes de version de l'amont disent « - Fix share expiry for CVE-2026-12345 in the sharing API »/);
    t.regex(french.stdout, /sécurité : inconnue, les notes de version \S+php-8\.2\.35 n'ont pas pu être lues \(HTTP 404\)/);
    t.regex(french.stdout, /NOUVELLE MAJEURE \(hors de ce patch ; pour la prendre seule : npm run updates -- --major nextcloud\) :/);
  } finally {
    await new Promise((resolve) => notes.close(resolve));
    rmSync(root, { recursive: true, force: true });
  }
});
