/**
 * Untrusted text on a terminal: the check and the escape the bank uses for
 * owner names and for everything the CLI prints.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { Text } from "../src/index.js"

describe("Text", () => {
  it.prop(
    "printable leaves nothing a terminal would act on, and changes nothing else",
    [FastCheck.string({ unit: "binary", maxLength: 200 })],
    ([text]) => {
      const shown = Text.printable(text)
      expect(Text.hasControlCharacters(shown)).toBe(false)
      if (!Text.hasControlCharacters(text)) expect(shown).toBe(text)
    }
  )

  it("escapes controls, separators and direction overrides visibly", () => {
    expect(Text.printable("Ada\u001b[31m\u0007\n\t\u007f\u009b")).toBe("Ada\\x1b[31m\\x07\\x0a\\x09\\x7f\\x9b")
    expect(Text.printable("a\u202eb\u2066c\u2028d")).toBe("a\\u{202e}b\\u{2066}c\\u{2028}d")
    expect(Text.printable("Zoë 李 👩‍💻")).toBe("Zoë 李 👩‍💻")
    expect(Text.hasControlCharacters("plain text")).toBe(false)
    for (const unsafe of ["\u0000", "\u001b", "\r", "\u0085", "\u202a", "\u2069", "\u2029"]) {
      expect(Text.hasControlCharacters(`x${unsafe}y`)).toBe(true)
    }
  })
})
