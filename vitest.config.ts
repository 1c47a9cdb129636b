import { existsSync, readdirSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join } from "node:path"
import { defineConfig } from "vitest/config"

// One root command runs every package's tests: each folder of packages/ with
// a test/ folder is a project. Inline projects with `extends: true` inherit
// the settings below (a `projects: ["packages/*"]` glob would not).
const packages = readdirSync(join(import.meta.dirname, "packages"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(entry.parentPath, entry.name, "test")))
  .map((entry) => entry.name)
  .sort()

// Tests run on source, no build needed: the `@chronicle/source` export
// condition resolves `@chronicle/*` imports to `src/*.ts`, in vitest and in
// the Node processes that tests spawn (tsx), which inherit NODE_OPTIONS.
const condition = "@chronicle/source"
const nodeOptions = [process.env.NODE_OPTIONS, `--conditions=${condition}`].filter(Boolean).join(" ")

// Test files mostly wait (on PostgreSQL, on the OS processes of the crash
// tests and the CLI, on timers), so one more worker than vitest's default of
// cores - 1 shortens the run on a 2-core machine. Every PostgreSQL file works
// in a schema of its own, and SQLite files in files of their own.
const maxWorkers = Math.max(2, availableParallelism() - 1)

export default defineConfig({
  resolve: { conditions: [condition, "module", "node", "development|production"] },
  ssr: { resolve: { conditions: [condition, "module", "node", "development|production"] } },
  test: {
    maxWorkers,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { NODE_OPTIONS: nodeOptions },
    projects: packages.map((name) => ({
      extends: true,
      test: { name, include: [`packages/${name}/test/**/*.test.ts`] }
    }))
  }
})
