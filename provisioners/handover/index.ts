// The admin's handover folder: welcome sheets, VPN profiles and their QR codes, per member.
export { handoverContent, profileFiles, HANDOVER, FILE_MODE, FOLDER_MODE, WELCOME_FILES, type HandoverDesired, type HandoverVpn, type DesiredFile } from "./content.ts";
export { handoverProvisioner, planHandover, readHandover, applyHandover, HANDOVER_PHASES, type HandoverChange, type HandoverClient, type HandoverLive, type LiveEntry } from "./provisioner.ts";
export { runHandover, defaultHandoverDirectory, resolveDirectory, type HandoverConnection } from "./runner.ts";
