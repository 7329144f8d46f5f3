// Issue 11: `backups:` in the association file. A destination in the EU/EEA, a retention within
// bounds (erased data lives on in backups until they expire), a time of day; every mistake
// refused with the field, its line and the fix, before anything is created.
import test from "ava";
import { ConfigError, parseAssociation } from "../../stacks/config/load.ts";
import { knownHostsLine, longestRetentionDays, RETENTION_BOUNDS } from "../../stacks/backups/settings.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { readFileSync } from "node:fs";
import { refusedAt, validated, type Input } from "../config/support.ts";

// Host keys made by Debian 12's ssh-keygen for these tests (-t ed25519 and -t ecdsa); no server holds them.
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz";
const ECDSA =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBhT8S9hm70mCh8kcVbYwjasDOzkm2HTVzKrwADQqNPiDkkKE2cV19ONeohz/p+W8RuuauFYz37VrX82sDyTV6Y=";
const SFTP = { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: ED25519, country: "DE" };
const withBackups = (backups: Input) => (i: Input) => (i.backups = backups);

test("backups: absent by default; an SFTP destination gets port 22, the default retention and time", (t) => {
  t.is(validated(() => {}).backups, undefined);
  const backups = validated(withBackups({ destination: SFTP })).backups!;
  t.deepEqual(backups, { destination: { ...SFTP, port: 22 }, retention: { daily: 7, weekly: 4, monthly: 3 }, time: "02:30" });
  t.is(longestRetentionDays(backups.retention), 93);
});

test("backups: S3-compatible storage and a second disk are accepted", (t) => {
  const s3 = validated(withBackups({ destination: { type: "s3", endpoint: "fsn1.your-objectstorage.com", bucket: "asso-exemple-backups", country: "DE" } })).backups!;
  t.deepEqual(s3.destination, { type: "s3", endpoint: "fsn1.your-objectstorage.com", bucket: "asso-exemple-backups", prefix: "bastide", country: "DE" });
  t.deepEqual(validated(withBackups({ destination: { type: "disk", path: "/mnt/backup" } })).backups!.destination, { type: "disk", path: "/mnt/backup" });
});

test("backups: an unknown destination type says which ones exist", (t) => {
  refusedAt(t, withBackups({ destination: { type: "ftp", host: "ftp.example.org" } }), "backups.destination.type", '"ftp"', "sftp", "s3", "disk");
  refusedAt(t, withBackups({}), "backups.destination", "where the backups go", "sftp, s3 or disk");
});

test("backups: a destination outside the EU/EEA is refused", (t) => {
  refusedAt(t, withBackups({ destination: { ...SFTP, country: "US" } }), "backups.destination.country", '"US" is not an EU/EEA country code');
  refusedAt(t, withBackups({ destination: { type: "s3", endpoint: "s3.amazonaws.com", bucket: "asso-backups" } }), "backups.destination.country", "EU/EEA");
});

test("backups: retention outside its bounds is refused, naming the bounds", (t) => {
  const [min, max] = RETENTION_BOUNDS.daily;
  refusedAt(t, withBackups({ destination: SFTP, retention: { daily: 365 } }), "backups.retention.daily", "365", `${min}-${max}`, "erased data stays in the backups");
  refusedAt(t, withBackups({ destination: SFTP, retention: { daily: 0 } }), "backups.retention.daily", `${min}-${max}`);
  refusedAt(t, withBackups({ destination: SFTP, retention: { monthly: 2.5 } }), "backups.retention.monthly", "whole number");
});

test("backups: paths that would need quoting, or that are not a second disk, are refused", (t) => {
  refusedAt(t, withBackups({ destination: { ...SFTP, path: "/backups/$(reboot)" } }), "backups.destination.path", "absolute folder path");
  refusedAt(t, withBackups({ destination: { ...SFTP, path: "backups" } }), "backups.destination.path", "absolute folder path");
  refusedAt(t, withBackups({ destination: { ...SFTP, path: "/backups/../etc" } }), "backups.destination.path", "absolute folder path");
  refusedAt(t, withBackups({ destination: { type: "disk", path: "/" } }), "backups.destination.path", "second disk");
  refusedAt(t, withBackups({ destination: { type: "disk", path: "/var/lib/docker/volumes" } }), "backups.destination.path", "second disk");
  refusedAt(t, withBackups({ destination: { ...SFTP, user: "root -oProxyCommand=x" } }), "backups.destination.user", "SFTP login");
  refusedAt(t, withBackups({ destination: { ...SFTP, host: "-oProxyCommand=x" } }), "backups.destination.host", "host name");
});

