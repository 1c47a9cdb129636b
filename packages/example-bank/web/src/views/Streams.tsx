/** What the store holds: categories with counts, the streams of one, and one stream's events as stored. */
import { useState } from "preact/hooks"
import { api, firstPages, type StoredEvent } from "../api.js"
import { Badge, ErrorNote, Json, useLoad } from "../components.js"
import { time } from "../format.js"

export const Streams = (props: { readonly category: string | null }) => {
  const categories = useLoad(() => api.categories(), [], 5000)
  // How many pages are shown: "Load more" asks for one more, and the refresh reads them all again.
  const [pages, setPages] = useState({ category: props.category, count: 1 })
  const count = pages.category === props.category ? pages.count : 1
  const list = useLoad(
    () => firstPages((after) => api.streams({ category: props.category, after }), count),
    [props.category, count],
    5000
  )
  const next = list.data?.next ?? null
  const loadMore = () => setPages({ category: props.category, count: count + 1 })
  return (
    <div class="grid sidebar">
      <section class="card">
        <h2>Categories</h2>
        {categories.error !== undefined && <ErrorNote error={categories.error} />}
        <ul class="categories" data-testid="categories">
          <li class={props.category === null ? "selected" : ""}>
            <a href="#/streams">All</a>
          </li>
          {(categories.data?.items ?? []).map((c) => (
            <li key={c.category} class={props.category === c.category ? "selected" : ""}>
              <a href={`#/streams/${encodeURIComponent(c.category)}`}>{c.category}</a>
              <span class="muted small">
                {c.streams} streams · {c.events} events
              </span>
            </li>
          ))}
        </ul>
      </section>
      <section class="card">
        <h2>
          Streams{props.category === null ? "" : ` in ${props.category}`}{" "}
          <span class="muted small">from the stream catalog read model</span>
        </h2>
        {list.error !== undefined && <ErrorNote error={list.error} />}
        <table data-testid="streams">
          <thead>
            <tr>
              <th>Stream</th>
              <th class="num">Version</th>
              <th>Last event</th>
              <th>Recorded at</th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.items ?? []).map((s) => (
              <tr key={s.streamId}>
                <td class="mono">
                  <a href={`#/stream/${encodeURIComponent(s.streamId)}`}>{s.streamId}</a>
                </td>
                <td class="num">{s.version}</td>
                <td>
                  <Badge tone="info">{s.lastType}</Badge>
                </td>
                <td class="small">{time(s.lastRecordedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {next !== null && (
          <button type="button" class="secondary" data-testid="streams-more" onClick={loadMore}>
            Load more
          </button>
        )}
      </section>
    </div>
  )
}

/** One stored event, every field of it. */
export const EventRow = (props: { readonly event: StoredEvent; readonly showStream?: boolean }) => {
  const e = props.event
  return (
    <details class="event" data-testid="event">
      <summary>
        <span class="mono muted">{e.position}</span>
        {props.showStream === true && (
          <a class="mono" href={`#/stream/${encodeURIComponent(e.streamId)}`}>
            {e.streamId}
          </a>
        )}
        <span class="mono">v{e.version}</span>
        <Badge tone={e.corrupt === undefined ? "info" : "bad"}>{e.type}</Badge>
        <span class="muted small">schema v{e.schemaVersion}</span>
        <span class="muted small">{time(e.recordedAt)}</span>
        <span class="muted small mono" title="correlation id">
          corr {e.correlationId.slice(0, 8)}
        </span>
      </summary>
      <div class="grid two">
        <dl class="facts small">
          <dt>Stream</dt>
          <dd class="mono">{e.streamId}</dd>
          <dt>Version</dt>
          <dd>{e.version}</dd>
          <dt>Position</dt>
          <dd class="mono">{e.position}</dd>
          <dt>Event id</dt>
          <dd class="mono">{e.eventId}</dd>
          <dt>Schema version stored</dt>
          <dd>{e.schemaVersion}</dd>
          <dt>Recorded at</dt>
          <dd>{e.recordedAt}</dd>
          <dt>Correlation id</dt>
          <dd class="mono">{e.correlationId}</dd>
          <dt>Causation id</dt>
          <dd class="mono">{e.causationId ?? "—"}</dd>
          {e.corrupt !== undefined && (
            <>
              <dt>Corrupt</dt>
              <dd class="negative">{e.corrupt}</dd>
            </>
          )}
        </dl>
        <div>
          <h4>Data</h4>
          <Json value={e.data} />
          {Object.keys(e.metadata).length > 0 && (
            <>
              <h4>Metadata</h4>
              <Json value={e.metadata} />
            </>
          )}
        </div>
      </div>
    </details>
  )
}

export const Stream = (props: { readonly streamId: string }) => {
  const [more, setMore] = useState<ReadonlyArray<StoredEvent>>([])
  const first = useLoad(() => api.stream(props.streamId, 0), [props.streamId])
  const [next, setNext] = useState<string | null | undefined>(undefined)
  const after = next === undefined ? (first.data?.next ?? null) : next
  const loadMore = async () => {
    if (after === null) return
    const page = await api.stream(props.streamId, Number(after))
    setMore((loaded) => [...loaded, ...page.items])
    setNext(page.next)
  }
  const accountId = props.streamId.startsWith("Account-") ? props.streamId.slice("Account-".length) : undefined
  return (
    <section class="card" data-testid="stream">
      <p class="muted small">
        <a href="#/streams">Streams</a> / {props.streamId}
      </p>
      <h2>
        {props.streamId} {first.data !== undefined && <span class="muted small">version {first.data.version}</span>}
      </h2>
      {accountId !== undefined && (
        <p>
          <a href={`#/accounts/${encodeURIComponent(accountId)}`}>Open the account, with time travel →</a>
        </p>
      )}
      {first.error !== undefined && <ErrorNote error={first.error} />}
      {[...(first.data?.items ?? []), ...more].map((event) => (
        <EventRow key={event.eventId} event={event} />
      ))}
      {after !== null && (
        <button type="button" class="secondary" onClick={loadMore}>
          Load more
        </button>
      )}
    </section>
  )
}
