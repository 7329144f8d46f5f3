// The path the Pulumi engine takes with a dynamic provider: serialized (pulumi.runtime.serializeFunction,
// written to a file by the caller) and loaded in a fresh Node process, no tsx, no test runner.
import { spawn } from "node:child_process";
import { scratch } from "./programs.ts";

/** Runs `script` in a fresh Node with the serialized provider loaded; returns its JSON answer. */
export function inFreshNode(providerFile: string, script: string, input: unknown): Promise<any> {
  const program = `
    const provider = require(${JSON.stringify(providerFile)}).handler();
    const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    (async () => { ${script} })().then(
      (out) => process.stdout.write(JSON.stringify(out)),
      (error) => { process.stdout.write(JSON.stringify({ error: String(error && error.message || error) })); });
  `;
  // Asynchronous: the fake server answering it lives in this very process.
  const child = spawn(process.execPath, ["-e", program], { cwd: scratch(), timeout: 60_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.end(JSON.stringify(input));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`fresh node failed (${code}): ${stderr}`)))),
  );
}