test("backups: the time is HH:MM", (t) => {
  refusedAt(t, withBackups({ destination: SFTP, time: "2h30" }), "backups.time", "HH:MM");
  refusedAt(t, withBackups({ destination: SFTP, time: "24:00" }), "backups.time", "HH:MM");
  t.is(validated(withBackups({ destination: SFTP, time: "23:59" })).backups!.time, "23:59");
});

test("backups: the SFTP server's host key is required, of a type ssh accepts, in base64 that holds a key of that type", (t) => {
  const { hostKey: _none, ...withoutKey } = SFTP;
  refusedAt(t, withBackups({ destination: withoutKey }), "backups.destination.hostKey", "host key", "ssh-ed25519");
  refusedAt(t, withBackups({ destination: withoutKey }), "backups.destination.hostKey", "ssh-keyscan");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: "AAAAC3NzaC1lZDI1NTE5AAAAIOfQ" } }), "backups.destination.hostKey", "the key type and the key", "ssh-keyscan");
  // ssh-keyscan's whole line, and anything after the key, are refused: only "type key" reaches known_hosts.
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: `u123456.your-storagebox.de ${ED25519}` } }), "backups.destination.hostKey", "starts with a host name", "ssh-keyscan");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: `${ED25519} -oProxyCommand=x` } }), "backups.destination.hostKey", "nothing else");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: ED25519.replace("ssh-ed25519", "ssh-dss") } }), "backups.destination.hostKey", '"ssh-dss"', "ssh-ed25519, ecdsa-sha2-nistp256");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: "ssh-ed25519 not*base64" } }), "backups.destination.hostKey", "not base64", "ssh-keyscan");
  // A real ECDSA key given as ed25519, and an ed25519 key cut after its type: both name the type they lack.
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: `ssh-ed25519 ${ECDSA.split(" ")[1]}` } }), "backups.destination.hostKey", "not an ssh-ed25519 key");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5" } }), "backups.destination.hostKey", "not an ssh-ed25519 key");
  // Spaces around and between the two are not part of the key.
  const pasted = validated(withBackups({ destination: { ...SFTP, hostKey: `  ${ECDSA.replace(" ", "   ")}  ` } })).backups!.destination;
  t.like(pasted, { hostKey: ECDSA });
});

test("backups: the destination's known_hosts line names the port only when it is not 22", (t) => {
  const on22 = validated(withBackups({ destination: SFTP })).backups!.destination;
  const on23 = validated(withBackups({ destination: { ...SFTP, port: 23 } })).backups!.destination;
  if (on22.type !== "sftp" || on23.type !== "sftp") return t.fail("an SFTP destination was expected");
  t.is(knownHostsLine(on22), `u123456.your-storagebox.de ${ED25519}\n`);
  t.is(knownHostsLine(on23), `[u123456.your-storagebox.de]:23 ${ED25519}\n`);
});

test("backups: a problem in the file is said with its line", (t) => {
  const text = `${readFileSync(EXAMPLE_FILE, "utf8")}\nbackups:\n  destination:\n    type: sftp\n    host: u1.your-storagebox.de\n    user: u1\n    path: /backups\n    hostKey: ${ED25519}\n    country: US\n`;
  const error = t.throws(() => parseAssociation(text, "association.yaml"), { instanceOf: ConfigError }) as ConfigError;
  const problem = error.problems.find((p) => p.path === "backups.destination.country");
  t.truthy(problem, JSON.stringify(error.problems));
  t.is(problem!.line, text.split("\n").indexOf("    country: US") + 1);
});

test("backups: an S3 endpoint is a host name with an optional port, never a URL", (t) => {
  const s3 = (endpoint: string) => withBackups({ destination: { type: "s3", endpoint, bucket: "asso-exemple-backups", country: "FR" } });
  t.is((validated(s3("s3.example.org:9000")).backups!.destination as { endpoint: string }).endpoint, "s3.example.org:9000");
  refusedAt(t, s3("https://s3.fr-par.scw.cloud"), "backups.destination.endpoint", "no https://");
  refusedAt(t, s3("s3.fr-par.scw.cloud/bucket"), "backups.destination.endpoint", "host name");
  refusedAt(t, s3("s3.example.org:99999"), "backups.destination.endpoint", ":port");
  refusedAt(t, s3("s3.example.org:9000 --insecure"), "backups.destination.endpoint", "host name");
});
