// The admin's handover folder: one folder per member with the welcome sheet and, per staff
// device on the VPN server's list, its profile and QR code. The plan alone (pure), then
// runs against a real temporary folder: modes, zero writes on a re-run, only what changed
// rewritten, departed members' folders and revoked devices' keys removed, damage repaired.
// Profiles are read by `wg-quick strip` (at the path written, so their names are valid
// tunnel names) and QR codes decoded by zbarimg.
import test from "ava";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { desiredState } from "../../provisioners/desired.ts";
import {
  defaultHandoverDirectory,
  handoverContent,
  HANDOVER,
  planHandover,
  resolveDirectory,
  runHandover,
  type HandoverVpn,
} from "../../provisioners/handover/index.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { PEER_SEED_LENGTH } from "../../provisioners/vpn/keys.ts";
import { peerNetwork } from "../../provisioners/vpn/peer-config.ts";
import { deviceProfiles } from "../../provisioners/vpn/profiles.ts";
import { peerLedger, serverPeers } from "../../provisioners/vpn/server.ts";
import { welcomeSheets } from "../../provisioners/welcome/sheet.ts";
import { serverPublicKey } from "../../stacks/services/vpn/blueprint.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run } from "../support/programs.ts";

// Fake seeds, for tests only: the real ones are generated Pulumi secrets.
const SERVER_SEED = "fakeServerSeedForTestsOnly0123456789abcdefghijklmnopqrstuvwxyzAB";
const seedOf = (peerId: string) => `fakePeerSeed-${peerId}`.padEnd(PEER_SEED_LENGTH, "x");

/** What the VPN resource keeps (its serviceState: the server's peers by id), with the seeds. */
function vpnOf(config: Association): HandoverVpn {
  const desired = desiredState(config);
  const seeds = Object.fromEntries((desired.vpn?.peers ?? []).map((p) => [p.id, seedOf(p.id)]));
  const peers = serverPeers(desired, { subnet: config.services.vpn.subnet, seeds, previous: {} });
  return { peers: peerLedger(peers), seeds, serverKeySeed: SERVER_SEED };
}

const example = exampleAssociation();

const WELCOME = ["welcome.html", "welcome.txt"];
const EXPECTED_FILES = [
  ...["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"].flatMap((m) => WELCOME.map((f) => `${m}/${f}`)),
  "claire.dubois/laptop/jardins-canal.conf",
  "claire.dubois/laptop/jardins-canal.png",
  "karim.benali/laptop/jardins-canal.conf",
  "karim.benali/laptop/jardins-canal.png",
  "karim.benali/phone/jardins-canal.conf",
  "karim.benali/phone/jardins-canal.png",
].sort();
const EXPECTED_FOLDERS = ["claire.dubois", "claire.dubois/laptop", "karim.benali", "karim.benali/laptop", "karim.benali/phone", "lea.moreau", "tom.martin"];

function scratchRoot(): { base: string; root: string } {
  const base = mkdtempSync(join(tmpdir(), "bastide-handover-"));
  return { base, root: defaultHandoverDirectory("dev", join(base, "home")) };
}

/** `vpn`: null for a stack without the VPN. */
async function handover(root: string, config: Association, vpn: HandoverVpn | null = vpnOf(config), dryRun = false) {
  const counter = new CallCounter();
  const result = await runHandover({
    service: HANDOVER,
    desired: desiredState(config),
    connection: { directory: root, config: JSON.parse(JSON.stringify(config)), ...(vpn ? { vpn } : {}) },
    concurrency: 4,
    counter,
    ...(dryRun ? { dryRun } : {}),
  });
  const applied = result.applied.map((c) => `${c.kind} ${(c.payload as { path: string }).path}`).sort();
  return { result, counter, applied, writes: counter.writes("handover") };
}

