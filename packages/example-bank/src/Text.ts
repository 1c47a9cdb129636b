/**
 * Untrusted text on a terminal: the characters that can change what a
 * terminal shows beyond themselves (C0 and C1 controls such as newlines, the
 * bell and the ESC of ANSI sequences, DEL, line and paragraph separators, and
 * the bidirectional embeddings, overrides and isolates such as the
 * right-to-left override), a check for them, and an escape that makes them
 * visible.
 *
 * The bank refuses them in owner names (`Account.Owner`), and the CLI
 * escapes every string from the store or the user it prints, since events
 * written by older releases or by other writers may hold them.
 *
 * @since 0.4.0
 */

/** Whether a code point is a control, a line or paragraph separator, or a bidi embedding, override or isolate. */
const isUnsafe = (code: number): boolean =>
  code <= 0x1f ||
  (code >= 0x7f && code <= 0x9f) ||
  code === 0x2028 ||
  code === 0x2029 ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069)

/**
 * Whether `text` holds a control character, a line or paragraph separator,
 * or a bidirectional embedding, override or isolate.
 *
 * @example
 * ```ts
 * import { Text } from "@chronicle/example-bank"
 *
 * Text.hasControlCharacters("Ada Lovelace") // false
 * Text.hasControlCharacters("Ada\u001b[31m") // true
 * Text.hasControlCharacters("evil\u202Etxt.exe") // true
 * ```
 * @since 0.4.0
 * @category checks
 */
export const hasControlCharacters = (text: string): boolean => {
  for (const char of text) {
    if (isUnsafe(char.codePointAt(0) ?? 0)) return true
  }
  return false
}

/**
 * Makes the characters {@link hasControlCharacters} looks for visible, so
 * that printing `text` shows it as it is and cannot move the cursor, change
 * colours, ring the bell, start a new line or reverse what follows: those
 * up to U+00FF become `\xHH`, the others `\u{HHHH}`. Everything else is left
 * as it is.
 *
 * @example
 * ```ts
 * import { Text } from "@chronicle/example-bank"
 *
 * Text.printable("Ada\u001b[31m\n") // "Ada\\x1b[31m\\x0a"
 * Text.printable("evil\u202Etxt") // "evil\\u{202e}txt"
 * ```
 * @since 0.4.0
 * @category escaping
 */
export const printable = (text: string): string => {
  if (!hasControlCharacters(text)) return text
  let escaped = ""
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0
    escaped += !isUnsafe(code)
      ? char
      : code <= 0xff
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u{${code.toString(16).padStart(4, "0")}}`
  }
  return escaped
}
