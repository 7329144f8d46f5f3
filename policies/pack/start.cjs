// Pulumi's policy runner require()s the pack with its own ts-node registered, which
// cannot load this repository's ES-module TypeScript. So the pack's entry is this
// CommonJS file: it loads the TypeScript pack through tsx, as `--import tsx` does for
// the Pulumi program, and hands the runner the promise of it.
module.exports = import("tsx/esm").then(() => import("./index.ts"));
