/**
 * internal/fastClass: a class renamed the way esbuild's `keepNames` does it
 * (a dictionary-mode object in V8, whose construction V8 then never
 * optimises) is back in fast mode once the codec decoded one of its events.
 * Checked in a child Node process with V8's `%HasFastProperties`.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const probe = fileURLToPath(new URL("./support/fastClass-probe.ts", import.meta.url))

describe("fastClass", () => {
  it("puts a renamed event class back in fast mode once the codec decoded it, and Position too", () => {
    const output = execFileSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", probe], {
      encoding: "utf8"
    })
    expect(JSON.parse(output)).toEqual({
      before: { deposited: false, plain: false },
      after: { deposited: true, plain: true, position: true },
      decoded: true
    })
  })
})
