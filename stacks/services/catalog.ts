// The services Bastide knows. Adding a service means adding its folder and one line here.
import type { Association } from "../config/schema.ts";
import type { BlueprintContext, Profile, ServiceBlueprint, ServiceModule } from "./blueprint.ts";
import { proxy } from "./proxy/blueprint.ts";
import { jitsi } from "./jitsi/blueprint.ts";
import { nextcloud } from "./nextcloud/blueprint.ts";
import { matrix } from "./matrix/blueprint.ts";
import { polls } from "./polls/blueprint.ts";
import { vpn } from "./vpn/blueprint.ts";
import { identity } from "./identity/blueprint.ts";
import { hostnames } from "./hosts.ts";
import { noticePages } from "./proxy/notice-pages.ts";

export { hostnames };

export const SERVICE_MODULES: readonly ServiceModule[] = [jitsi, nextcloud, matrix, polls, vpn, identity, proxy];

/** Stands for the server's public IPv4 address where it is only known once the VM exists. */
export const PUBLIC_ADDRESS = "@@public-address@@";


export function publicAddressOf(config: Association): string {
  const host = config.host;
  if (host.target === "local") return "127.0.0.1";
  if (host.target === "ssh") return host.publicAddress ?? host.address;
  return PUBLIC_ADDRESS;
}

export function blueprintContext(config: Association, profile: Profile = config.profile): BlueprintContext {
  return { profile, hostnames: hostnames(config), publicAddress: publicAddressOf(config), routes: [], noticePages: () => noticePages(config) };
}

/** The blueprints of every enabled service; the proxy's, built last, routes to the others. */
export function blueprints(config: Association): ServiceBlueprint[] {
  const context = blueprintContext(config);
  const services = SERVICE_MODULES.filter((m) => m !== proxy && m.enabled(config)).map((m) => m.blueprint(config, context));
  const routes = services.flatMap((b) => b.routes);
  return [...services, proxy.blueprint(config, { ...context, routes })];
}
