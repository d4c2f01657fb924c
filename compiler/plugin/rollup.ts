/** The mig-ts build plugin for rollup (see ./index.ts): `plugins: [migTs({ includeDirs: ["defs"] })]`. */
import { unplugin } from "./index.js";

export type { MigPluginOptions } from "./core.js";
const migTs = unplugin.rollup;
export default migTs;
