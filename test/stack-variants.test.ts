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
    await deployUnderMocks(exampleAssociation((i) => (i.profile = "standard"))),
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

test.serial("a custom VPN port is the one published", async (t) => {
  const resources = await deployUnderMocks(exampleAssociation((i) => (i.services.vpn = { port: 51999 })));
  t.deepEqual(published(resources), ["10000/udp", "443/tcp", "51999/udp", "80/tcp"]);
});
