/**
 * What JSON cannot hold exactly: the check every backend runs on payloads
 * and user metadata before an append (see `Backend.prepareAppend`).
 *
 * @internal
 */

const isIdentifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const renderPath = (root: string, path: ReadonlyArray<string | number>): string => {
  let out = root
  for (const segment of path) {
    out +=
      typeof segment === "number"
        ? `[${segment}]`
        : isIdentifier.test(segment)
          ? `.${segment}`
          : `[${JSON.stringify(segment)}]`
  }
  return out
}

const describeValue = (value: unknown): string => {
  if (typeof value === "number") return String(value)
  if (typeof value === "object" && value !== null) {
    const name: unknown = Object.getPrototypeOf(value)?.constructor?.name
    return typeof name === "string" && name.length > 0 ? `a ${name}` : "an object with a custom prototype"
  }
  return `a ${typeof value}`
}

/**
 * Finds the first part of `value` that JSON cannot hold exactly, or
 * `undefined` when it is plain JSON. `JSON.stringify` would silently change
 * such a value (`NaN` and `Infinity` become `null`, `undefined` fields
 * vanish, a `Date` becomes a string, a `Map` an empty object), so that what
 * a reader gets back would differ from what was appended.
 */
export const jsonProblem = (value: unknown, root: string, maxDepth: number): string | undefined => {
  const path: Array<string | number> = []
  const visit = (value: unknown, depth: number): string | undefined => {
    switch (typeof value) {
      case "string":
      case "boolean":
        return undefined
      case "number":
        return Number.isFinite(value)
          ? undefined
          : `${renderPath(root, path)} is ${value}, which JSON cannot hold (it would be stored as null)`
      case "undefined":
        return `${renderPath(root, path)} is undefined, which JSON cannot hold (omit the field or use null)`
      case "bigint":
        return `${renderPath(root, path)} is a bigint, which JSON cannot hold (encode it as a string)`
      case "function":
      case "symbol":
        return `${renderPath(root, path)} is a ${typeof value}, which JSON cannot hold`
      case "object": {
        if (value === null) return undefined
        if (depth >= maxDepth) {
          return `${renderPath(root, path)} nests deeper than ${maxDepth} levels (the most any backend stores)`
        }
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            path.push(i)
            const problem = i in value ? visit(value[i], depth + 1) : `${renderPath(root, path)} is a hole in the array`
            path.pop()
            if (problem !== undefined) return problem
          }
          return undefined
        }
        const proto: unknown = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) {
          return `${renderPath(root, path)} is ${describeValue(value)}, not plain JSON (encode it first, e.g. with its Schema)`
        }
        if (Object.getOwnPropertySymbols(value).length > 0) {
          return `${renderPath(root, path)} has symbol keys, which JSON cannot hold`
        }
        for (const key of Object.keys(value)) {
          path.push(key)
          const problem = visit(Reflect.get(value, key), depth + 1)
          path.pop()
          if (problem !== undefined) return problem
        }
        return undefined
      }
    }
  }
  return visit(value, 0)
}
