// Tests run the program through the same offline harness as `npm run plan`.
export * from "../../stacks/offline/mocks.ts";
