// `npm run plan -- <config.yaml> [--out DIR]`: what `pulumi up` would create, with no
// Pulumi CLI, no Docker and no cloud account. Prints every resource and writes every
// rendered config file for review. Generated secrets, the secrets the admin supplies
// (such as the mail relay's password) and every value computed from a secret (such as
// the VPN server's private key) appear as <secret:name>, never as values.
// It starts with a summary in plain words (stacks/summary.ts); `--since <old config.yaml>`
// adds who arrives, who leaves and who changes team since that file. Every line fits an
// 80-column terminal.
// `npm run plan [config.yaml] --secret-keys` prints only the config keys of the secrets
// the admin must set before `pulumi up` (one per line), for `npm run deploy`.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { answerHelp, requireAssociationFile, silenceSqliteWarning, usageLine, UsageError, localeLanguage, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../config/load.ts";
import { PROFILES, type Association } from "../config/schema.ts";
import { memoryUse } from "../config/sizing.ts";
import { CONFIG_NAMESPACE, suppliedSecrets } from "../config/supplied.ts";
import { planSummary, rosterOf, TERMINAL_WIDTH, wrapText } from "../summary.ts";
import wrapAnsi from "wrap-ansi";
import { failure } from "./failure.ts";
import { CONTAINER, deployUnderMocks, secretPlaceholder, type Registered } from "./mocks.ts";

export interface PlanRow {
  type: string;
  name: string;
  image: string;
  ports: string;
  notes: string;
}

/** Short type names: `docker:index/container:Container` → `docker:Container`. */
const shortType = (type: string) => type.replace(/:index\//, ":").replace(/:[a-zA-Z]+\/[a-zA-Z]+:/, ":").replace(/^([^:]+):[^:]*:/, "$1:");

export function planRows(resources: Registered[]): PlanRow[] {
  return resources
    .filter((r) => !r.type.startsWith("bastide:") || r.type === "bastide:index:Bastide")
    .map((r) => ({
      type: shortType(r.type),
      name: r.name,
      image: r.type === CONTAINER ? String(r.inputs.image ?? "") : "",
      ports: ((r.inputs.ports as { external: number; protocol: string }[] | undefined) ?? [])
        .map((p) => `${p.external}/${p.protocol}`)
        .join(" "),
      notes: [
        r.protect ? "protected" : "",
        r.type === CONTAINER ? `${r.inputs.memory} MiB` : "",
        r.secretInputs.length > 0 ? `secret: ${r.secretInputs.join(",")}` : "",
      ]
        .filter(Boolean)
        .join("; "),
    }));
}

// An image pinned by digest is longer than a terminal line: the digest shows as Docker shows
// image ids, its first 12 hex digits (stacks/services/images.ts and the rendered files hold it whole).
const shortDigest = (image: string) => image.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}\b/, "@sha256:$1…");

/**
 * One resource per line (type, name); below it, indented, its image, then its ports and
 * notes; every line within `width` columns.
 */
export function formatTable(rows: PlanRow[], width = TERMINAL_WIDTH): string {
  const typeWidth = Math.max(...rows.map((r) => r.type.length), "TYPE".length);
  const fit = (text: string, first: string, rest: string) =>
    wrapAnsi(text, width - rest.length, { hard: true, trim: true })
      .split("\n")
      .map((line, i) => (i === 0 ? first : rest) + line);
  const under = " ".repeat(typeWidth + 2);
  const detail = "    ";
  const lines = [`${"TYPE".padEnd(typeWidth)}  NAME`];
  for (const r of rows) {
    lines.push(...fit(r.name, `${r.type.padEnd(typeWidth)}  `, under));
    if (r.image) lines.push(...fit(shortDigest(r.image), detail, detail));
    const more = [r.ports && `ports ${r.ports}`, r.notes].filter(Boolean).join("; ");
    if (more) lines.push(...fit(more, detail, detail));
  }
  return lines.join("\n");
}

/** Writes each container's uploaded files under `out/<container>/<path in container>`. */
export function writeRenderedFiles(resources: Registered[], out: string): string[] {
  const written: string[] = [];
  for (const r of resources.filter((x) => x.type === CONTAINER)) {
    for (const upload of (r.inputs.uploads as { file: string; content: string }[] | undefined) ?? []) {
      const target = join(out, String(r.inputs.name), upload.file);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, upload.content);
      written.push(target);
    }
  }
  return written;
}

/** The secrets the admin supplies, as placeholders: the plan needs no real one. */
export function suppliedPlaceholders(config: Association): Record<string, string> {
  return Object.fromEntries(suppliedSecrets(config).map((s) => [s.name, secretPlaceholder(s.name)]));
}

/** What a value computed from a secret shows in a plan. */
export const DERIVED_SECRET = secretPlaceholder("derived from a secret");

const PLACEHOLDER = /<secret:[^>]*>/g;
// Words, base64 and hex runs are the units a derived value is made of.
const TOKENS = /([A-Za-z0-9+/=_.-]+)/;

