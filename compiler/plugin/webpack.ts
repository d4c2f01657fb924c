/** The mig-ts build plugin for webpack (see ./index.ts): `plugins: [migTs({ includeDirs: ["defs"] })]`. */
import { unplugin } from "./index.js";

export type { MigPluginOptions } from "./core.js";
const migTs = unplugin.webpack;
export default migTs;
