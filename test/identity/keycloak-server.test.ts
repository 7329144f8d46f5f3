// The test Keycloak is the pinned release, and answers as an OpenID provider.
import test from "ava";
import { KEYCLOAK_VERSION, startKeycloak } from "../support/keycloak.ts";

test("the test Keycloak is the pinned release and serves OpenID discovery", async (t) => {
  t.timeout(240_000);
  const keycloak = await startKeycloak();
  try {
    const token = await fetch(`${keycloak.url}/realms/master/protocol/openid-connect/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: keycloak.admin.username, password: keycloak.admin.password }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const info = await fetch(`${keycloak.url}/admin/serverinfo`, { headers: { authorization: `Bearer ${token.access_token}` } }).then((r) => r.json() as Promise<{ systemInfo: { version: string } }>);
    t.is(info.systemInfo.version, KEYCLOAK_VERSION);
    const discovery = (await fetch(`${keycloak.url}/realms/master/.well-known/openid-configuration`).then((r) => r.json())) as { issuer: string };
    t.is(discovery.issuer, `${keycloak.url}/realms/master`);
  } finally {
    await keycloak.stop();
  }
});
