/**
 * One account: its state now, forms for its commands (refusals shown as
 * the bank words them), a time-travel slider over its history (the state
 * after each event and what that event changed), and a diff between two
 * versions.
 */
import { useEffect, useState } from "preact/hooks"
import { type AccountView, api, type CommandResult, type DiffView, fullHistory, type HistoryEntry } from "../api.js"
import { Badge, Changes, ErrorNote, InputError, Json, Money, showAccountField } from "../components.js"
import { money, parseAmount, time } from "../format.js"

const Commands = (props: { readonly account: AccountView; readonly onDone: () => void }) => {
  const [amount, setAmount] = useState("")
  const [outcome, setOutcome] = useState<{ readonly ok: CommandResult } | { readonly error: unknown } | undefined>()
  const [busy, setBusy] = useState(false)
  const run = async (command: (cents: number) => Promise<CommandResult>, needsAmount: boolean) => {
    const cents = needsAmount ? parseAmount(amount) : 0
    if (cents === undefined || (needsAmount && cents <= 0)) {
      setOutcome({ error: new InputError("enter an amount in euros, e.g. 25 or 12.50") })
      return
    }
    setBusy(true)
    try {
      setOutcome({ ok: await command(cents) })
      setAmount("")
      props.onDone()
    } catch (error) {
      setOutcome({ error })
    } finally {
      setBusy(false)
    }
  }
  const id = props.account.accountId
  return (
    <section class="card" data-testid="commands">
      <h2>Commands</h2>
      <form class="row" onSubmit={(e) => e.preventDefault()}>
        <label class="grow">
          Amount (€)
          <input
            name="amount"
            inputMode="decimal"
            placeholder="25.00"
            value={amount}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
        </label>
        <button type="button" disabled={busy} onClick={() => run((cents) => api.deposit(id, cents), true)}>
          Deposit
        </button>
        <button type="button" disabled={busy} onClick={() => run((cents) => api.withdraw(id, cents), true)}>
          Withdraw
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => run(() => api.close(id), false)}>
          Close account
        </button>
      </form>
      {outcome !== undefined &&
        ("ok" in outcome ? (
          <div class="notice" data-testid="outcome">
            {outcome.ok.events.map((e) => e._tag).join(", ") || "Nothing to do"}: balance{" "}
            <Money cents={outcome.ok.balance} />, version {outcome.ok.version}
            {outcome.ok.duplicate ? " (already done: nothing new was written)" : ""}
          </div>
        ) : (
          <ErrorNote error={outcome.error} />
        ))}
    </section>
  )
}

/** The events shown as chips: at most {@link chips}, around the current version. */
const chips = 24
const around = (history: ReadonlyArray<HistoryEntry>, version: number): ReadonlyArray<HistoryEntry> => {
  const start = Math.max(0, Math.min(version - 1 - chips / 2, history.length - chips))
  return history.slice(start, start + chips)
}

const TimeTravel = (props: { readonly history: ReadonlyArray<HistoryEntry> }) => {
  const last = props.history.length
  const [version, setVersion] = useState(last)
  useEffect(() => setVersion(last), [last])
  const entry = props.history[Math.min(Math.max(version, 1), last) - 1]
  if (entry === undefined) return null
  const state = entry.stateAfter
  return (
    <section class="card" data-testid="time-travel">
      <h2>Time travel</h2>
      <div class="slider">
        <button type="button" class="secondary small" disabled={version <= 1} onClick={() => setVersion(version - 1)}>
          ◀
        </button>
        <input
          type="range"
          min={1}
          max={last}
          step={1}
          value={version}
          aria-label="version"
          data-testid="time-slider"
          onInput={(e) => setVersion(Number(e.currentTarget.value))}
        />
        <button
          type="button"
          class="secondary small"
          disabled={version >= last}
          onClick={() => setVersion(version + 1)}
        >
          ▶
        </button>
      </div>
      <p class="muted" data-testid="tt-version">
        Version {entry.version} of {last} · {time(entry.recordedAt)}
      </p>
      <ol class="timeline" aria-label="events">
        {around(props.history, entry.version).map((e) => (
          <li
            key={e.version}
            class={e.version === entry.version ? "current" : e.version > entry.version ? "future" : ""}
          >
            <button type="button" class="chip" onClick={() => setVersion(e.version)} title={time(e.recordedAt)}>
              v{e.version} {e.type.replace(/^(Account|Money)/, "")}
              {e.event._tag === "MoneyDeposited" ? ` +${money(e.event.amount)}` : ""}
              {e.event._tag === "MoneyWithdrawn" ? ` −${money(e.event.amount)}` : ""}
            </button>
          </li>
        ))}
      </ol>
      <div class="grid two">
        <div>
          <h3>State after this event</h3>
          <dl class="facts">
            <dt>Balance</dt>
            <dd data-testid="tt-balance">{money(entry.balanceAfter)} €</dd>
            <dt>Status</dt>
            <dd>{state._tag}</dd>
            {state._tag !== "Unopened" && (
              <>
                <dt>Owner</dt>
                <dd>{state.owner}</dd>
                <dt>Overdraft limit</dt>
                <dd>{money(state.overdraftLimit)} €</dd>
              </>
            )}
          </dl>
          <h3>What changed</h3>
          <Changes changes={entry.changes} testid="tt-changes" show={showAccountField} />
        </div>
        <div>
          <h3>
            The event <Badge tone="info">{entry.type}</Badge>
          </h3>
          <dl class="facts small">
            <dt>Position</dt>
            <dd class="mono">{entry.position}</dd>
            <dt>Event id</dt>
            <dd class="mono">{entry.eventId}</dd>
            <dt>Schema version stored</dt>
            <dd>{entry.schemaVersion}</dd>
            <dt>Correlation id</dt>
            <dd class="mono">{entry.correlationId}</dd>
            <dt>Causation id</dt>
            <dd class="mono">{entry.causationId ?? "—"}</dd>
          </dl>
          <Json value={entry.event} />
        </div>
      </div>
    </section>
  )
}