/** Every entry under `root`: relative path → type and permission bits. */
function tree(root: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      const stats = lstatSync(join(root, path));
      const kind = stats.isDirectory() ? "folder" : stats.isFile() ? "file" : "link";
      found[path] = `${kind} ${(stats.mode & 0o777).toString(8)}`;
      if (stats.isDirectory()) walk(path);
    }
  };
  walk("");
  return found;
}

/** Identity of each file as written: a rewrite (rename of a new file) changes the inode. */
const inodes = (root: string, paths: string[]) => Object.fromEntries(paths.map((p) => [p, lstatSync(join(root, p)).ino]));

// --- the real tools -----------------------------------------------------------------------

function decodeQr(file: string): string {
  const result = run(requireProgram("zbarimg", "zbar-tools"), ["--raw", "--quiet", file]);
  if (result.status !== 0) throw new Error(`zbarimg found no QR code (${result.status}): ${result.stderr.trim()}`);
  return result.stdout.replace(/\n$/, "");
}

function wgQuickStrip(file: string) {
  return run(requireProgram("wg-quick", "wireguard-tools"), ["strip", file]);
}

// --- the plan (pure) ----------------------------------------------------------------------

test("plan: an empty folder gets every member's sheet and every listed device's profile and QR code, 0600", async (t) => {
  const desired = await handoverContent(example, vpnOf(example));
  const changes = planHandover(desired, { root: undefined, entries: {} });
  t.deepEqual(changes.map((c) => c.payload.path).sort(), EXPECTED_FILES);
  t.true(changes.every((c) => c.kind === "file.write" && c.phase === 1 && c.service === HANDOVER));
  t.true(changes.every((c) => c.kind === "file.write" && c.payload.mode === 0o600));
  t.is(changes.find((c) => c.payload.path === "karim.benali/laptop/jardins-canal.conf")!.member, "karim.benali");
  // Subjects are what `pulumi up` records in lastRun: paths only, never content.
  t.true(changes.every((c) => c.subject === `write ${c.payload.path}`));
});

test("plan: identical bytes and modes plan nothing; one byte or one mode bit differs, one write", async (t) => {
  const desired = await handoverContent(example, vpnOf(example));
  const entries: Record<string, { type: "file" | "folder"; mode: number; content?: Buffer }> = {};
  for (const folder of EXPECTED_FOLDERS) entries[folder] = { type: "folder", mode: 0o700 };
  for (const [member, files] of Object.entries(desired.members))
    for (const [path, file] of Object.entries(files)) entries[`${member}/${path}`] = { type: "file", mode: 0o600, content: Buffer.from(file.content) };
  const live = { root: { type: "folder" as const, mode: 0o700 }, entries };
  t.deepEqual(planHandover(desired, live), []);

  const edited = structuredClone(live);
  edited.entries["lea.moreau/welcome.txt"]!.content![0]! ^= 1;
  edited.entries["karim.benali/phone/jardins-canal.png"]!.mode = 0o644;
  edited.entries["karim.benali"]!.mode = 0o755;
  edited.root.mode = 0o755;
  t.deepEqual(
    planHandover(desired, edited).map((c) => `${c.kind} ${c.payload.path}`),
    ["folder.secure .", "folder.secure karim.benali", "file.write karim.benali/phone/jardins-canal.png", "file.write lea.moreau/welcome.txt"],
  );
});

test("plan: departed members' folders and revoked devices go first; the admin's own files are left alone", async (t) => {
  const desired = await handoverContent(example, vpnOf(example));
  const live = {
    root: { type: "folder" as const, mode: 0o700 },
    entries: {
      "old.member": { type: "folder" as const, mode: 0o700 },
      "old.member/laptop": { type: "folder" as const, mode: 0o700 },
      "old.member/laptop/jardins-canal.conf": { type: "file" as const, mode: 0o600 },
      "claire.dubois": { type: "folder" as const, mode: 0o700 },
      "claire.dubois/tablet": { type: "folder" as const, mode: 0o700 },
      "claire.dubois/tablet/jardins-canal.conf": { type: "file" as const, mode: 0o600 },
      "claire.dubois/.0123456789ab.tmp": { type: "file" as const, mode: 0o600 },
      "karim.benali": { type: "other" as const, mode: 0o777 },
      "NOTES.txt": { type: "file" as const, mode: 0o644 },
      "Archive": { type: "folder" as const, mode: 0o755 },
      "lea.txt": { type: "file" as const, mode: 0o644 },
    },
  };
  const removals = planHandover(desired, live).filter((c) => c.phase === 0);
  t.deepEqual(
    removals.map((c) => `${c.kind} ${c.payload.path}`),
    ["file.remove claire.dubois/.0123456789ab.tmp", "file.remove claire.dubois/tablet", "file.remove karim.benali", "member.remove old.member"],
  );
  t.is(removals.find((c) => c.kind === "member.remove")!.member, "old.member");
});

