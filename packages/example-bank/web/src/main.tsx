/**
 * The bank's event explorer: one page, its views chosen by the URL's hash.
 * Each section of the navigation is one entry of `sections` (a new concept
 * is one more entry and one more view).
 */
import "./style.css"
import type { ComponentChildren } from "preact"
import { render } from "preact"
import { api } from "./api.js"
import { Badge, useLoad } from "./components.js"
import { useRoute } from "./route.js"
import { Account } from "./views/Account.js"
import { Accounts } from "./views/Accounts.js"
import { Feed } from "./views/Feed.js"
import { Projections } from "./views/Projections.js"
import { Stream, Streams } from "./views/Streams.js"
import { TransferDetail, Transfers } from "./views/Transfers.js"

interface Section {
  /** The first segment of its routes. */
  readonly id: string
  readonly title: string
  /** Other first segments that belong to it (`stream` for one stream). */
  readonly also?: ReadonlyArray<string>
  readonly view: (rest: ReadonlyArray<string>, first: string) => ComponentChildren
}

const sections: ReadonlyArray<Section> = [
  {
    id: "accounts",
    title: "Accounts",
    view: ([accountId]) => (accountId === undefined ? <Accounts /> : <Account key={accountId} accountId={accountId} />)
  },
  {
    id: "streams",
    title: "Streams",
    also: ["stream"],
    view: ([id], first) =>
      first === "stream" && id !== undefined ? <Stream key={id} streamId={id} /> : <Streams category={id ?? null} />
  },
  {
    id: "transfers",
    title: "Transfers",
    view: ([transferId]) =>
      transferId === undefined ? <Transfers /> : <TransferDetail key={transferId} transferId={transferId} />
  },
  { id: "feed", title: "Live feed", view: () => <Feed /> },
  { id: "projections", title: "Projections", view: () => <Projections /> }
]

const Health = () => {
  const health = useLoad(() => api.health(), [], 5000)
  const status = health.data?.status ?? (health.error === undefined ? "…" : "down")
  return (
    <span class="health" title={health.data?.feed?.message ?? ""} data-testid="health">
      <Badge tone={status === "ok" ? "ok" : status === "degraded" ? "warn" : status === "down" ? "bad" : "muted"}>
        store {status}
      </Badge>
    </span>
  )
}

const App = () => {
  const [first = "accounts", ...rest] = useRoute()
  const section = sections.find((s) => s.id === first || s.also?.includes(first)) ?? sections[0]
  return (
    <>
      <header>
        <div class="bar-inner">
          <a class="brand" href="#/accounts">
            <span class="logo" /> Chronicle bank <span class="tagline">event explorer</span>
          </a>
          <nav>
            {sections.map((s) => (
              <a key={s.id} href={`#/${s.id}`} class={s === section ? "active" : ""}>
                {s.title}
              </a>
            ))}
            <a href="/docs" target="_blank" rel="noreferrer">
              API docs
            </a>
          </nav>
          <Health />
        </div>
      </header>
      <main>{section?.view(rest, first)}</main>
    </>
  )
}

const root = document.getElementById("app")
if (root !== null) render(<App />, root)
