// Every image's contract, by its key in IMAGES or BUILT_IMAGES (the images Bastide builds).
// One file per image; the image-contract test fails naming every image that has none.
import type { ImageContract } from "../image-contract.ts";
import type { BUILT_IMAGES, IMAGES } from "../images.ts";
import { contract as backups } from "./backups.ts";
import { contract as caddy } from "./caddy.ts";
import { contract as element } from "./element.ts";
import { contract as framadate } from "./framadate.ts";
import { contract as jitsiJicofo } from "./jitsi-jicofo.ts";
import { contract as jitsiJvb } from "./jitsi-jvb.ts";
import { contract as jitsiProsody } from "./jitsi-prosody.ts";
import { contract as jitsiWeb } from "./jitsi-web.ts";
import { contract as mariadb } from "./mariadb.ts";
import { contract as nextcloud } from "./nextcloud.ts";
import { contract as postgres } from "./postgres.ts";
import { contract as redis } from "./redis.ts";
import { contract as synapse } from "./synapse.ts";
import { contract as wireguard } from "./wireguard.ts";
import { contract as keycloak } from "./keycloak.ts";

export type ContractKey = keyof typeof IMAGES | keyof typeof BUILT_IMAGES;

export const CONTRACTS: Partial<Record<ContractKey, ImageContract>> = {
  caddy,
  jitsiWeb,
  jitsiProsody,
  jitsiJicofo,
  jitsiJvb,
  nextcloud,
  synapse,
  element,
  postgres,
  redis,
  mariadb,
  wireguard,
  framadate,
  keycloak,
  backups,
};
