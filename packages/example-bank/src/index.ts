/**
 * `@chronicle/example-bank`: a small bank built only from Chronicle's public
 * API.
 *
 * - `Account`: the aggregate (commands, events, domain errors, decide/evolve);
 * - `Money`: integer cents and their formatting;
 * - `Bank`: the use cases (open, deposit, withdraw, close, balance now or in the
 *   past, events, history, demo);
 * - `BankStore`: which event, snapshot and projection stores the bank uses
 *   (PostgreSQL, SQLite, memory);
 * - `Projections`: the read models (balances, statements, daily totals) and
 *   their queries;
 * - `Render` and `Table`: what the CLI prints;
 * - `Text`: control characters in untrusted text, refused in owner names and
 *   escaped in everything the CLI prints;
 * - `Transfer`: the aggregate of money transfers between accounts;
 * - `TransferSaga`: the saga that moves a transfer's money (withdraw,
 *   deposit, complete; refund on failure; approval of large ones), durable
 *   on the SQL workflow engine;
 * - `Output`: where the CLI prints (a terminal or not, colour or not);
 * - `BankCli`: the `pnpm bank` command line.
 *
 * The HTTP server (API, OpenAPI, event explorer) is the second entry point,
 * `@chronicle/example-bank/http`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Account from "./Account.js"
/** @since 0.1.0 */
export * as Bank from "./Bank.js"
/** @since 0.1.0 */
export * as BankCli from "./BankCli.js"
/** @since 0.1.0 */
export * as BankStore from "./BankStore.js"
/** @since 0.1.0 */
export * as Money from "./Money.js"
/** @since 0.5.0 */
export * as Output from "./Output.js"
/** @since 0.3.0 */
export * as Projections from "./Projections.js"
/** @since 0.1.0 */
export * as Render from "./Render.js"
/** @since 0.1.0 */
export * as Table from "./Table.js"
/** @since 0.4.0 */
export * as Text from "./Text.js"
/** @since 0.5.0 */
export * as Transfer from "./Transfer.js"
/** @since 0.5.0 */
export * as TransferSaga from "./TransferSaga.js"
