/**
 * Keeps a class constructor in V8's fast-property mode, so that the code
 * that constructs its instances can be optimised.
 *
 * Why: esbuild's `keepNames` (used by tsx and vitest, and by many bundler
 * setups) names every class with `Object.defineProperty(C, "name", …)`. That
 * redefinition turns the constructor object into a dictionary-mode object.
 * When such a class has no constructor of its own (the usual
 * `class E extends Schema.TaggedClass<E>()(…) {}`), V8 (Node 20, V8 11.3)
 * optimises its implicit `super(...args)` by walking the parent
 * constructors, recording that the class's map is stable, and a dictionary
 * map never is: every optimisation of the constructor, and of any function
 * that inlines it (Schema's decode step), is thrown away at the end
 * ("Bailed out due to dependency change", `--trace-opt`), hundreds of times
 * per second, and the construction keeps running unoptimised. Measured on
 * W4's event class: ≈ 5 µs more per decoded event, plus the compiler's
 * wasted work.
 *
 * V8 turns a dictionary-mode object back into a fast one when a named
 * property lookup misses through it, as a prototype, at a lookup site that
 * has already seen other objects; that is what {@link keepFast} does, on
 * objects of its own whose prototype is the class. It reads one property
 * that no object has, defines none on the class, and calls no user code
 * (unless a class defines a getter of that very name, or is a Proxy):
 * nothing observable changes, whatever the engine.
 *
 * @internal
 */

/** An object whose lookups of the probe property go up its prototype chain. */
interface Receiver {
  readonly __chronicleFastClassProbe?: unknown
}

/**
 * The lookup site. A named load: V8 handles a miss of a named load at
 * runtime in every state of the site (a keyed one, once megamorphic, no
 * longer does), and it is at runtime that the prototypes are made fast.
 */
const probe = (receiver: Receiver): unknown => receiver.__chronicleFastClassProbe

const done = new WeakSet<object>()

/**
 * Asks V8 to keep `klass` (and its parent constructors) in fast mode.
 * Once per constructor; a no-op for anything that is not a function.
 *
 * @internal
 */
export const keepFast = (klass: unknown): void => {
  if (typeof klass !== "function" || done.has(klass)) return
  done.add(klass)
  // Three receivers of three different shapes (own properties defined, not
  // assigned, so no setter of the class runs), each looked up several
  // times: the site gets its feedback (V8 allocates it lazily) and then
  // misses with a known state.
  const receivers: ReadonlyArray<Receiver> = [
    Object.create(klass),
    Object.create(klass, { a: { value: 0 } }),
    Object.create(klass, { b: { value: 0 } })
  ]
  for (let i = 0; i < 16; i++) for (const receiver of receivers) probe(receiver)
}
