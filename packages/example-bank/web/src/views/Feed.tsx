/** The live feed: new events as the store records them (server-sent events). */
import { useEffect, useState } from "preact/hooks"
import { api, liveFeed, type StoredEvent } from "../api.js"
import { Badge, useLoad } from "../components.js"
import { EventRow } from "./Streams.js"

const keep = 200

export const Feed = () => {
  const categories = useLoad(() => api.categories(), [])
  const [category, setCategory] = useState<string | null>(null)
  const [paused, setPaused] = useState(false)
  const [state, setState] = useState<"connecting" | "open" | "closed">("closed")
  const [events, setEvents] = useState<ReadonlyArray<StoredEvent>>([])
  useEffect(() => {
    if (paused) return
    return liveFeed({
      category,
      onState: setState,
      onEvent: (event) => setEvents((seen) => [event, ...seen].slice(0, keep))
    })
  }, [category, paused])
  return (
    <section class="card" data-testid="feed">
      <h2>
        Live feed{" "}
        <Badge tone={state === "open" ? "ok" : state === "connecting" ? "warn" : "muted"}>
          <span data-testid="feed-state">{state}</span>
        </Badge>
      </h2>
      <div class="row">
        <label>
          Category
          <select
            value={category ?? ""}
            onChange={(e) => {
              setEvents([])
              setCategory(e.currentTarget.value === "" ? null : e.currentTarget.value)
            }}
          >
            <option value="">All</option>
            {(categories.data?.items ?? []).map((c) => (
              <option key={c.category} value={c.category}>
                {c.category}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={() => setPaused(!paused)}>
          {paused ? "Resume" : "Pause"}
        </button>
        <button type="button" class="secondary" onClick={() => setEvents([])}>
          Clear
        </button>
      </div>
      {events.length === 0 ? (
        <p class="muted">Waiting for new events… (open an account or deposit in another tab)</p>
      ) : (
        events.map((event) => <EventRow key={event.eventId} event={event} showStream />)
      )}
    </section>
  )
}
