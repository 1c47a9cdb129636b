/**
 * One readable line for any error, following its `cause` chain, so that a
 * status or a log names the real fault (for example "SqlError: Failed to
 * execute statement: canceling statement due to statement timeout (57014)")
 * and not only the outermost wrapper.
 *
 * @internal
 */

const field = (value: unknown, name: string): string | undefined => {
  if (typeof value !== "object" || value === null || !(name in value)) return undefined
  const found: unknown = Reflect.get(value, name)
  return typeof found === "string" && found.length > 0 ? found : undefined
}

/** @internal */
export const describeError = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  const parts: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current !== "object") {
      const text = String(current)
      if (!parts.some((part) => part.includes(text))) parts.push(text)
      break
    }
    const tag = field(current, "_tag")
    const message = field(current, "message") ?? (depth === 0 && tag === undefined ? String(current) : undefined)
    const code = field(current, "code")
    const seen = message !== undefined && parts.some((part) => part.includes(message))
    if (message !== undefined && !seen) {
      parts.push(depth === 0 && tag !== undefined ? `${tag}: ${message}` : message)
    } else if (depth === 0 && tag !== undefined && message === undefined) {
      parts.push(tag)
    }
    if (code !== undefined && parts.length > 0 && !parts.some((part) => part.includes(`(${code})`))) {
      parts[parts.length - 1] = `${parts[parts.length - 1]} (${code})`
    }
    current = "cause" in current ? current.cause : undefined
  }
  return parts.join(": ")
}