/**
 * A secret file's content with every value computed from a secret masked. `content` and
 * `other` are the same file rendered from two different sets of placeholders, `variant`
 * being what the second set appends: a placeholder copied as such reads the same once the
 * variant is removed, while a value computed from one (a hash, a derived key) differs.
 */
export function maskDerivedSecrets(content: string, other: string, variant: string): string {
  const normalised = other.split(variant).join("");
  if (normalised === content) return content;
  const lines = content.split("\n");
  const otherLines = normalised.split("\n");
  // A derived value spanning lines: nothing can be shown safely.
  if (lines.length !== otherLines.length) return DERIVED_SECRET;
  return lines
    .map((line, i) => {
      if (line === otherLines[i]) return line;
      const theirs = new Set(otherLines[i]!.replace(PLACEHOLDER, " ").split(TOKENS));
      return line
        .split(PLACEHOLDER)
        .map((part) => part.split(TOKENS).map((token) => (TOKENS.test(token) && !theirs.has(token) ? DERIVED_SECRET : token)).join(""))
        .reduce((out, part, j) => out + (j > 0 ? line.match(PLACEHOLDER)![j - 1] : "") + part, "");
    })
    .join("\n");
}

const VARIANT = "~2";

/**
 * The offline plan: the program under mocks, supplied secrets as placeholders, and in every
 * secret file the values derived from a secret masked (found by a second run whose
 * placeholders differ).
 */
export async function offlinePlan(config: Association): Promise<Registered[]> {
  const provided = suppliedPlaceholders(config);
  const resources = await deployUnderMocks(config, provided);
  if (!resources.some((r) => r.secretFiles.length > 0)) return resources;
  const again = await deployUnderMocks(
    config,
    Object.fromEntries(Object.entries(provided).map(([k, v]) => [k, `${v}${VARIANT}`])),
    { placeholderVariant: VARIANT },
  );
  return resources.map((r) => {
    if (r.secretFiles.length === 0) return r;
    const twin = again.find((x) => x.urn === r.urn);
    const uploads = (r.inputs.uploads as { file: string; content: string }[]).map((u) => {
      if (!r.secretFiles.includes(u.file)) return u;
      const other = (twin?.inputs.uploads as { file: string; content: string }[] | undefined)?.find((x) => x.file === u.file)?.content;
      return { ...u, content: other === undefined ? DERIVED_SECRET : maskDerivedSecrets(u.content, other, VARIANT) };
    });
    return { ...r, inputs: { ...r.inputs, uploads } };
  });
}

/** Printed after the plan: what `pulumi up` will ask for. */
export function suppliedSecretsNote(config: Association): string {
  const needed = suppliedSecrets(config);
  if (needed.length === 0) return "";
  return `this file needs ${needed.length === 1 ? "a secret" : "secrets"} that only you can supply; before pulumi up, run:\n${needed.map((s) => `  ${s.command}`).join("\n")}`;
}

export function memorySummary(config: Association): string {
  const used = memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
  return `memory limits: ${used} MiB of ${PROFILES[config.profile].containerBudgetMb} MiB allowed by profile ${config.profile}`;
}

const USAGE: Localized = {
  en: `usage: npm run plan -- <path/to/association.yaml> [--out out/plan]

What pulumi up would create, with no Pulumi CLI, no Docker and no cloud account: every resource,
and every generated file written under out/plan/ for review (secrets as <secret:name>).`,
  fr: `usage : npm run plan -- <chemin/vers/association.yaml> [--out out/plan]

Ce que pulumi up créerait, sans la commande Pulumi, sans Docker ni compte cloud : chaque
ressource, et chaque fichier généré écrit dans out/plan/ pour relecture (secrets en <secret:nom>).`,
};

async function main(): Promise<void> {
  answerHelp(process.argv.slice(2), USAGE);
  silenceSqliteWarning();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: "string", default: "out/plan" }, since: { type: "string" }, "secret-keys": { type: "boolean", default: false } },
  });
  const file = requireAssociationFile(positionals[0], "plan");
  const config = loadAssociation(file);
  if (values["secret-keys"]) {
    for (const s of suppliedSecrets(config)) console.log(`${CONFIG_NAMESPACE}:${s.configKey}`);
    return;
  }
  const previous = values.since ? { roster: rosterOf(loadAssociation(values.since)), source: values.since } : undefined;
  const resources = await offlinePlan(config);
  const out = resolve(values.out!);
  rmSync(out, { recursive: true, force: true });
  const files = writeRenderedFiles(resources, out);
  console.log(`${planSummary(config, previous)}\n`);
  console.log(`${wrapText(`Plan for ${config.organisation.name} (${file}), host target ${config.host.target}`)}\n`);
  console.log(formatTable(planRows(resources)));
  console.log(`\n${wrapText(`${resources.length} resources; ${memorySummary(config)}`)}`);
  console.log(wrapText(`${files.length} rendered files written under ${out}`));
  const note = suppliedSecretsNote(config);
  if (note) console.log(`\n${note}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
