/**
 * The explorer's client of the bank's HTTP API. The response types are the
 * encoded (JSON) side of the API's own Schemas (`ApiModels`), imported as
 * types only: the bundle carries no Schema code.
 */
import type * as ApiModels from "../../src/http/ApiModels.js"
import type * as TransferModels from "../../src/http/TransferModels.js"

export type AccountView = typeof ApiModels.AccountView.Encoded
export type AccountsPage = typeof ApiModels.AccountsPage.Encoded
export type CommandResult = typeof ApiModels.CommandResult.Encoded
export type HistoryEntry = typeof ApiModels.HistoryEntryView.Encoded
export type HistoryPage = typeof ApiModels.HistoryPage.Encoded
export type DiffView = typeof ApiModels.DiffView.Encoded
export type Change = typeof ApiModels.ChangeView.Encoded
export type StateView = typeof ApiModels.AccountStateView.Encoded
export type CategoriesView = typeof ApiModels.CategoriesView.Encoded
export type StreamsPage = typeof ApiModels.StreamsPage.Encoded
export type StreamPage = typeof ApiModels.StreamPage.Encoded
export type StoredEvent = typeof ApiModels.StoredEventView.Encoded
export type FeedPage = typeof ApiModels.FeedPage.Encoded
export type ProjectionView = typeof ApiModels.ProjectionView.Encoded
export type ProjectionsView = typeof ApiModels.ProjectionsView.Encoded
export type RebuildView = typeof ApiModels.RebuildView.Encoded
export type HealthView = typeof ApiModels.HealthView.Encoded
export type TransfersPage = typeof TransferModels.TransfersPage.Encoded
export type TransferSummary = typeof TransferModels.TransferSummary.Encoded
export type TransferView = typeof TransferModels.TransferView.Encoded
export type TransferStatus = typeof TransferModels.TransferStatus.Encoded
export type TransferCommandResult = typeof TransferModels.TransferCommandResult.Encoded

/** An error answer of the API: its status and typed body (`_tag`, `message`, and for a refusal the domain `error`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly tag: string,
    readonly detail: string,
    readonly domainError: string | undefined
  ) {
    super(detail)
  }
}

const text = (value: unknown, key: string): string | undefined => {
  if (typeof value !== "object" || value === null || !(key in value)) return undefined
  const field: unknown = Reflect.get(value, key)
  return typeof field === "string" ? field : undefined
}

const failure = (status: number, body: unknown): ApiError => {
  const tag = text(body, "_tag") ?? `HTTP ${status}`
  const error = typeof body === "object" && body !== null ? Reflect.get(body, "error") : undefined
  return new ApiError(status, tag, text(body, "message") ?? `the server answered ${status}`, text(error, "_tag"))
}

/**
 * One request. The JSON the server sends is the encoded side of the
 * Schema the API declares for this route (the server encodes it with that
 * Schema): this is the boundary where it is taken as that type.
 */
const request = async <A>(method: string, path: string, body?: unknown): Promise<A> => {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json: unknown = (response.headers.get("content-type") ?? "").includes("json") ? await response.json() : null
  if (!response.ok) throw failure(response.status, json)
  return json as A
}

const query = (params: Record<string, string | number | null | undefined>): string => {
  const entries = Object.entries(params).filter((entry): entry is [string, string | number] => entry[1] != null)
  return entries.length === 0 ? "" : `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}`
}

const id = encodeURIComponent

