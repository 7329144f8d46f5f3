module.exports = import("tsx/esm").then(() => import("./index.ts"));
