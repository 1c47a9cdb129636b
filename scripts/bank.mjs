// @ts-check
/**
 * `pnpm bank …`: runs the bank CLI from its bundle (see scripts/bundle.mjs),
 * rebuilt first when a source changed since, with the arguments and the exit
 * code of the CLI itself. `pnpm bank serve` also rebuilds the event
 * explorer's bundle when its sources changed.
 */
import { pathToFileURL } from "node:url"
import { ensureFresh, programs } from "./bundle.mjs"

const cli = await ensureFresh(programs.bank)
if (process.argv.slice(2).includes("serve")) await ensureFresh(programs.web)
// The CLI reads process.argv as `node <script> <args…>`.
process.argv.splice(1, 1, cli)
await import(pathToFileURL(cli).href)
