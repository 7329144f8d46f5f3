// Just enough of Caddy's Caddyfile grammar for the policy pack to see sites, global
// options and log outputs: tokens split on whitespace, "quoted" and `backquoted` tokens
// kept whole (the proxy's JSON bodies hold braces), `#` comments, and a block opened by a
// lone `{` at the end of a line and closed by a lone `}`. `caddy adapt` is the reference;
// the tests check the generated file with it too.

export interface Directive {
  /** The directive's tokens on its line, e.g. ["output", "file", "/data/access.log"]. */
  args: string[];
  /** The block that follows, if the line ends with `{`. */
  block?: Directive[];
  line: number;
}

interface Token {
  text: string;
  line: number;
  quoted: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      line += 1;
      i += 1;
    } else if (/\s/.test(c)) {
      i += 1;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i += 1;
    } else if (c === '"' || c === "`") {
      const start = line;
      let value = "";
      i += 1;
      while (i < text.length && text[i] !== c) {
        if (c === '"' && text[i] === "\\" && i + 1 < text.length) i += 1;
        if (text[i] === "\n") line += 1;
        value += text[i];
        i += 1;
      }
      i += 1;
      tokens.push({ text: value, line: start, quoted: true });
    } else {
      let value = "";
      while (i < text.length && !/\s/.test(text[i]!)) {
        value += text[i];
        i += 1;
      }
      tokens.push({ text: value, line, quoted: false });
    }
  }
  return tokens;
}

const opens = (token: Token, next: Token | undefined) => !token.quoted && token.text === "{" && (!next || next.line > token.line);
const closes = (token: Token) => !token.quoted && token.text === "}";

/** The Caddyfile as nested directives; throws on unbalanced braces. */
export function parseCaddyfile(text: string): Directive[] {
  const tokens = tokenize(text);
  const root: Directive[] = [];
  const stack: Directive[][] = [root];
  let current: Directive | undefined;
  tokens.forEach((token, index) => {
    const siblings = stack[stack.length - 1]!;
    if (closes(token)) {
      if (stack.length === 1) throw new Error(`line ${token.line}: "}" closes no block`);
      stack.pop();
      current = undefined;
      return;
    }
    if (opens(token, tokens[index + 1])) {
      if (!current || current.line !== token.line) {
        current = { args: [], line: token.line };
        siblings.push(current);
      }
      current.block = [];
      stack.push(current.block);
      current = undefined;
      return;
    }
    if (!current || current.line !== token.line) {
      current = { args: [], line: token.line };
      siblings.push(current);
    }
    current.args.push(token.text);
  });
  if (stack.length !== 1) throw new Error("a block is not closed: a `}` is missing");
  return root;
}

/** Every directive, at any depth, with its ancestors' first words (e.g. ["log"] for `output`). */
export function walk(directives: Directive[], path: string[] = []): { directive: Directive; path: string[] }[] {
  return directives.flatMap((directive) => [
    { directive, path },
    ...walk(directive.block ?? [], [...path, directive.args[0] ?? "{"]),
  ]);
}

export interface CaddySite {
  addresses: string[];
  body: Directive[];
  line: number;
}

export interface CaddyConfig {
  globalOptions: Directive[];
  sites: CaddySite[];
  /** Every directive, snippets included, for checks that look anywhere (log outputs). */
  all: Directive[];
}

const isSnippet = (d: Directive) => /^&?\(.+\)$/.test(d.args[0] ?? "");

export function readCaddyfile(text: string): CaddyConfig {
  const top = parseCaddyfile(text);
  const first = top[0];
  const globalOptions = first && first.args.length === 0 && first.block ? first.block : [];
  const rest = first && first.args.length === 0 && first.block ? top.slice(1) : top;
  // A Caddyfile with a single site may leave out the braces: its first line is the address.
  const unbraced = rest.length > 0 && !rest[0]!.block && !isSnippet(rest[0]!);
  const sites: CaddySite[] = unbraced
    ? [{ addresses: addresses(rest[0]!.args), body: rest.slice(1), line: rest[0]!.line }]
    : rest.filter((d) => d.block && !isSnippet(d)).map((d) => ({ addresses: addresses(d.args), body: d.block!, line: d.line }));
  return { globalOptions, sites, all: top };
}

const addresses = (args: string[]) => args.flatMap((a) => a.split(",")).map((a) => a.trim()).filter(Boolean);

/** Whether Caddy serves this site address over plain HTTP. */
export function servesPlainHttp(address: string): boolean {
  if (address.startsWith("http://")) return true;
  if (address.startsWith("https://")) return false;
  const port = address.match(/:(\d+)$/)?.[1];
  const host = port === undefined ? address : address.slice(0, -(port.length + 1));
  if (port === "80") return true;
  // No host name: nothing to get a certificate for, so Caddy answers in plain HTTP.
  return host === "" && port !== "443";
}
