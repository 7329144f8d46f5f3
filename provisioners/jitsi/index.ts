// Jitsi accounts for staff in the secure domain, managed with prosodyctl.
export { jitsiProvisioner, planJitsi, PHASES, type JitsiChange, type JitsiLive } from "./provisioner.ts";
export { localProsody, dockerProsody, JITSI_IMAGE_PROSODY_CONFIG, ProsodyCommandError, type ProsodyCommands, type CommandResult, type LocalProsodyOptions, type DockerProsodyOptions } from "./commands.ts";
export { listAccounts, createAccount, deleteAccount, setPassword, type JitsiClient } from "./accounts.ts";
export { handOverPassword, staffAccount } from "./handover.ts";
export { runJitsi, type JitsiConnection } from "./runner.ts";