test("plan: a handover path that is a file, not a folder, is refused", async (t) => {
  const desired = await handoverContent(example);
  t.throws(() => planHandover(desired, { root: { type: "file", mode: 0o600 }, entries: {} }), { message: /^handover: the handover directory exists but is not a folder/ });
});

// --- against a real folder ------------------------------------------------------------------

// Serial: the umask is the process's, and concurrent tests would run under it.
test.serial("a first run writes every file with its mode, whatever the umask; the profiles and codes are the devices' own", async (t) => {
  const { base, root } = scratchRoot();
  const umask = process.umask(0o277);
  try {
    const first = await handover(root, example);
    t.deepEqual(first.result.failed, []);
    t.deepEqual(first.applied, EXPECTED_FILES.map((p) => `file.write ${p}`));
    t.is(first.writes, EXPECTED_FILES.length);
    process.umask(umask);

    const expectedTree = Object.fromEntries([...EXPECTED_FOLDERS.map((f) => [f, "folder 700"]), ...EXPECTED_FILES.map((f) => [f, "file 600"])].sort());
    t.deepEqual(tree(root), expectedTree);
    // The folder and the ones above it that the run created are private too.
    for (const folder of [root, join(base, "home", ".bastide"), join(base, "home", ".bastide", "handover")]) t.is(lstatSync(folder).mode & 0o777, 0o700, folder);

    // The sheets are the welcome sheets, byte for byte.
    const sheets = await welcomeSheets(example, desiredState(example));
    for (const [member, sheet] of Object.entries(sheets)) {
      t.is(readFileSync(join(root, member, "welcome.html"), "utf8"), sheet.html);
      t.is(readFileSync(join(root, member, "welcome.txt"), "utf8"), sheet.text);
    }
    // Each profile is the device's own (its seed, its address), readable by wg-quick at its path,
    // and its QR code decodes to exactly the same text.
    const vpn = vpnOf(example);
    const desired = desiredState(example);
    const network = peerNetwork({ hostnames: desired.hostnames, port: example.services.vpn.port, subnet: example.services.vpn.subnet });
    const profiles = deviceProfiles(Object.values(vpn.peers), { seeds: vpn.seeds, network, serverPublicKey: serverPublicKey(SERVER_SEED) });
    for (const [member, device] of [["claire.dubois", "laptop"], ["karim.benali", "laptop"], ["karim.benali", "phone"]] as const) {
      const id = `${member}-${device}`;
      const conf = join(root, member, device, "jardins-canal.conf");
      t.is(readFileSync(conf, "utf8"), profiles[id]!);
      const stripped = wgQuickStrip(conf);
      t.is(stripped.status, 0, stripped.stderr);
      t.regex(stripped.stdout, /^PrivateKey = /m);
      t.is(decodeQr(join(root, member, device, "jardins-canal.png")), profiles[id]!);
    }
    // Why one folder per device: wg-quick names the tunnel after the file, 15 characters at most.
    const tooLong = join(base, "jardins-canal-laptop.conf");
    writeFileSync(tooLong, profiles["claire.dubois-laptop"]!, { mode: 0o600 });
    t.regex(wgQuickStrip(tooLong).stderr, /valid interface name/);
    t.false(readdirSync(join(root, "karim.benali", "phone")).some((f) => f.endsWith(".tmp")), "no temporary file left");
  } finally {
    process.umask(umask);
    rmSync(base, { recursive: true, force: true });
  }
});

