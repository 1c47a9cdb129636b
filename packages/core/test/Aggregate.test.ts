import { Aggregate } from "@chronicle/core"
import { AggregateLaws, DeciderSpec } from "@chronicle/core/testing"
import { describe, expect, it } from "@effect/vitest"
import { Counter, Increment, Incremented, Open, Opened, Reset, ResetCounter } from "./fixtures/Counter.js"

const spec = DeciderSpec.make(Counter)

describe("Aggregate", () => {
  it.effect("opens a counter", () =>
    spec
      .given()
      .when(new Open({ limit: 10 }))
      .thenEmits(new Opened({ limit: 10 }))
  )

  it.effect("refuses to open twice", () =>
    spec
      .given(new Opened({ limit: 10 }))
      .when(new Open({ limit: 5 }))
      .thenFails("AlreadyOpen")
  )

  it.effect("increments within the limit", () =>
    spec
      .given(new Opened({ limit: 10 }), new Incremented({ by: 4 }))
      .when(new Increment({ by: 6 }))
      .thenEmits(new Incremented({ by: 6 }))
  )

  it.effect("refuses to pass the limit, with the details", () =>
    spec
      .given(new Opened({ limit: 10 }), new Incremented({ by: 4 }))
      .when(new Increment({ by: 7 }))
      .thenFails("OverLimit", (error) => {
        expect(error.limit).toBe(10)
        expect(error.wanted).toBe(11)
      })
  )

  it.effect("refuses anything before opening", () =>
    spec
      .given()
      .when(new Increment({ by: 1 }))
      .thenFails("NotOpen")
  )

  it.effect("a reset of a zero counter emits nothing", () =>
    spec
      .given(new Opened({ limit: 3 }))
      .when(new ResetCounter())
      .thenNothing()
  )

  it.effect("a reset brings the count back to zero", () =>
    spec
      .given(new Opened({ limit: 3 }), new Incremented({ by: 2 }))
      .when(new ResetCounter())
      .thenState((state, events) => {
        expect(events).toEqual([new Reset()])
        expect(state.count).toBe(0)
      })
  )

  it("names streams after the aggregate", () => {
    expect(Aggregate.streamId(Counter, "c-1")).toBe("Counter-c-1")
  })

  it("refuses a name with a dash, since the category is the text before the first dash", () => {
    expect(() => Aggregate.make({ ...Counter, name: "Bad-Name", state: undefined })).toThrow(
      /must be non-empty and contain no "-"/
    )
  })

  it("folds events in order", () => {
    const state = Aggregate.fold(Counter, [
      new Opened({ limit: 9 }),
      new Incremented({ by: 2 }),
      new Incremented({ by: 3 })
    ])
    expect(state).toEqual({ open: true, limit: 9, count: 5 })
  })
})

AggregateLaws.describe(Counter, {
  invariants: {
    "the count never passes the limit": (state) => state.count <= state.limit,
    "the count is never negative": (state) => state.count >= 0,
    "nothing happens before opening": (state, history) => state.open || history.length === 0
  },
  numRuns: 100
})
