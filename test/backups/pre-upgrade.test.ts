// Backup before upgrade: every service container waits for the pre-upgrade backup resource, whose
// inputs are the images of the data-holding containers. An image bump changes it (its update runs
// the backup, and fails the run when the backup fails, before any container is replaced); an
// unchanged run does not touch it. The provider is run the way the engine runs it: its update
// imports the runner named in its inputs (here a stand-in module, for the backup's two outcomes).
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blueprints } from "../../stacks/services/catalog.ts";
import { containerName, type ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { BACKUP_CONTAINER } from "../../stacks/backups/layout.ts";
import { dataHoldingImages, preUpgradeProvider, rollbackInstructions, type PreUpgradeInputs, type PreUpgradeOutputs } from "../../stacks/backups/pre-upgrade.ts";
import { exampleAssociation } from "../support/association.ts";
import { CONTAINER, deployUnderMocks, ofType } from "../support/program.ts";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz";
const config = exampleAssociation((i) => {
  i.backups = { destination: { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: HOST_KEY, country: "DE" } };
});
const NEXT_NEXTCLOUD = "nextcloud:35.0.0-apache";

/** The blueprints with Nextcloud's image bumped, as a new IMAGES.nextcloud would make them. */
const bumped = (all: readonly ServiceBlueprint[]) =>
  all.map((b) => ({ ...b, containers: b.containers.map((c) => (c.image === IMAGES.nextcloud ? { ...c, image: NEXT_NEXTCLOUD } : c)) }));

test.serial("every service container waits for the pre-upgrade backup, which holds the image of each data-holding container", async (t) => {
  const resources = await deployUnderMocks(config);
  const gate = resources.find((r) => r.name === "pre-upgrade-backup")!;
  t.truthy(gate);
  t.deepEqual(gate.inputs.images, dataHoldingImages(blueprints(config)));
  t.like(gate.inputs.images, { [containerName("nextcloud", "app")]: IMAGES.nextcloud, [containerName("nextcloud", "db")]: IMAGES.postgres, [containerName("polls", "db")]: IMAGES.mariadb });
  t.is(gate.inputs.container, BACKUP_CONTAINER);
  t.deepEqual(gate.dependencies, [], "it depends on nothing, so it runs before the containers");
  const containers = ofType(resources, CONTAINER);
  t.true(containers.length > 10);
  t.deepEqual(containers.filter((c) => !c.dependencies.includes(gate.urn)).map((c) => c.name), []);
});

test("an image bump changes the pre-upgrade backup; an unchanged run does not, whatever the key order", async (t) => {
  const all = blueprints(config);
  const before = dataHoldingImages(all);
  const olds = { images: before } as PreUpgradeOutputs;
  const reordered = Object.fromEntries(Object.entries(before).reverse());
  t.deepEqual(await preUpgradeProvider.diff!("id", olds, { images: reordered } as PreUpgradeInputs), { changes: false, replaces: [], deleteBeforeReplace: false });
  const after = dataHoldingImages(bumped(all));
  t.is(after[containerName("nextcloud", "app")], NEXT_NEXTCLOUD);
  t.deepEqual(await preUpgradeProvider.diff!("id", olds, { images: after } as PreUpgradeInputs), { changes: true, replaces: [], deleteBeforeReplace: false });
  // A container with no data volume (Jitsi's web page) is not in it: its replacement needs no backup.
  t.false(containerName("jitsi", "web") in before);
});

/** A runner module the provider imports by path, as it imports provisioners/backups/pre-upgrade.ts. */
function standInRunner(body: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "bastide-pre-upgrade-"));
  const path = join(dir, "runner.mjs");
  writeFileSync(path, `export async function backupBeforeUpgrade(request) {\n${body}\n}\n`);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const inputs = (runner: string, images: Record<string, string>): PreUpgradeInputs => ({
  runner,
  images,
  docker: { socketPath: "/var/run/docker.sock" },
  container: BACKUP_CONTAINER,
  timeoutMs: 1000,
});

test("create takes no backup (no data and no job yet); update runs it and records the snapshot and the images that ran before", async (t) => {
  const runner = standInRunner(`globalThis.preUpgradeCalls = [...(globalThis.preUpgradeCalls ?? []), request.container]; return { snapshot: "4f2c9a1be0d37c55", finishedAt: "2026-12-07T18:00:00Z" };`);
  t.teardown(runner.remove);
  const before = dataHoldingImages(blueprints(config));
  const created = await preUpgradeProvider.create(inputs(runner.path, before));
  t.like(created.outs, { images: before, previousImages: null, snapshot: null, backedUpAt: null });
  t.is((globalThis as { preUpgradeCalls?: string[] }).preUpgradeCalls, undefined, "create ran no backup");

  const after = dataHoldingImages(bumped(blueprints(config)));
  const updated = await preUpgradeProvider.update!("pre-upgrade-backup", created.outs, inputs(runner.path, after));
  t.deepEqual((globalThis as { preUpgradeCalls?: string[] }).preUpgradeCalls, [BACKUP_CONTAINER]);
  t.like(updated.outs, { images: after, previousImages: before, snapshot: "4f2c9a1be0d37c55", backedUpAt: "2026-12-07T18:00:00Z" });
  t.true(Date.parse(updated.outs.recordedAt) <= Date.now());

  const instructions = rollbackInstructions(updated.outs, "asso.yaml")!;
  t.true(instructions.includes(`${containerName("nextcloud", "app")}: ${IMAGES.nextcloud}   (this run: ${NEXT_NEXTCLOUD})`));
  t.true(instructions.includes("git checkout <the commit before the upgrade> -- stacks/services/images.ts docker/"));
  t.true(instructions.includes("npm run restore -- asso.yaml --snapshot 4f2c9a1be0d37c55"));
  t.true(instructions.endsWith("npm run deploy -- asso.yaml"));
  t.false(instructions.includes(containerName("nextcloud", "db")), "only the containers whose image changed");
  t.is(rollbackInstructions(created.outs), undefined, "nothing to go back to before any pre-upgrade backup");
});

test("a failed backup fails the update, so the containers waiting for it are not replaced", async (t) => {
  const runner = standInRunner(`throw new Error("the backup before the upgrade failed (exit 1): restic: repository is locked");`);
  t.teardown(runner.remove);
  const before = dataHoldingImages(blueprints(config));
  const created = await preUpgradeProvider.create(inputs(runner.path, before));
  await t.throwsAsync(preUpgradeProvider.update!("pre-upgrade-backup", created.outs, inputs(runner.path, dataHoldingImages(bumped(blueprints(config))))), {
    message: /repository is locked/,
  });
});
