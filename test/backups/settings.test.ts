// Issue 11: `backups:` in the association file. A destination in the EU/EEA, a retention within
// bounds (erased data lives on in backups until they expire), a time of day; every mistake
// refused with the field, its line and the fix, before anything is created.
import test from "ava";
import { ConfigError, parseAssociation } from "../../stacks/config/load.ts";
import { longestRetentionDays, RETENTION_BOUNDS } from "../../stacks/backups/settings.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { readFileSync } from "node:fs";
import { refusedAt, validated, type Input } from "../config/support.ts";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0zZ1JzLt0mEhQpYc2Y4q0bXg1YVfWc6D8h0Jr3pXqS";
const SFTP = { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: HOST_KEY, country: "DE" };
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

test("backups: an SFTP destination needs the server's host key, as ssh-keyscan prints it", (t) => {
  const { hostKey: _, ...withoutKey } = SFTP;
  refusedAt(t, withBackups({ destination: withoutKey }), "backups.destination.hostKey", "ssh-keyscan");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: `u123456.your-storagebox.de ${HOST_KEY}` } }), "backups.destination.hostKey", "key type and the key");
  refusedAt(t, withBackups({ destination: { ...SFTP, hostKey: `${HOST_KEY} -oProxyCommand=x` } }), "backups.destination.hostKey", "ssh-keyscan");
});

test("backups: the time is HH:MM", (t) => {
  refusedAt(t, withBackups({ destination: SFTP, time: "2h30" }), "backups.time", "HH:MM");
  refusedAt(t, withBackups({ destination: SFTP, time: "24:00" }), "backups.time", "HH:MM");
  t.is(validated(withBackups({ destination: SFTP, time: "23:59" })).backups!.time, "23:59");
});

test("backups: a problem in the file is said with its line", (t) => {
  const text = `${readFileSync(EXAMPLE_FILE, "utf8")}\nbackups:\n  destination:\n    type: sftp\n    host: u1.your-storagebox.de\n    user: u1\n    path: /backups\n    country: US\n`;
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
