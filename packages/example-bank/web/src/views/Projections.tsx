/** Read models: each projection's state, checkpoint and lag, and rebuilds with their progress. */
import { useState } from "preact/hooks"
import { api, type ProjectionView } from "../api.js"
import { Badge, ErrorNote, stateTone, useLoad } from "../components.js"
import { time } from "../format.js"

const Progress = (props: { readonly projection: ProjectionView }) => {
  const rebuild = props.projection.rebuild
  if (rebuild === null) return null
  const total = rebuild.processed + rebuild.lag
  const percent = rebuild.status === "done" ? 100 : total === 0 ? 0 : Math.floor((100 * rebuild.processed) / total)
  return (
    <div class="progress" data-testid={`progress-${props.projection.name}`}>
      <div class="bar">
        <div class={`fill ${rebuild.status}`} style={{ width: `${percent}%` }} />
      </div>
      <span class="small">
        rebuild {rebuild.status}: {rebuild.processed} events
        {rebuild.status === "running" ? `, ${rebuild.lagExact ? "" : "≥ "}${rebuild.lag} to go` : ""}
        {rebuild.error !== null ? ` (${rebuild.error})` : ""}
      </span>
    </div>
  )
}

export const Projections = () => {
  const view = useLoad(() => api.projections(), [], 1000)
  const [error, setError] = useState<unknown>(undefined)
  const rebuild = async (name: string) => {
    try {
      await api.rebuild(name)
      setError(undefined)
      view.reload()
    } catch (failed) {
      setError(failed)
    }
  }
  return (
    <section class="card">
      <h2>Projections</h2>
      <p class="muted small">
        Read models the server keeps up to date in the background. Lag: events recorded but not applied yet.
      </p>
      {view.error !== undefined && <ErrorNote error={view.error} />}
      {error !== undefined && <ErrorNote error={error} />}
      <table data-testid="projections">
        <thead>
          <tr>
            <th>Projection</th>
            <th>State</th>
            <th>Checkpoint</th>
            <th class="num">Lag</th>
            <th class="num">Parked</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(view.data?.items ?? []).map((p) => (
            <tr key={`${p.name}-${p.version}`} data-testid={`projection-${p.name}`}>
              <td>
                <strong>{p.name}</strong> <span class="muted small">v{p.version}</span>
                <Progress projection={p} />
                {p.error !== null && <div class="negative small">{p.error}</div>}
              </td>
              <td>
                <Badge tone={stateTone(p.state)}>{p.state}</Badge>
              </td>
              <td class="mono">{p.checkpoint ?? "—"}</td>
              <td class="num" data-testid={`lag-${p.name}`}>
                {p.lagExact ? "" : "≥ "}
                {p.lag}
              </td>
              <td class="num">{p.parked}</td>
              <td class="small">{p.updatedAt === null ? "—" : time(p.updatedAt)}</td>
              <td>
                <button
                  type="button"
                  class="secondary small"
                  data-testid={`rebuild-${p.name}`}
                  disabled={p.rebuild?.status === "running"}
                  onClick={() => rebuild(p.name)}
                >
                  Rebuild
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
