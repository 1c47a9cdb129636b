/**
 * Transfers: the list with each one's status and its saga's steps (and an
 * Approve button for those awaiting approval), a form to start one, and one
 * transfer with its steps as stored (the saga's journal and the transfer's
 * events). Both views reload when the live feed brings an event of a
 * transfer or of its saga; the list (from the transfers read model) is then
 * read once the read model has applied the last transfer event brought.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import { api, firstPages, liveFeed, type TransferStatus, type TransferSummary } from "../api.js"
import { Badge, ErrorNote, InputError, Money, useLoad } from "../components.js"
import { parseAmount, time } from "../format.js"
import { navigate } from "../route.js"
import { EventRow } from "./Streams.js"

const statuses: ReadonlyArray<TransferStatus> = [
  "requested",
  "running",
  "awaiting-approval",
  "compensating",
  "completed",
  "failed",
  "compensation-failed"
]

const statusTone = (status: TransferStatus): "ok" | "warn" | "bad" | "info" | "muted" =>
  status === "completed"
    ? "ok"
    : status === "awaiting-approval"
      ? "warn"
      : status === "failed" || status === "compensation-failed"
        ? "bad"
        : status === "requested"
          ? "muted"
          : "info"

/**
 * Calls `onChange` (at most every 200 ms) when the live feed brings an event
 * of a transfer or of its saga, with the position of the last transfer event
 * it brought (the list waits for its read model to have applied it).
 */
const useTransferEvents = (onChange: (transferEventAt: string | null) => void): void => {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let transferEventAt: string | null = null
    const stop = liveFeed({
      category: null,
      onState: () => undefined,
      onEvent: (event) => {
        if (event.streamId.startsWith("Transfer-")) transferEventAt = event.position
        else if (!event.streamId.startsWith("saga:Transfer-")) return
        if (timer === undefined) {
          timer = setTimeout(() => {
            timer = undefined
            onChange(transferEventAt)
            transferEventAt = null
          }, 200)
        }
      }
    })
    return () => {
      if (timer !== undefined) clearTimeout(timer)
      stop()
    }
  }, [])
}

/** The steps the saga completed (and compensated), in order. */
const Steps = (props: { readonly transfer: TransferSummary }) => {
  const saga = props.transfer.saga
  if (saga === null) return <span class="muted small">not started</span>
  return (
    <span class="steps" data-testid={`steps-${props.transfer.transferId}`}>
      {saga.steps.map((step) => (
        <Badge key={step} tone={saga.compensated.includes(step) ? "warn" : "info"}>
          {step}
        </Badge>
      ))}
      {saga.waitingFor !== null && <span class="muted small"> waiting for {saga.waitingFor.for}</span>}
    </span>
  )
}