const Diff = (props: { readonly accountId: string; readonly version: number }) => {
  const [from, setFrom] = useState("1")
  const [to, setTo] = useState(String(props.version))
  const [diff, setDiff] = useState<DiffView | undefined>()
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => setTo(String(props.version)), [props.version])
  const compare = async (event: Event) => {
    event.preventDefault()
    try {
      setDiff(await api.diff(props.accountId, Number(from), Number(to)))
      setError(undefined)
    } catch (failed) {
      setError(failed)
    }
  }
  return (
    <section class="card" data-testid="diff">
      <h2>Diff two versions</h2>
      <form class="row" onSubmit={compare}>
        <label>
          From version
          <input
            name="from"
            type="number"
            min={0}
            max={props.version}
            value={from}
            onInput={(e) => setFrom(e.currentTarget.value)}
          />
        </label>
        <label>
          To version
          <input
            name="to"
            type="number"
            min={0}
            max={props.version}
            value={to}
            onInput={(e) => setTo(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Compare</button>
      </form>
      {error !== undefined && <ErrorNote error={error} />}
      {diff !== undefined && (
        <>
          <p class="muted">
            From version {diff.from} ({diff.before._tag}) to version {diff.to} ({diff.after._tag}):
          </p>
          <Changes changes={diff.changes} testid="diff-changes" show={showAccountField} />
        </>
      )}
    </section>
  )
}

export const Account = (props: { readonly accountId: string }) => {
  const [account, setAccount] = useState<AccountView | undefined>()
  const [history, setHistory] = useState<ReadonlyArray<HistoryEntry>>([])
  const [error, setError] = useState<unknown>(undefined)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    Promise.all([api.account(props.accountId), fullHistory(props.accountId)]).then(
      ([loaded, entries]) => {
        if (!live) return
        setAccount(loaded)
        setHistory(entries)
        setError(undefined)
      },
      (failed: unknown) => {
        if (live) setError(failed)
      }
    )
    return () => {
      live = false
    }
  }, [props.accountId, tick])
  if (error !== undefined) return <ErrorNote error={error} />
  if (account === undefined) return <p class="muted">Loading…</p>
  return (
    <div class="stack">
      <section class="card summary" data-testid="account">
        <div>
          <p class="muted small">
            <a href="#/accounts">Accounts</a> / {account.accountId}
          </p>
          <h2>
            {account.owner} <Badge tone={account.status === "open" ? "ok" : "muted"}>{account.status}</Badge>
          </h2>
          <p class="muted small">
            Stream{" "}
            <a href={`#/stream/${encodeURIComponent(`Account-${account.accountId}`)}`}>Account-{account.accountId}</a> ·
            version {account.version} · overdraft limit {money(account.overdraftLimit)} €
          </p>
        </div>
        <div class="balance" data-testid="balance">
          <Money cents={account.balance} />
        </div>
      </section>
      <Commands account={account} onDone={() => setTick((n) => n + 1)} />
      <TimeTravel history={history} />
      <Diff accountId={account.accountId} version={account.version} />
    </div>
  )
}
