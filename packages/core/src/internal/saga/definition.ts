/**
 * The implementation of `Saga`'s constructors: `Saga.signal`, `Saga.make`,
 * `Saga.step`, `Saga.awaitEvent` and `Saga.sleep` (and `SagaStep.commandId`),
 * and the validation of names and instance ids they share.
 *
 * @internal
 */
import { Duration, Effect, Either, Option, Schema } from "effect"
import type { RecordedEvent } from "../../Event.js"
import * as EventCodec from "../../EventCodec.js"
import type * as Saga from "../../Saga.js"
import * as SagaError from "../../SagaError.js"
import * as SagaInstance from "../../SagaInstance.js"
import * as SagaStep from "../../SagaStep.js"
import * as Journal from "./journal.js"

/** @internal */
const namePattern = /^[A-Za-z0-9_.]{1,100}$/

/** @internal */
export const checkName = (what: string, name: string): void => {
  if (!namePattern.test(name)) {
    throw new Error(`Saga: the ${what} name "${name}" must be 1 to 100 letters, digits, "_" or "."`)
  }
}

/** @internal */
const safeId = (f: () => string): unknown => {
  try {
    return f()
  } catch (error) {
    return error instanceof Error ? error : String(error)
  }
}

/** The instance id a trigger event names, validated. @internal */
export const instanceIdOf = <T extends EventCodec.Tagged, A, E, R>(
  saga: Saga.Saga<T, A, E, R>,
  recorded: RecordedEvent<T>
): Either.Either<string, SagaError.InvalidInstanceId> => {
  const id = safeId(() => saga.instanceId(recorded.event, recorded))
  const invalid = id instanceof Error ? `the id function threw: ${id.message}` : Journal.invalidInstanceId(id)
  return invalid === undefined && typeof id === "string"
    ? Either.right(id)
    : Either.left(
        new SagaError.InvalidInstanceId({ saga: saga.name, eventId: recorded.eventId, reason: invalid ?? "no id" })
      )
}

/** @internal */
export const signal = <S extends EventCodec.Tagged, I>(
  name: string,
  options: {
    readonly event: Schema.Schema<S, I, never>
    readonly categories?: ReadonlyArray<string> | undefined
    readonly codec?: EventCodec.EventCodec<S> | undefined
    readonly id: (event: S, recorded: RecordedEvent<S>) => string
  }
): Saga.Signal<S> => {
  checkName("signal", name)
  const codec = options.codec ?? EventCodec.make(options.event)
  return {
    name,
    codec,
    categories: options.categories,
    types: codec.storedTypes,
    instanceId: options.id,
    route: (stored) =>
      Either.flatMap(codec.decode(stored), (recorded) => {
        const instanceId = safeId(() => options.id(recorded.event, recorded))
        const invalid = Journal.invalidInstanceId(instanceId)
        return invalid === undefined && typeof instanceId === "string"
          ? Either.right({ instanceId, recorded })
          : Either.left(invalid ?? "no instance id")
      })
  }
}

/** What `Saga.make` takes, in either of its overloads. @internal */
export type MakeArguments<T extends EventCodec.Tagged, TI, A, AI, E, R> = Saga.Definition<T, TI, E, R> & {
  readonly success?: Schema.Schema<A, AI, never> | undefined
  readonly run: (event: T, context: SagaInstance.RunContext<T>) => Effect.Effect<A, E, R | SagaInstance.Instance>
}

/** @internal */
export function make<T extends EventCodec.Tagged, TI, A, AI, E, R>(
  definition: MakeArguments<T, TI, A, AI, E, R>
): Saga.Saga<T, A, E, R> {
  checkName("saga", definition.name)
  const success = definition.success
  const signals = definition.signals ?? []
  const names = new Set<string>()
  for (const s of signals) {
    if (names.has(s.name)) throw new Error(`Saga.make: ${definition.name} lists the signal "${s.name}" twice`)
    names.add(s.name)
  }
  const encode = success === undefined ? undefined : Schema.encodeEither(success)
  return {
    name: definition.name,
    trigger: definition.codec ?? EventCodec.make(definition.trigger),
    categories: definition.categories,
    instanceId: definition.id,
    signals,
    run: definition.run,
    encodeResult: encode === undefined ? () => Either.right(undefined) : encode,
    onFailure: Option.fromNullable(definition.onFailure)
  }
}

/** What `Saga.step` takes, in either of its overloads (with or without a `success` Schema). @internal */
export type StepArguments<A, I, E, R, EA, EI, RC> = SagaStep.StepOptions<E, R, EA, EI> &
  (
    | {
        readonly run: (context: SagaStep.StepContext) => Effect.Effect<A, E, R>
        readonly success: Schema.Schema<A, I, never>
        readonly compensate?:
          | ((result: A, context: SagaStep.CompensationContext) => Effect.Effect<unknown, unknown, RC>)
          | undefined
      }
    | {
        readonly run: (context: SagaStep.StepContext) => Effect.Effect<unknown, E, R>
        readonly success?: undefined
        readonly compensate?:
          | ((result: undefined, context: SagaStep.CompensationContext) => Effect.Effect<unknown, unknown, RC>)
          | undefined
      }
  )

/** @internal */
export function step<A, I, E, R, EA, EI, RC>(
  name: string,
  options: StepArguments<A, I, E, R, EA, EI, RC>
): Effect.Effect<A | undefined, EA | SagaError.StepFailed, R | RC | SagaInstance.Instance> {
  return Effect.suspend(() => {
    checkName("step", name)
    const retry = options.retry ?? SagaStep.defaultRetry
    const common = {
      error: options.error,
      retry,
      retryWhile: options.retryWhile ?? SagaStep.isTransient,
      compensationRetry: options.compensationRetry ?? retry
    }
    return Effect.flatMap(
      SagaInstance.Instance,
      (instance): Effect.Effect<A | undefined, EA | SagaError.StepFailed, R | RC> => {
        if (options.success !== undefined) {
          return instance.step(name, {
            ...common,
            run: options.run,
            success: options.success,
            compensate: options.compensate
          })
        }
        // without a Schema, the result is undefined (and so is what the compensation gets)
        const run = options.run
        return instance.step(name, {
          ...common,
          run: (context: SagaStep.StepContext) => Effect.as(run(context), undefined),
          success: Schema.Undefined,
          compensate: options.compensate
        })
      }
    )
  })
}

/** @internal */
export const awaitEvent = <S extends EventCodec.Tagged>(
  signal: Saga.Signal<S>,
  options?: { readonly timeout?: Duration.DurationInput | undefined }
): Effect.Effect<S, SagaError.EventTimeout, SagaInstance.Instance> =>
  Effect.flatMap(SagaInstance.Instance, (instance) =>
    instance.awaitEvent(signal, Option.map(Option.fromNullable(options?.timeout), Duration.decode))
  )

/** @internal */
export const sleep = (
  name: string,
  duration: Duration.DurationInput
): Effect.Effect<void, never, SagaInstance.Instance> =>
  Effect.suspend(() => {
    checkName("sleep", name)
    return Effect.flatMap(SagaInstance.Instance, (instance) => instance.sleep(name, Duration.decode(duration)))
  })
