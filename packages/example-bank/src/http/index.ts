/**
 * `@chronicle/example-bank/http`: the bank as an HTTP application, built on
 * `@effect/platform`'s `HttpApi`, with its OpenAPI document and the event
 * explorer.
 *
 * - `BankApi`: the API definition (groups, endpoints), from which the OpenAPI
 *   document is generated;
 * - `ApiModels` and `ApiErrors`: request and response Schemas, and the
 *   errors with their statuses;
 * - `TransferModels`: the Schemas of the transfer routes;
 * - `AccountsHandlers`, `StreamsHandlers`, `TransfersHandlers`,
 *   `ProjectionsHandlers`, `HealthHandlers`: the implementation, one group
 *   each;
 * - `AccountRepository`: the server's one repository of accounts;
 * - `AccountList`, `TransferList` and `StreamCatalog`: the read models the
 *   lists come from;
 * - `BackgroundProjections`: the projections running inside the server, and
 *   rebuilds;
 * - `LiveFeed`: the live feed as server-sent events;
 * - `ApiMiddleware` and `ResponseHeaders`: correlation ids, malformed bodies,
 *   response headers;
 * - `StaticAssets`: the explorer's files;
 * - `BankServer`: all of it, listening.
 *
 * @since 0.5.0
 */

/** @since 0.5.0 */
export * as AccountList from "./AccountList.js"
/** @since 0.5.0 */
export * as AccountRepository from "./AccountRepository.js"
/** @since 0.5.0 */
export * as AccountsHandlers from "./AccountsHandlers.js"
/** @since 0.5.0 */
export * as ApiErrors from "./ApiErrors.js"
/** @since 0.5.0 */
export * as ApiMiddleware from "./ApiMiddleware.js"
/** @since 0.5.0 */
export * as ApiModels from "./ApiModels.js"
/** @since 0.5.0 */
export * as BackgroundProjections from "./BackgroundProjections.js"
/** @since 0.5.0 */
export * as BankApi from "./BankApi.js"
/** @since 0.5.0 */
export * as BankServer from "./BankServer.js"
/** @since 0.5.0 */
export * as HealthHandlers from "./HealthHandlers.js"
/** @since 0.5.0 */
export * as LiveFeed from "./LiveFeed.js"
/** @since 0.5.0 */
export * as ProjectionsHandlers from "./ProjectionsHandlers.js"
/** @since 0.7.0 */
export * as ReadinessGuard from "./ReadinessGuard.js"
/** @since 0.5.0 */
export * as ResponseHeaders from "./ResponseHeaders.js"
/** @since 0.5.0 */
export * as StaticAssets from "./StaticAssets.js"
/** @since 0.5.0 */
export * as StreamCatalog from "./StreamCatalog.js"
/** @since 0.5.0 */
export * as StreamsHandlers from "./StreamsHandlers.js"
/** @since 0.7.0 */
export * as TransferList from "./TransferList.js"
/** @since 0.5.0 */
export * as TransferModels from "./TransferModels.js"
/** @since 0.5.0 */
export * as TransfersHandlers from "./TransfersHandlers.js"