test("a re-run with the same config writes nothing and touches no file", async (t) => {
  const { base, root } = scratchRoot();
  try {
    await handover(root, example);
    const before = inodes(root, EXPECTED_FILES);
    const again = await handover(root, example);
    t.deepEqual(again.result.planned, []);
    t.is(again.writes, 0);
    t.true(again.counter.reads("handover") > 0);
    t.deepEqual(inodes(root, EXPECTED_FILES), before);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a renamed member gets a new sheet, and only that", async (t) => {
  const { base, root } = scratchRoot();
  try {
    await handover(root, example);
    const before = inodes(root, EXPECTED_FILES);
    const renamed = exampleAssociation((input) => {
      input.members.find((m: { id: string }) => m.id === "lea.moreau").name = "Léa Moreau-Petit";
    });
    const run2 = await handover(root, renamed);
    t.deepEqual(run2.applied, ["file.write lea.moreau/welcome.html", "file.write lea.moreau/welcome.txt"]);
    t.is(run2.writes, 2);
    t.true(readFileSync(join(root, "lea.moreau", "welcome.txt"), "utf8").startsWith("Bienvenue, Léa Moreau-Petit\n"));
    const untouched = EXPECTED_FILES.filter((p) => !p.startsWith("lea.moreau/"));
    t.deepEqual(inodes(root, untouched), Object.fromEntries(untouched.map((p) => [p, before[p]])));
    t.is(lstatSync(join(root, "lea.moreau", "welcome.txt")).mode & 0o777, 0o600);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a member removed from the config loses their folder, their device keys with it", async (t) => {
  const { base, root } = scratchRoot();
  try {
    await handover(root, example);
    const withoutKarim = exampleAssociation((input) => {
      input.members = input.members.filter((m: { id: string }) => m.id !== "karim.benali");
    });
    const run2 = await handover(root, withoutKarim);
    t.deepEqual(run2.result.failed, []);
    t.deepEqual(run2.applied, ["member.remove karim.benali"]);
    t.false(existsSync(join(root, "karim.benali")));
    t.deepEqual(Object.keys(tree(root)).filter((p) => !p.includes("/")), ["claire.dubois", "lea.moreau", "tom.martin"]);
    t.is((await handover(root, withoutKarim)).writes, 0);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a device removed from the config: its profile and code go, the sheet no longer lists it", async (t) => {
  const { base, root } = scratchRoot();
  try {
    await handover(root, example);
    const phoneGone = exampleAssociation((input) => {
      input.members.find((m: { id: string }) => m.id === "karim.benali").devices = [{ name: "laptop" }];
    });
    // The VPN's state may still list the phone (a preview before the VPN run): it still gets no file.
    const staleVpn = vpnOf(example);
    const run2 = await handover(root, phoneGone, staleVpn);
    t.deepEqual(run2.applied, ["file.remove karim.benali/phone", "file.write karim.benali/welcome.html", "file.write karim.benali/welcome.txt"]);
    t.false(existsSync(join(root, "karim.benali", "phone")));
    t.false(readFileSync(join(root, "karim.benali", "welcome.txt"), "utf8").includes("- phone"));
    t.true(existsSync(join(root, "karim.benali", "laptop", "jardins-canal.conf")));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a device not yet on the server's list gets its profile on the next run; without the VPN part, sheets only", async (t) => {
  const { base, root } = scratchRoot();
  try {
    const vpn = vpnOf(example);
    const { ["karim.benali-phone"]: _notYet, ...listed } = vpn.peers as Record<string, unknown>;
    const early = await handover(root, example, { ...vpn, peers: listed as HandoverVpn["peers"] });
    t.false(existsSync(join(root, "karim.benali", "phone")));
    t.true(early.applied.includes("file.write karim.benali/laptop/jardins-canal.conf"));
    // A list of peers is taken as well as the runner's record of them.
    const later = await handover(root, example, { ...vpn, peers: Object.values(vpn.peers) });
    t.deepEqual(later.applied, ["file.write karim.benali/phone/jardins-canal.conf", "file.write karim.benali/phone/jardins-canal.png"]);

    const sheetsOnly = scratchRoot();
    try {
      const noVpn = await handover(sheetsOnly.root, example, null);
      t.deepEqual(noVpn.applied, EXPECTED_FILES.filter((p) => p.endsWith("/welcome.html") || p.endsWith("/welcome.txt")).map((p) => `file.write ${p}`));
    } finally {
      rmSync(sheetsOnly.base, { recursive: true, force: true });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("damage is repaired: loose modes, a planted link, a half-written file; the admin's own files stay", async (t) => {
  const { base, root } = scratchRoot();
  try {
    await handover(root, example);
    const outside = join(base, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "precious"), "keep me");
    chmodSync(root, 0o755);
    chmodSync(join(root, "claire.dubois", "laptop", "jardins-canal.conf"), 0o644);
    chmodSync(join(root, "tom.martin"), 0o755);
    writeFileSync(join(root, "claire.dubois", ".0123456789ab.tmp"), "half a profile");
    writeFileSync(join(root, "lea.moreau", "welcome.html"), "edited by hand");
    // A link where a member's folder belongs: removed, never written through.
    rmSync(join(root, "karim.benali"), { recursive: true });
    symlinkSync(outside, join(root, "karim.benali"));
    writeFileSync(join(root, "NOTES.txt"), "the admin's");
    mkdirSync(join(root, "Archive"));

    const repair = await handover(root, example);
    t.deepEqual(repair.result.failed, []);
    t.deepEqual(repair.applied, [
      "file.remove claire.dubois/.0123456789ab.tmp",
      "file.remove karim.benali",
      "file.write claire.dubois/laptop/jardins-canal.conf",
      ...EXPECTED_FILES.filter((p) => p.startsWith("karim.benali/")).map((p) => `file.write ${p}`),
      "file.write lea.moreau/welcome.html",
      "folder.secure .",
      "folder.secure tom.martin",
    ].sort());
    t.deepEqual(readdirSync(outside), ["precious"]);
    t.is(readFileSync(join(outside, "precious"), "utf8"), "keep me");
    const after = tree(root);
    t.is(after["karim.benali"], "folder 700");
    t.is(after["NOTES.txt"], "file 644");
    t.is(after["Archive"], "folder 755");
    t.is((await handover(root, example)).writes, 0);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("a dry run (pulumi preview) plans from the folder and changes nothing", async (t) => {
  const { base, root } = scratchRoot();
  try {
    const preview = await handover(root, example, vpnOf(example), true);
    t.is(preview.result.planned.length, EXPECTED_FILES.length);
    t.deepEqual(preview.result.applied, []);
    t.is(preview.writes, 0);
    t.false(existsSync(root));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("the directory: ~/.bastide/handover/<stack> by default; relative paths are refused", (t) => {
  t.is(defaultHandoverDirectory("prod", "/home/admin"), "/home/admin/.bastide/handover/prod");
  t.is(resolveDirectory("~/.bastide/handover/prod", "/home/admin"), "/home/admin/.bastide/handover/prod");
  t.throws(() => resolveDirectory("handover/prod"), { message: /absolute path/ });
});

test("a seed that does not match the server's key is an error naming the member, and nothing is written", async (t) => {
  const { base, root } = scratchRoot();
  try {
    const vpn = vpnOf(example);
    const wrong = { ...vpn, seeds: { ...vpn.seeds, "karim.benali-phone": seedOf("someone-else") } };
    await t.throwsAsync(() => handover(root, example, wrong), { message: /vpn \(member karim\.benali\): device phone: its seed does not give the public key/ });
    t.false(existsSync(root));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
