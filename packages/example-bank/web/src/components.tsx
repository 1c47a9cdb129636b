/** Small building blocks shared by the explorer's views. */
import type { ComponentChildren } from "preact"
import { useEffect, useState } from "preact/hooks"
import { ApiError, type Change } from "./api.js"
import { money, value } from "./format.js"

/** An amount of money, signed and coloured when asked. */
export const Money = (props: { readonly cents: number; readonly signed?: boolean }) => (
  <span class={`money${props.cents < 0 ? " negative" : ""}`}>
    {props.signed === true && props.cents > 0 ? "+" : ""}
    {money(props.cents)} €
  </span>
)

/** A status, projection state or event type as a small badge. */
export const Badge = (props: {
  readonly tone?: "ok" | "warn" | "bad" | "info" | "muted"
  readonly children: ComponentChildren
}) => <span class={`badge ${props.tone ?? "muted"}`}>{props.children}</span>

/** JSON, indented, in a scrollable block. */
export const Json = (props: { readonly value: unknown }) => (
  <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>
)

/** Input the page itself refuses before sending anything. */
export class InputError extends Error {}

/** What went wrong, readably: the API's message, with its kind (a refusal names the rule). */
export const ErrorNote = (props: { readonly error: unknown }) => {
  const error = props.error
  if (error instanceof ApiError) {
    const title =
      error.status === 422
        ? `Refused${error.domainError === undefined ? "" : `: ${error.domainError}`}`
        : error.status === 400
          ? "Invalid input"
          : error.status === 404
            ? "Not found"
            : error.status === 409
              ? "Conflict"
              : error.status === 503
                ? "Unavailable"
                : error.tag
    return (
      <div class="alert" role="alert" data-testid="error">
        <strong>{title}</strong> {error.detail}
      </div>
    )
  }
  return (
    <div class="alert" role="alert" data-testid="error">
      <strong>{error instanceof InputError ? "Invalid input" : "Error"}</strong>{" "}
      {error instanceof Error ? error.message : String(error)}
    </div>
  )
}

const showValue = (_path: string, v: unknown): string => value(v)

/** Money fields of an account's state shown in euros, the others as they are. */
export const showAccountField = (path: string, v: unknown): string =>
  (path === "balance" || path === "overdraftLimit") && typeof v === "number" ? `${money(v)} €` : value(v)

/** The changes an event (or a span of versions) made to the state. */
export const Changes = (props: {
  readonly changes: ReadonlyArray<Change>
  readonly testid?: string
  /** How to show a field's value (default: as JSON). */
  readonly show?: (path: string, value: unknown) => string
}) =>
  props.changes.length === 0 ? (
    <p class="muted">No change.</p>
  ) : (
    <table class="changes" data-testid={props.testid}>
      <thead>
        <tr>
          <th>Field</th>
          <th>Before</th>
          <th>After</th>
        </tr>
      </thead>
      <tbody>
        {props.changes.map((change) => (
          <tr key={change.path}>
            <td class="mono">{change.path || "(state)"}</td>
            <td class="before">{(props.show ?? showValue)(change.path, change.before)}</td>
            <td class="after">{(props.show ?? showValue)(change.path, change.after)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )

/** Loads data with `load`, again whenever `deps` change, and every `refreshMs` when given. */
export const useLoad = <A,>(
  load: () => Promise<A>,
  deps: ReadonlyArray<unknown>,
  refreshMs?: number
): { readonly data: A | undefined; readonly error: unknown; readonly reload: () => void } => {
  const [data, setData] = useState<A | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    load().then(
      (loaded) => {
        if (!live) return
        setData(loaded)
        setError(undefined)
      },
      (failed: unknown) => {
        if (live) setError(failed)
      }
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  useEffect(() => {
    if (refreshMs === undefined) return
    const timer = setInterval(() => setTick((n) => n + 1), refreshMs)
    return () => clearInterval(timer)
  }, [refreshMs])
  return { data, error, reload: () => setTick((n) => n + 1) }
}

/** A state badge tone for a projection state. */
export const stateTone = (state: string): "ok" | "warn" | "bad" | "info" | "muted" =>
  state === "caught-up"
    ? "ok"
    : state === "running" || state === "rebuilding" || state === "starting"
      ? "info"
      : state === "failed" || state === "stale"
        ? "bad"
        : state === "retrying"
          ? "warn"
          : "muted"
