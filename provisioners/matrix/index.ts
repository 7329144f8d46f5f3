// The Matrix provisioner: members' accounts, the association's space, one private,
// end-to-end encrypted, invite-only room per team, and the retention policy on each.
import type { DesiredState } from "../desired.ts";
import type { ServiceProvisioner } from "../model.ts";
import { applyMatrixChange } from "./apply.ts";
import type { MatrixClient } from "./client.ts";
import type { LiveMatrix, MatrixChange } from "./model.ts";
import { planMatrix } from "./plan.ts";
import { readMatrix } from "./read.ts";

export const matrixProvisioner: ServiceProvisioner<DesiredState, LiveMatrix, MatrixChange, MatrixClient> = {
  service: "matrix",
  read: readMatrix,
  plan: planMatrix,
  apply: applyMatrixChange,
};

export { createMatrixClient, MatrixClient, MatrixApiError, botPassword, BOT_DEVICE_ID, TOOL_DEVICES, SESSION_SERVICE, type MatrixClientOptions } from "./client.ts";
export { ENCRYPTION_ALGORITHM, PHASES, type LiveMatrix, type LiveMatrixUser, type LiveRoom, type MatrixChange, type MatrixChangeKind } from "./model.ts";
export { planMatrix } from "./plan.ts";
export { readMatrix } from "./read.ts";
export { applyMatrixChange } from "./apply.ts";