const StartForm = (props: { readonly onStarted: () => void }) => {
  const [from, setFrom] = useState("")
  const [to, setTo] = useState("")
  const [amount, setAmount] = useState("")
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const cents = parseAmount(amount)
    if (cents === undefined || cents <= 0) {
      setError(new InputError("the amount is a positive amount in euros, e.g. 25 or 12.50"))
      return
    }
    setBusy(true)
    try {
      const started = await api.startTransfer({ from: from.trim(), to: to.trim(), amount: cents })
      setError(undefined)
      setAmount("")
      props.onStarted()
      navigate(`/transfers/${started.transferId}`)
    } catch (failed) {
      setError(failed)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card form" onSubmit={submit} data-testid="transfer-form">
      <h2>Start a transfer</h2>
      <label>
        From account
        <input name="from" required placeholder="alice" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
      </label>
      <label>
        To account
        <input name="to" required placeholder="bob" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <label>
        Amount (€)
        <input
          name="amount"
          required
          inputMode="decimal"
          value={amount}
          onInput={(e) => setAmount(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        Transfer
      </button>
      <p class="muted small">
        The Transfer saga withdraws, waits for an approval above the bank's threshold, deposits, and completes; if a
        step fails for good, it refunds.
      </p>
      {error !== undefined && <ErrorNote error={error} />}
    </form>
  )
}

const ApproveButton = (props: { readonly transferId: string; readonly onDone: () => void }) => {
  const [error, setError] = useState<unknown>(undefined)
  const approve = async (event: Event) => {
    event.stopPropagation()
    try {
      await api.approve(props.transferId)
      setError(undefined)
      props.onDone()
    } catch (failed) {
      setError(failed)
    }
  }
  return (
    <>
      <button type="button" class="small" data-testid={`approve-${props.transferId}`} onClick={approve}>
        Approve
      </button>
      {error !== undefined && <ErrorNote error={error} />}
    </>
  )
}

export const Transfers = () => {
  const [status, setStatus] = useState<TransferStatus | null>(null)
  // How many pages are shown: "Load more" asks for one more, and the refresh reads them all again.
  const [pages, setPages] = useState(1)
  // The position of the last transfer event the live feed brought: the list is read once its read model has it.
  const waitFor = useRef<string | null>(null)
  const list = useLoad(
    () => firstPages((after) => api.transfers({ status, after, waitFor: waitFor.current }), pages),
    [status, pages],
    5000
  )
  useTransferEvents((transferEventAt) => {
    if (transferEventAt !== null) waitFor.current = transferEventAt
    list.reload()
  })
  const rows = list.data?.items ?? []
  return (
    <div class="grid two">
      <section class="card">
        <h2>
          Transfers <span class="muted small">live: updated as their events are recorded</span>
        </h2>
        <div class="row">
          <label>
            Status
            <select
              data-testid="transfer-status"
              value={status ?? ""}
              onChange={(e) => {
                const chosen = statuses.find((s) => s === e.currentTarget.value)
                setStatus(chosen ?? null)
                setPages(1)
              }}
            >
              <option value="">All</option>
              {statuses.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
        {list.error !== undefined && <ErrorNote error={list.error} />}
        {rows.length === 0 ? (
          list.data?.next === null || list.data === undefined ? (
            <p class="muted">No transfer{status === null ? " yet: start one" : ` ${status}`}.</p>
          ) : (
            // a filtered page reads a bounded number of transfers: none of those matched, later ones may
            <p class="muted">No transfer {status} among the first transfers read.</p>
          )
        ) : (
          <table data-testid="transfers">
            <thead>
              <tr>
                <th>Transfer</th>
                <th>From → to</th>
                <th class="num">Amount</th>
                <th>Status</th>
                <th>Steps</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr
                  key={t.transferId}
                  class="clickable"
                  data-testid={`transfer-${t.transferId}`}
                  onClick={() => navigate(`/transfers/${t.transferId}`)}
                >
                  <td class="mono">
                    <a href={`#/transfers/${encodeURIComponent(t.transferId)}`}>{t.transferId}</a>
                  </td>
                  <td class="mono small">
                    {t.from} → {t.to}
                  </td>
                  <td class="num">
                    <Money cents={t.amount} />
                  </td>
                  <td>
                    <Badge tone={statusTone(t.status)}>
                      <span data-testid={`status-${t.transferId}`}>{t.status}</span>
                    </Badge>
                    {t.reason !== null && <div class="negative small">{t.reason}</div>}
                  </td>
                  <td>
                    <Steps transfer={t} />
                  </td>
                  <td>
                    {t.status === "awaiting-approval" && (
                      <ApproveButton transferId={t.transferId} onDone={list.reload} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {list.data !== undefined && list.data.next !== null && (
          <button type="button" class="secondary" data-testid="transfers-more" onClick={() => setPages((n) => n + 1)}>
            Load more
          </button>
        )}
      </section>
      <StartForm onStarted={list.reload} />
    </div>
  )
}

export const TransferDetail = (props: { readonly transferId: string }) => {
  const view = useLoad(() => api.transfer(props.transferId), [props.transferId], 5000)
  useTransferEvents(() => view.reload())
  const t = view.data
  return (
    <section class="card" data-testid="transfer">
      <p class="muted small">
        <a href="#/transfers">Transfers</a> / {props.transferId}
      </p>
      {view.error !== undefined && <ErrorNote error={view.error} />}
      {t !== undefined && (
        <>
          <h2>
            {t.transferId}{" "}
            <Badge tone={statusTone(t.status)}>
              <span data-testid="transfer-status-detail">{t.status}</span>
            </Badge>
          </h2>
          <dl class="facts">
            <dt>From</dt>
            <dd class="mono">
              <a href={`#/accounts/${encodeURIComponent(t.from)}`}>{t.from}</a>
            </dd>
            <dt>To</dt>
            <dd class="mono">
              <a href={`#/accounts/${encodeURIComponent(t.to)}`}>{t.to}</a>
            </dd>
            <dt>Amount</dt>
            <dd>
              <Money cents={t.amount} />
            </dd>
            {t.reason !== null && (
              <>
                <dt>Failed because</dt>
                <dd class="negative">{t.reason}</dd>
              </>
            )}
            <dt>Steps</dt>
            <dd>
              <Steps transfer={t} />
            </dd>
            {t.saga !== null && (
              <>
                <dt>Saga</dt>
                <dd>
                  {t.saga.state}, run {t.saga.run}
                  {t.saga.updatedAt !== null && <span class="muted small"> · updated {time(t.saga.updatedAt)}</span>}
                  {t.saga.error !== null && <div class="negative small">{t.saga.error}</div>}
                </dd>
              </>
            )}
          </dl>
          {t.status === "awaiting-approval" && <ApproveButton transferId={t.transferId} onDone={view.reload} />}
          <div class="grid two">
            <div data-testid="journal">
              <h3>
                The saga's journal <span class="muted small mono">saga:Transfer-{t.transferId}</span>
              </h3>
              {t.journal.length === 0 ? (
                <p class="muted">The saga has not picked it up yet.</p>
              ) : (
                t.journal.map((event) => <EventRow key={event.eventId} event={event} />)
              )}
            </div>
            <div data-testid="transfer-events">
              <h3>
                The transfer's events <span class="muted small mono">Transfer-{t.transferId}</span>
              </h3>
              {t.events.map((event) => (
                <EventRow key={event.eventId} event={event} />
              ))}
            </div>
          </div>
        </>
      )}
    </section>
  )
}
