// Every image's contract, by its key in IMAGES ("framadate" for the image Bastide builds).
// One file per image; the image-contract test fails naming every image that has none.
import type { ImageContract } from "../image-contract.ts";
import type { BUILT_IMAGES, IMAGES } from "../images.ts";
import { contract as element } from "./element.ts";
import { contract as framadate } from "./framadate.ts";
import { contract as mariadb } from "./mariadb.ts";
import { contract as postgres } from "./postgres.ts";
import { contract as redis } from "./redis.ts";
import { contract as synapse } from "./synapse.ts";
import { contract as wireguard } from "./wireguard.ts";

export type ContractKey = keyof typeof IMAGES | keyof typeof BUILT_IMAGES;

export const CONTRACTS: Partial<Record<ContractKey, ImageContract>> = {
  synapse,
  element,
  postgres,
  redis,
  mariadb,
  wireguard,
  framadate,
};
