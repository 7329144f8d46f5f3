// The program under mocks with other configurations than the example.
import test from "ava";
import { PROFILES } from "../stacks/config/schema.ts";
import { exampleAssociation } from "./support/association.ts";
import { deployUnderMocks, ofType, CONTAINER } from "./support/program.ts";

const published = (resources: Awaited<ReturnType<typeof deployUnderMocks>>) =>
  ofType(resources, CONTAINER).flatMap((c) => (c.inputs.ports ?? []).map((p: any) => `${p.external}/${p.protocol}`)).sort();

test.serial("the standard profile gives more memory and still fits its budget", async (t) => {
  const small = ofType(await deployUnderMocks(exampleAssociation()), CONTAINER);
  const standard = ofType(
    await deployUnderMocks(
      exampleAssociation((i) => {
        i.profile = "standard";
        i.host.size = { cpus: 4, memoryGb: 16 };
      }),
    ),
    CONTAINER,
  );
  const total = (cs: typeof small) => cs.reduce((sum, c) => sum + c.inputs.memory, 0);
  t.true(total(standard) > total(small));
  t.true(total(standard) <= PROFILES.standard.containerBudgetMb);
  for (const c of standard) {
    const before = small.find((s) => s.inputs.name === c.inputs.name)!;
    t.true(c.inputs.memory >= before.inputs.memory, `${c.inputs.name} got less memory on standard`);
  }
});

test.serial("a service switched off registers no container and closes its ports", async (t) => {
  const resources = await deployUnderMocks(
    exampleAssociation((i) => {
      i.services.jitsi = { enabled: false };
      i.services.vpn = { enabled: false };
      for (const m of i.members) delete m.devices;
    }),
  );
  const names = ofType(resources, CONTAINER).map((c) => c.inputs.name as string);
  t.false(names.some((n) => n.startsWith("bastide-jitsi-") || n.startsWith("bastide-vpn-")));
  t.true(names.includes("bastide-nextcloud-app"));
  t.deepEqual(published(resources), ["443/tcp", "80/tcp"]);
});

test.serial("with the identity provider off, the stack is as before: no Keycloak, no identity run, no OIDC client secrets", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation((i) => (i.services.identity = { enabled: false })));
  const names = ofType(resources, CONTAINER).map((c) => c.inputs.name as string);
  t.false(names.some((n) => n.startsWith("bastide-identity-")));
  t.is(names.length, 16);
  const runs = resources.filter((r) => r.type.startsWith("pulumi-nodejs:")).map((r) => r.name);
  t.false(runs.includes("identity-provisioning"));
  t.true(runs.includes("nextcloud-provisioning") && runs.includes("matrix-provisioning"));
  t.true(runs.includes("jitsi-provisioning"), "hosts get their Prosody accounts again");
  const passwords = ofType(resources, "random:index/randomPassword:RandomPassword").map((r) => r.name);
  t.false(passwords.some((n) => n.includes("oidc-client")), passwords.join(", "));
  t.false(passwords.some((n) => n.includes("jwt-app-secret")), "no meeting-token key");
  t.false(passwords.some((n) => n.startsWith("identity-")));
});

test.serial("a custom VPN port is the one published", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation((i) => (i.services.vpn = { port: 51999 })));
  t.deepEqual(published(resources), ["10000/udp", "443/tcp", "51999/udp", "80/tcp"]);
});

test.serial("a mail relay reaches Nextcloud's app and cron, its password only as a secret", async (t) => {
  const config = exampleAssociation((i) => {
    i.mail = { host: "smtp.asso-exemple.fr", port: 465, security: "tls", from: "ne-pas-repondre@asso-exemple.fr", username: "relay-user" };
  });
  const { Bastide } = await import("../stacks/bastide.ts");
  const { registerUnderMocks } = await import("./support/program.ts");
  const resources = await registerUnderMocks(() => new Bastide("bastide", { config, provided: { "smtp-password": "relay-password-for-tests" } }));
  for (const name of ["bastide-nextcloud-app", "bastide-nextcloud-cron"]) {
    const container = ofType(resources, CONTAINER).find((c) => c.inputs.name === name)!;
    const envs: string[] = container.inputs.envs;
    t.true(envs.includes("SMTP_HOST=smtp.asso-exemple.fr"), name);
    t.true(envs.includes("SMTP_SECURE=ssl"), `${name}: implicit TLS is the image's "ssl"`);
    t.true(envs.includes("SMTP_PORT=465"), name);
    t.true(envs.includes("SMTP_NAME=relay-user"), name);
    t.true(envs.includes("MAIL_FROM_ADDRESS=ne-pas-repondre") && envs.includes("MAIL_DOMAIN=asso-exemple.fr"), name);
    t.true(envs.includes("SMTP_PASSWORD=relay-password-for-tests"), name);
    t.true(container.secretInputs.includes("envs"), `${name}: the password is stored as a secret`);
  }
  t.throws(() => new Bastide("bastide", { config }), { message: /^nextcloud and identity need the secret "smtp-password", which was not supplied$/ }, "before anything is registered");
});

test.serial("without a relay, Nextcloud gets no mail settings", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation());
  const app = ofType(resources, CONTAINER).find((c) => c.inputs.name === "bastide-nextcloud-app")!;
  t.false((app.inputs.envs as string[]).some((e) => e.startsWith("SMTP_") || e.startsWith("MAIL_")));
});