export const api = {
  accounts: (options: { after?: string | null; limit?: number; waitFor?: string | null }) =>
    request<AccountsPage>("GET", `/api/accounts${query(options)}`),
  account: (accountId: string) => request<AccountView>("GET", `/api/accounts/${id(accountId)}`),
  open: (body: { accountId: string; owner: string; overdraftLimit: number }) =>
    request<CommandResult>("POST", "/api/accounts", body),
  deposit: (accountId: string, amount: number) =>
    request<CommandResult>("POST", `/api/accounts/${id(accountId)}/deposits`, { amount }),
  withdraw: (accountId: string, amount: number) =>
    request<CommandResult>("POST", `/api/accounts/${id(accountId)}/withdrawals`, { amount }),
  close: (accountId: string) => request<CommandResult>("POST", `/api/accounts/${id(accountId)}/close`),
  history: (accountId: string, after: number) =>
    request<HistoryPage>("GET", `/api/accounts/${id(accountId)}/history${query({ after, limit: 500 })}`),
  diff: (accountId: string, from: number, to: number) =>
    request<DiffView>("GET", `/api/accounts/${id(accountId)}/diff${query({ from, to })}`),
  categories: () => request<CategoriesView>("GET", "/api/categories"),
  streams: (options: { category?: string | null; after?: string | null }) =>
    request<StreamsPage>("GET", `/api/streams${query({ ...options, limit: 50 })}`),
  stream: (streamId: string, after: number) =>
    request<StreamPage>("GET", `/api/streams/${id(streamId)}${query({ after, limit: 100 })}`),
  transfers: (options: { status?: TransferStatus | null; after?: string | null; waitFor?: string | null }) =>
    request<TransfersPage>("GET", `/api/transfers${query({ ...options, limit: 100 })}`),
  transfer: (transferId: string) => request<TransferView>("GET", `/api/transfers/${id(transferId)}`),
  startTransfer: (body: { transferId?: string; from: string; to: string; amount: number }) =>
    request<TransferCommandResult>("POST", "/api/transfers", body),
  approve: (transferId: string) => request<TransferCommandResult>("POST", `/api/transfers/${id(transferId)}/approve`),
  projections: () => request<ProjectionsView>("GET", "/api/projections"),
  rebuild: (name: string) => request<RebuildView>("POST", `/api/projections/${id(name)}/rebuild`),
  health: async (): Promise<HealthView> => {
    const response = await fetch("/api/health")
    const body: unknown = await response.json()
    // A 503 carries the report too, inside an `Unhealthy` error.
    if (response.status === 503 && typeof body === "object" && body !== null) {
      return Reflect.get(body, "health") as HealthView
    }
    if (!response.ok) throw failure(response.status, body)
    return body as HealthView
  }
}

/**
 * The first `pages` pages of a list, following each page's `next`, as one
 * page: their items in order, and the `next` of the last page read (null
 * when the list ended). A view shows more by asking for one page more, and
 * its periodic refresh reads them all again, so pages already shown stay.
 */
export const firstPages = async <T>(
  fetchPage: (after: string | null) => Promise<{ readonly items: ReadonlyArray<T>; readonly next: string | null }>,
  pages: number
): Promise<{ readonly items: ReadonlyArray<T>; readonly next: string | null }> => {
  const items: Array<T> = []
  let after: string | null = null
  for (let read = 0; read < pages; read++) {
    const page = await fetchPage(after)
    items.push(...page.items)
    if (page.next === null) return { items, next: null }
    after = page.next
  }
  return { items, next: after }
}

/** Every page of an account's history. */
export const fullHistory = async (accountId: string): Promise<ReadonlyArray<HistoryEntry>> =>
  (await firstPages((after) => api.history(accountId, after === null ? 0 : Number(after)), Number.POSITIVE_INFINITY))
    .items

/** The live feed from the head (or `from`), optionally of one category. */
export const liveFeed = (options: {
  readonly category: string | null
  readonly onEvent: (event: StoredEvent) => void
  readonly onState: (state: "connecting" | "open" | "closed") => void
}): (() => void) => {
  const source = new EventSource(`/api/events/live${query({ category: options.category })}`)
  options.onState("connecting")
  source.addEventListener("open", () => options.onState("open"))
  source.addEventListener("error", () => options.onState(source.readyState === 2 ? "closed" : "connecting"))
  source.addEventListener("chronicle-event", (message) => {
    if (message instanceof MessageEvent && typeof message.data === "string") {
      options.onEvent(JSON.parse(message.data) as StoredEvent)
    }
  })
  return () => {
    source.close()
    options.onState("closed")
  }
}
