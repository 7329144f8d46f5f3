// `npm run plan [config.yaml] [--out DIR]`: what `pulumi up` would create, with no
// Pulumi CLI, no Docker and no cloud account. Prints every resource and writes every
// rendered config file for review. Generated secrets appear as <secret:name>.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadAssociation } from "../config/load.ts";
import { PROFILES, type Association } from "../config/schema.ts";
import { memoryUse } from "../config/sizing.ts";
import { CONTAINER, deployUnderMocks, type Registered } from "./mocks.ts";

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

export function formatTable(rows: PlanRow[]): string {
  const headers: PlanRow = { type: "TYPE", name: "NAME", image: "IMAGE", ports: "PORTS", notes: "NOTES" };
  const keys = Object.keys(headers) as (keyof PlanRow)[];
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[headers, ...rows].map((r) => r[k].length))]));
  return [headers, ...rows].map((r) => keys.map((k) => r[k].padEnd(width[k]!)).join("  ").trimEnd()).join("\n");
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

export function memorySummary(config: Association): string {
  const used = memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
  return `memory limits: ${used} MiB of ${PROFILES[config.profile].containerBudgetMb} MiB allowed by profile ${config.profile}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: "string", default: "out/plan" } } });
  const file = positionals[0] ?? "examples/association.yaml";
  const config = loadAssociation(file);
  const resources = await deployUnderMocks(config);
  const out = resolve(values.out!);
  rmSync(out, { recursive: true, force: true });
  const files = writeRenderedFiles(resources, out);
  console.log(`Plan for ${config.organisation.name} (${file}), host target ${config.host.target}\n`);
  console.log(formatTable(planRows(resources)));
  console.log(`\n${resources.length} resources; ${memorySummary(config)}`);
  console.log(`${files.length} rendered files written under ${out}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  });
}
