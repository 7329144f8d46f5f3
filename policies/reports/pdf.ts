// Prints the HTML documents to PDF with headless Chromium (Debian's `chromium`), with a
// fresh profile each time and nothing that reaches the network.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";

const CANDIDATES = ["chromium", "chromium-browser", "google-chrome"];

/** BASTIDE_CHROMIUM, or the first Chromium on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BASTIDE_CHROMIUM) return env.BASTIDE_CHROMIUM;
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean))
    for (const name of CANDIDATES) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error("Chromium is needed to print the PDF: apt-get install chromium (Debian), or set BASTIDE_CHROMIUM to its path");
}

export interface PrintOptions {
  chromium?: string;
  timeoutMs?: number;
}

export function chromiumArguments(profile: string, htmlFile: string, pdfFile: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    `--user-data-dir=${profile}`,
    `--print-to-pdf=${pdfFile}`,
    "--no-pdf-header-footer",
    pathToFileURL(htmlFile).href,
  ];
}

/** The error to give when Chromium left no PDF, in its own last words; undefined when the PDF is there. */
function missingPdf(pdfFile: string, chromium: string, status: number | null, stderr: string): Error | undefined {
  if (existsSync(pdfFile) && statSync(pdfFile).size > 0) return undefined;
  const said = stderr.trim().split("\n").slice(-5).join("\n");
  return new Error(`Chromium (${chromium}) wrote no PDF of ${pdfFile} (exit ${status}):\n${said}`);
}

/** Writes `pdfFile` from `htmlFile`; throws with Chromium's own words if no PDF comes out. */
export function printPdf(htmlFile: string, pdfFile: string, options: PrintOptions = {}): void {
  const chromium = options.chromium ?? findChromium();
  const profile = mkdtempSync(join(tmpdir(), "bastide-chromium-"));
  // A PDF left from an earlier run must not pass for this one.
  rmSync(pdfFile, { force: true });
  try {
    const result = spawnSync(chromium, chromiumArguments(profile, htmlFile, pdfFile), {
      encoding: "utf8",
      timeout: options.timeoutMs ?? 120_000,
      env: { ...process.env, HOME: profile },
    });
    if (result.error) throw new Error(`Chromium (${chromium}) could not run: ${result.error.message}`);
    const missing = missingPdf(pdfFile, chromium, result.status, `${result.stderr ?? ""}`);
    if (missing) throw missing;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export interface PrintJob {
  html: string;
  pdf: string;
}

/** One Chromium, run without blocking: resolves when the PDF is there, rejects with Chromium's own words if not. */
function printOne(job: PrintJob, chromium: string, timeoutMs: number): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), "bastide-chromium-"));
  rmSync(job.pdf, { force: true });
  return new Promise<void>((done, fail) => {
    const child = spawn(chromium, chromiumArguments(profile, job.html, job.pdf), { env: { ...process.env, HOME: profile }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => fail(new Error(`Chromium (${chromium}) could not run: ${error.message}`)));
    child.on("close", (status) => {
      clearTimeout(timer);
      const missing = missingPdf(job.pdf, chromium, status, stderr);
      if (missing) fail(missing);
      else done();
    });
  }).finally(() => rmSync(profile, { recursive: true, force: true }));
}

/**
 * Prints several documents, `concurrency` Chromiums at a time: each spends most of its
 * time starting and waiting, not computing, so a few at once take little more than one.
 */
export async function printPdfs(jobs: readonly PrintJob[], options: PrintOptions & { concurrency?: number } = {}): Promise<void> {
  const chromium = options.chromium ?? findChromium();
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await printOne(job, chromium, options.timeoutMs ?? 120_000);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, jobs.length) }, worker));
}
