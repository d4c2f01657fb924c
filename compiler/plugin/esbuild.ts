/** The mig-ts build plugin for esbuild (see ./index.ts): `plugins: [migTs({ includeDirs: ["defs"] })]`. */
import { unplugin } from "./index.js";

export type { MigPluginOptions } from "./core.js";
const migTs = unplugin.esbuild;
export default migTs;
