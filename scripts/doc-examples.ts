/**
 * Extracts every ```ts example from the JSDoc of packages/<pkg>/src, from
 * packages/<pkg>/README.md and from README.md into .doc-examples/, one module
 * per example, so that `pnpm typecheck` compiles the documentation as well as
 * the code.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = join(import.meta.dirname, "..")
const out = join(root, ".doc-examples")

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : []
  })

// A fence may name its module (```ts wallet.ts) so that later examples can import it.
const fence = /```(?:ts|typescript)(?:[ \t]+([\w.-]+\.ts))?\n([\s\S]*?)```/g

interface Example {
  readonly name: string | undefined
  readonly code: string
}

const examplesIn = (text: string): Array<Example> =>
  [...text.matchAll(fence)].map((m) => ({ name: m[1], code: m[2] ?? "" }))

const examplesOf = (path: string): Array<Example> => {
  const text = readFileSync(path, "utf8")
  if (path.endsWith(".md")) return examplesIn(text)
  // JSDoc: take each /** ... */ block, strip the leading " * ", then find fences.
  return [...text.matchAll(/\/\*\*([\s\S]*?)\*\//g)].flatMap((block) => {
    const body = (block[1] ?? "")
      .split("\n")
      .map((line) => line.replace(/^\s*\* ?/, ""))
      .join("\n")
    return examplesIn(body)
  })
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const sources = [
  ...readdirSync(join(root, "packages")).flatMap((pkg) => {
    const src = join(root, "packages", pkg, "src")
    const readme = join(root, "packages", pkg, "README.md")
    return [
      ...(statSync(src, { throwIfNoEntry: false })?.isDirectory() ? walk(src) : []),
      ...(statSync(readme, { throwIfNoEntry: false })?.isFile() ? [readme] : [])
    ]
  }),
  join(root, "README.md")
]
let count = 0
for (const source of sources) {
  examplesOf(source).forEach(({ name: given, code }, index) => {
    const name = given ?? `${relative(root, source).replace(/[^A-Za-z0-9]+/g, "_")}_${index + 1}.ts`
    writeFileSync(join(out, name), `// from ${relative(root, source)}, example ${index + 1}\n${code}\nexport {}\n`)
    count++
  })
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../tsconfig.json",
      compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
      include: ["./*.ts"]
    },
    null,
    2
  )
)
process.stdout.write(`doc examples: ${count} extracted to .doc-examples/\n`)
