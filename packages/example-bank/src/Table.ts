/**
 * Plain-text tables for the bank CLI: a header, a rule, and aligned columns.
 *
 * Rendering is a pure function from rows to a string, so it is easy to test
 * and to reuse in any output (terminal, logs, a test snapshot).
 *
 * @since 0.1.0
 */
import * as Text from "./Text.js"

/**
 * One column: its header, how to render a row's cell, and its alignment
 * (numbers read best right-aligned).
 *
 * @example
 * ```ts
 * import { Table } from "@chronicle/example-bank"
 *
 * const amount: Table.Column<{ readonly cents: number }> = {
 *   header: "Amount",
 *   align: "right",
 *   cell: (row) => `${row.cents}`
 * }
 * ```
 * @since 0.1.0
 * @category models
 */
export interface Column<Row> {
  readonly header: string
  readonly cell: (row: Row) => string
  readonly align?: "left" | "right"
}

const pad = (text: string, width: number, align: "left" | "right"): string =>
  align === "right" ? text.padStart(width) : text.padEnd(width)

/**
 * Renders rows as a table: header, a rule of `─`, then one line per row.
 * Columns are separated by two spaces; trailing spaces are trimmed. Control
 * characters and direction overrides in a cell are escaped (`Text.printable`),
 * so that no cell can break a row, or change what the terminal shows.
 *
 * @example
 * ```ts
 * import { Table } from "@chronicle/example-bank"
 *
 * Table.render<{ readonly name: string; readonly n: number }>(
 *   [
 *     { header: "Name", cell: (r) => r.name },
 *     { header: "N", align: "right", cell: (r) => `${r.n}` }
 *   ],
 *   [{ name: "a", n: 10 }, { name: "bb", n: 2 }]
 * )
 * // Name   N
 * // ────  ──
 * // a     10
 * // bb     2
 * ```
 * @since 0.1.0
 * @category rendering
 */
export const render = <Row>(columns: ReadonlyArray<Column<Row>>, rows: ReadonlyArray<Row>): string => {
  const cells = rows.map((row) => columns.map((column) => Text.printable(column.cell(row))))
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((line) => (line[i] ?? "").length))
  )
  const line = (values: ReadonlyArray<string>): string =>
    columns
      .map((column, i) => pad(values[i] ?? "", widths[i] ?? 0, column.align ?? "left"))
      .join("  ")
      .trimEnd()
  return [
    line(columns.map((column) => column.header)),
    line(widths.map((width) => "─".repeat(width))),
    ...cells.map(line)
  ].join("\n")
}
