// Reading a PDF back with poppler (Debian's poppler-utils), as a person would see it.
import { requireProgram, run } from "./programs.ts";

export function pdfPages(file: string): number {
  const info = run(requireProgram("pdfinfo", "poppler-utils"), [file]);
  if (info.status !== 0) throw new Error(`pdfinfo failed: ${info.stderr}`);
  return Number(/^Pages:\s+(\d+)/m.exec(info.stdout)?.[1]);
}

/** The PDF's text with every run of spaces (no-break ones included) made one space. */
export function pdfText(file: string): string {
  const text = run(requireProgram("pdftotext", "poppler-utils"), ["-enc", "UTF-8", file, "-"]);
  if (text.status !== 0) throw new Error(`pdftotext failed: ${text.stderr}`);
  return text.stdout.replace(/\s+/g, " ");
}
