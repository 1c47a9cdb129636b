import { defineConfig } from "vitest/config"

// One root command runs every package's tests. Inline projects with
// `extends: true` inherit the settings below (a `projects: ["packages/*"]`
// glob would not).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "core", include: ["packages/core/test/**/*.test.ts"] } },
      { extends: true, test: { name: "sql-store", include: ["packages/sql-store/test/**/*.test.ts"] } },
      { extends: true, test: { name: "example-bank", include: ["packages/example-bank/test/**/*.test.ts"] } }
    ]
  }
})
