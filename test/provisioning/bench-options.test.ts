// The options of `npm run bench:provision`: the lead runs the same bench against a real
// Nextcloud, so its URL and password must be taken, and bad ones refused, clearly.
import test from "ava";
import { BenchOptionError, NEXTCLOUD_PASSWORD_VARIABLE, parseBenchOptions } from "../../scripts/bench-options.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";

test("bench options: by default the fake servers and the real Synapse, two alternating rounds", (t) => {
  const options = parseBenchOptions([], {});
  t.deepEqual(options.targets, ["fake", "synapse"]);
  t.is(options.rounds, 2);
  t.deepEqual(options.fake, { members: 500, teams: 25, latencyMs: 30 });
  t.deepEqual(options.synapse, { members: 200, teams: 10 });
  t.is(options.nextcloud, undefined);
});

test("bench options: --nextcloud adds the real Nextcloud, its password taken from the environment", (t) => {
  const options = parseBenchOptions(["--nextcloud", "http://127.0.0.1:8080", "--nextcloud-members", "200"], { [NEXTCLOUD_PASSWORD_VARIABLE]: "from-env" });
  t.deepEqual(options.targets, ["fake", "synapse", "nextcloud"]);
  t.deepEqual(options.nextcloud, { url: "http://127.0.0.1:8080/", user: NEXTCLOUD_ADMIN_USER, password: "from-env", members: 200, teams: 5 });
});

test("bench options: only the Nextcloud, with an admin and a password given as options", (t) => {
  const options = parseBenchOptions(
    ["--targets", "nextcloud", "--nextcloud", "http://127.0.0.1:8080/nc/", "--nextcloud-user", "admin", "--nextcloud-password", "pw", "--rounds", "3"],
    {},
  );
  t.deepEqual(options.targets, ["nextcloud"]);
  t.is(options.rounds, 3);
  t.like(options.nextcloud, { url: "http://127.0.0.1:8080/nc/", user: "admin", password: "pw" });
});

test("bench options: bad input is refused naming the option and the fix", (t) => {
  const refused = (args: string[], message: RegExp, env = {}) => t.throws(() => parseBenchOptions(args, env), { instanceOf: BenchOptionError, message });
  refused(["--targets", "nextcloud"], /the nextcloud target needs --nextcloud URL/);
  refused(["--nextcloud", "http://127.0.0.1:8080"], new RegExp(`password is missing: set ${NEXTCLOUD_PASSWORD_VARIABLE}`));
  refused(["--nextcloud", "127.0.0.1:8080"], /--nextcloud must be (a|an http\(s\)) URL/, { [NEXTCLOUD_PASSWORD_VARIABLE]: "x" });
  refused(["--nextcloud", "not a url"], /--nextcloud must be a URL such as http:\/\/127.0.0.1:8080\//, { [NEXTCLOUD_PASSWORD_VARIABLE]: "x" });
  refused(["--synapse-members", "many"], /--synapse-members must be a whole number of at least 1, got "many"/);
  refused(["--rounds", "0"], /--rounds must be a whole number of at least 1/);
  refused(["--targets", "fake,postgres"], /unknown target "postgres"/);
  refused(["--member", "3"], /Unknown option '--member'/);
});
