// @ts-check
/**
 * Bundles the workspace's programs ahead of time, so that they start fast
 * and need no build step of their own at run time:
 *
 * - `bank`: the bank CLI (which also runs the HTTP server, `pnpm bank
 *   serve`), one ESM file for Node. Node then loads one file instead of
 *   hundreds of modules (the barrels of `effect` and `@effect/platform-node`
 *   alone take about 0.6 s to load). The sources are bundled directly:
 *   esbuild strips the types (`pnpm typecheck` checks them) and resolves
 *   `@chronicle/*` imports to `src/` through the `@chronicle/source` export
 *   condition, so a bundle never waits for `tsc -b`;
 * - `web`: the bank's event explorer for the browser (Preact), one script,
 *   one style sheet and its page, in `packages/example-bank/dist/web`, which
 *   the server serves: nothing is fetched from elsewhere at run time.
 *
 * - `node scripts/bundle.mjs` rebuilds every bundle;
 * - `ensureFresh(program)` rebuilds one only when a source, a package.json or
 *   the installed dependencies are newer than it (a few milliseconds when
 *   nothing changed).
 *
 * A new program adds an entry to `programs` (and, for a command, a root
 * script like `bank`: see scripts/bank.mjs).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/**
 * @typedef {object} Program
 * @property {"node" | "browser"} platform where it runs
 * @property {string} entry the TypeScript entry point, relative to the workspace root
 * @property {string} outfile the bundle (for the browser: its script), relative to the workspace root
 * @property {Array<string>} sources what it is built from, besides package.json files and the installed dependencies
 * @property {string} [page] for the browser: the HTML page copied next to the assets folder
 */

/** @satisfies {Record<string, Program>} */
export const programs = {
  bank: {
    platform: "node",
    entry: "packages/example-bank/src/cli.ts",
    outfile: "packages/example-bank/dist/bin/cli.js",
    sources: ["packages/core/src", "packages/sql-store/src", "packages/example-bank/src"]
  },
  web: {
    platform: "browser",
    entry: "packages/example-bank/web/src/main.tsx",
    outfile: "packages/example-bank/dist/web/assets/explorer.js",
    sources: ["packages/example-bank/web", "packages/example-bank/src/http/ApiModels.ts"],
    page: "packages/example-bank/web/index.html"
  }
}

/** @param {string} path @returns {number} the newest modification time of a file, or of any file under a folder */
const newest = (path) => {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs)
}

/** @param {Program} program @returns {Array<string>} what a bundle is built from */
const inputs = (program) => {
  const packages = join(root, "packages")
  return [
    ...program.sources.map((source) => join(root, source)),
    ...readdirSync(packages).map((name) => join(packages, name, "package.json")),
    join(root, "pnpm-lock.yaml"),
    join(root, "node_modules", ".modules.yaml"),
    fileURLToPath(import.meta.url)
  ]
}

/** @param {Program} program @returns {boolean} */
export const isStale = (program) => {
  const out = join(root, program.outfile)
  if (!existsSync(out)) return true
  const built = statSync(out).mtimeMs
  return inputs(program).some((input) => newest(input) > built)
}

/**
 * Writes a file through a temporary one and a rename, so that a reader (a
 * server starting, another process bundling the same program at the same
 * time) never sees half of it.
 *
 * @param {string} path
 * @param {Uint8Array | string} contents
 */
const writeAtomically = (path, contents) => {
  mkdirSync(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`
  writeFileSync(temporary, contents)
  renameSync(temporary, path)
}

/** @param {Program} program @returns {Promise<void>} */
export const bundle = async (program) => {
  const { build } = await import("esbuild")
  const outfile = join(root, program.outfile)
  /**
   * Writes the outputs, the bundle itself last: its time stamp tells whether the bundle is fresh.
   * @param {{ outputFiles?: Array<{ path: string, contents: Uint8Array }> }} result
   */
  const write = (result) => {
    const files = [...(result.outputFiles ?? [])].sort(
      (a, b) => Number(a.path === outfile) - Number(b.path === outfile)
    )
    for (const file of files) writeAtomically(file.path, file.contents)
  }
  if (program.platform === "browser") {
    const result = await build({
      write: false,
      absWorkingDir: root,
      entryPoints: [program.entry],
      outfile: program.outfile,
      bundle: true,
      platform: "browser",
      target: ["es2022", "chrome110", "firefox115", "safari16"],
      format: "esm",
      jsx: "automatic",
      jsxImportSource: "preact",
      minify: true,
      sourcemap: "linked",
      sourcesContent: false,
      legalComments: "linked",
      logLevel: "warning"
    })
    if (program.page !== undefined) {
      // The page goes beside the assets folder: dist/web/index.html.
      writeAtomically(
        join(root, dirname(dirname(program.outfile)), "index.html"),
        readFileSync(join(root, program.page))
      )
    }
    write(result)
    return
  }
  const result = await build({
    write: false,
    absWorkingDir: root,
    entryPoints: [program.entry],
    outfile: program.outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    conditions: ["@chronicle/source"],
    // Native (better-sqlite3) or optional and absent (pg-native): loaded from node_modules at run time.
    external: ["better-sqlite3", "pg-native"],
    // Bundled CommonJS modules call require(); give the ESM bundle one.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
    },
    sourcemap: "linked",
    sourcesContent: false,
    logLevel: "warning"
  })
  write(result)
}

/**
 * Rebuilds the program's bundle if it is missing or older than its sources.
 *
 * @param {Program} program
 * @returns {Promise<string>} the bundle's absolute path
 */
export const ensureFresh = async (program) => {
  if (isStale(program)) {
    const started = Date.now()
    await bundle(program)
    process.stderr.write(`bundled ${program.outfile} in ${Date.now() - started} ms\n`)
  }
  return join(root, program.outfile)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const program of Object.values(programs)) {
    const started = Date.now()
    await bundle(program)
    process.stdout.write(`bundled ${relative(root, join(root, program.outfile))} in ${Date.now() - started} ms\n`)
  }
}
