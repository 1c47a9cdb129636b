/**
 * The event explorer's files, served by the API server: `GET /` is the
 * explorer's page and `GET /assets/<file>` its script and style sheet. They
 * are built ahead of time (`node scripts/bundle.mjs`, which `pnpm bank
 * serve` runs when a source changed) into `packages/example-bank/dist/web`,
 * and read into memory when the server starts: nothing is fetched from
 * elsewhere at run time.
 *
 * Without a built explorer, `GET /` says how to build it (503), and the API
 * works as ever.
 *
 * @since 0.5.0
 */
import { fileURLToPath } from "node:url"
import { FileSystem, HttpApiBuilder, HttpRouter, HttpServerResponse, Path } from "@effect/platform"
import { Effect, type Layer, Option } from "effect"

/**
 * Where the built explorer is: `dist/web` of the bank's package, found from
 * this module (the same from `src/http/` and from the bundled CLI in
 * `dist/bin/`).
 *
 * @example
 * ```ts
 * import { StaticAssets } from "@chronicle/example-bank/http"
 *
 * const explorer = StaticAssets.layer(StaticAssets.defaultRoot) // the same as StaticAssets.layer()
 * ```
 * @since 0.5.0
 * @category constants
 */
export const defaultRoot: string = fileURLToPath(new URL("../../dist/web/", import.meta.url))

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json"
}

interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
}

const notBuilt = (root: string) =>
  HttpServerResponse.html(
    `<!doctype html><meta charset="utf-8"><title>Chronicle bank</title><p>The event explorer is not built (nothing in ${root}). Run <code>node scripts/bundle.mjs</code> (or <code>pnpm bank serve</code>, which builds it), then reload. The API is at <a href="/docs">/docs</a>.</p>`
  ).pipe(HttpServerResponse.setStatus(503))

/**
 * Serves the explorer from `root` (default {@link defaultRoot}).
 *
 * @example
 * ```ts
 * import { StaticAssets } from "@chronicle/example-bank/http"
 *
 * const explorer = StaticAssets.layer("/srv/bank/web")
 * ```
 * @since 0.5.0
 * @category layers
 */
export const layer = (root: string = defaultRoot): Layer.Layer<never, never, FileSystem.FileSystem | Path.Path> =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const read = (file: string) =>
        fs.readFile(path.join(root, file)).pipe(
          Effect.map(
            (body): Asset => ({ body, contentType: contentTypes[path.extname(file)] ?? "application/octet-stream" })
          ),
          Effect.option
        )
      const index = yield* read("index.html")
      const names = yield* fs.readDirectory(path.join(root, "assets")).pipe(Effect.orElseSucceed(() => []))
      const assets = new Map<string, Asset>()
      for (const name of names) {
        const asset = yield* read(path.join("assets", name))
        if (Option.isSome(asset)) assets.set(name, asset.value)
      }
      const respond = (asset: Asset) =>
        HttpServerResponse.uint8Array(asset.body, {
          contentType: asset.contentType,
          headers: { "cache-control": "no-cache" }
        })
      yield* router.get("/", Effect.succeed(Option.match(index, { onNone: () => notBuilt(root), onSome: respond })))
      yield* router.get(
        "/assets/:file",
        Effect.map(HttpRouter.params, (params) => {
          const asset = params.file === undefined ? undefined : assets.get(params.file)
          return asset === undefined ? HttpServerResponse.empty({ status: 404 }) : respond(asset)
        })
      )
    })
  )
