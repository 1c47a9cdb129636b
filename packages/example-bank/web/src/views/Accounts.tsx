/** Accounts: the list from the balances read model, and the form to open one. */
import { useState } from "preact/hooks"
import { api, firstPages } from "../api.js"
import { Badge, ErrorNote, InputError, Money, useLoad } from "../components.js"
import { parseAmount } from "../format.js"
import { navigate } from "../route.js"

const OpenForm = () => {
  const [accountId, setAccountId] = useState("")
  const [owner, setOwner] = useState("")
  const [overdraft, setOverdraft] = useState("0")
  const [error, setError] = useState<unknown>(undefined)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const overdraftLimit = parseAmount(overdraft)
    if (overdraftLimit === undefined) {
      setError(new InputError("the overdraft limit is an amount in euros, e.g. 50 or 12.50"))
      return
    }
    setBusy(true)
    try {
      await api.open({ accountId: accountId.trim(), owner, overdraftLimit })
      navigate(`/accounts/${accountId.trim()}`)
    } catch (failed) {
      setError(failed)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card form" onSubmit={submit} data-testid="open-form">
      <h2>Open an account</h2>
      <label>
        Account id
        <input
          name="accountId"
          required
          placeholder="alice"
          value={accountId}
          onInput={(e) => setAccountId(e.currentTarget.value)}
        />
      </label>
      <label>
        Owner
        <input
          name="owner"
          required
          placeholder="Alice Martin"
          value={owner}
          onInput={(e) => setOwner(e.currentTarget.value)}
        />
      </label>
      <label>
        Overdraft limit (€)
        <input
          name="overdraft"
          inputMode="decimal"
          value={overdraft}
          onInput={(e) => setOverdraft(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        Open account
      </button>
      {error !== undefined && <ErrorNote error={error} />}
    </form>
  )
}

export const Accounts = () => {
  // How many pages are shown: "Load more" asks for one more, and the refresh reads them all again
  // (so the balances of later pages stay current, and an account opened meanwhile shifts no page).
  const [pages, setPages] = useState(1)
  const first = useLoad(() => firstPages((after) => api.accounts({ after, limit: 50 }), pages), [pages], 3000)
  const rows = first.data?.items ?? []
  const next = first.data?.next ?? null
  const more = () => setPages((n) => n + 1)
  return (
    <div class="grid two">
      <section class="card">
        <h2>
          Accounts <span class="muted small">from the balances read model</span>
        </h2>
        {first.error !== undefined && <ErrorNote error={first.error} />}
        {rows.length === 0 ? (
          <p class="muted">
            No account yet: open one, or run <code>pnpm bank seed 50</code>.
          </p>
        ) : (
          <table data-testid="accounts">
            <thead>
              <tr>
                <th>Account</th>
                <th>Owner</th>
                <th>Status</th>
                <th class="num">Balance</th>
                <th class="num">Version</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr
                  key={row.accountId}
                  class="clickable"
                  data-testid={`account-${row.accountId}`}
                  onClick={() => navigate(`/accounts/${row.accountId}`)}
                >
                  <td class="mono">
                    <a href={`#/accounts/${encodeURIComponent(row.accountId)}`}>{row.accountId}</a>
                  </td>
                  <td>{row.owner}</td>
                  <td>
                    <Badge tone={row.status === "open" ? "ok" : "muted"}>{row.status}</Badge>
                  </td>
                  <td class="num">
                    <Money cents={row.balance} />
                  </td>
                  <td class="num">{row.lastVersion}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {next !== null && (
          <button type="button" class="secondary" data-testid="accounts-more" onClick={more}>
            Load more
          </button>
        )}
      </section>
      <OpenForm />
    </div>
  )
}
