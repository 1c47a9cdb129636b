/**
 * Checking what a caller hands a repository: commands against the command
 * Schema, aggregate ids as stream ids.
 *
 * @internal
 */
import { Effect, Either } from "effect"
import type * as EventCodec from "../../EventCodec.js"
import { InvalidCommandError } from "../../Repository.js"
import * as StreamId from "../../StreamId.js"
import type { Model } from "./context.js"

/**
 * A command is checked by encoding it: that checks every field, so a class
 * instance built with validation turned off cannot slip through. A plain
 * object of the command's encoded shape (say, parsed JSON typed as the
 * command) fails that, and is decoded into the command instead.
 *
 * @internal
 */
export const checkCommand = <S, E extends EventCodec.Tagged, C, Err>(
  model: Model<S, E, C, Err>,
  id: string,
  command: C
): Either.Either<C, InvalidCommandError> =>
  Either.orElse(
    Either.map(model.encodeCommand(command), () => command),
    () =>
      Either.mapLeft(
        model.decodeCommand(command),
        (error) => new InvalidCommandError({ aggregate: model.name, id, reason: error.message })
      )
  )

/** Validates an untyped command. @internal */
export const decodeCommand = <S, E extends EventCodec.Tagged, C, Err>(
  model: Model<S, E, C, Err>,
  input: unknown
): Either.Either<C, InvalidCommandError> =>
  Either.mapLeft(
    model.decodeCommand(input),
    (error) => new InvalidCommandError({ aggregate: model.name, id: "", reason: error.message })
  )

/** The stream of one instance, or why the id cannot name one. @internal */
export const streamIdOf = (aggregate: string, id: string): Effect.Effect<StreamId.StreamId, InvalidCommandError> =>
  id.length === 0
    ? Effect.fail(new InvalidCommandError({ aggregate, id, reason: "the id is empty" }))
    : Either.match(StreamId.parse(`${aggregate}-${id}`), {
        onLeft: (reason) => Effect.fail(new InvalidCommandError({ aggregate, id, reason })),
        onRight: Effect.succeed
      })
