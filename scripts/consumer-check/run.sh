#!/usr/bin/env bash
# Proves that the library packages install and work outside the workspace, as
# a user's app gets them (run by .ci/run; `pnpm consumer-check` by hand):
#
# 1. a clean build, then `pnpm pack` of every publishable package;
# 2. publint and arethetypeswrong on every tarball, every entry point;
# 3. a scratch project in a temporary folder: npm installs the tarballs with
#    only effect, the @effect/* peers at the workspace's pinned versions and
#    @effect/sql-sqlite-node (no PostgreSQL driver, no durable saga engine),
#    plus typescript (better-sqlite3's native binary: the workspace's build,
#    offered as a prebuilt download would be, see below);
# 4. main.ts compiled with tsc (strict, NodeNext; then Bundler resolution),
#    run with plain node, and its output compared with the expected line.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/scripts/consumer-check"
work="$(mktemp -d "${TMPDIR:-/tmp}/chronicle-consumer-XXXXXX")"
# KEEP=1 keeps the scratch folder for a look after a failure.
if [ "${KEEP:-}" != "1" ]; then trap 'rm -rf "$work"' EXIT; else echo "scratch folder: $work"; fi
cd "$root"

# The version the workspace pins for a dependency (root package.json).
pinned() {
  node -e 'const v = require(process.argv[1]).devDependencies[process.argv[2]]; if (!v) process.exit(1); console.log(v)' \
    "$root/package.json" "$1"
}

echo "== build (clean)"
pnpm -s clean
pnpm -s build

echo "== pack"
mkdir -p "$work/tarballs"
for dir in packages/*/; do
  if [ "$(node -p "require('./${dir}package.json').private === true")" = "true" ]; then continue; fi
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
ls -1 "$work/tarballs"

echo "== contents, publint and arethetypeswrong"
for tarball in "$work"/tarballs/*.tgz; do
  # What a user needs only: no tests, benches or build state; a README and the LICENSE.
  if tar -tzf "$tarball" | grep -E -e '^package/(test|bench)/' -e '\.tsbuildinfo$' -e '^package/tsconfig'; then
    echo "$(basename "$tarball") ships files a user does not need (above)" >&2
    exit 1
  fi
  for file in README.md LICENSE CHANGELOG.md dist/index.js dist/index.d.ts; do
    tar -tzf "$tarball" "package/$file" >/dev/null
  done
  tar -xzOf "$tarball" package/LICENSE | cmp - LICENSE
  pnpm -s exec publint run "$tarball" --strict
  # Every public module is an entry point ("./*" in exports): name them all,
  # since attw does not expand wildcards. ESM only: no node10 / CommonJS.
  entrypoints=$(tar -tzf "$tarball" | sed -n -e 's|^package/dist/\(.*\)\.d\.ts$|./\1|p' | grep -v -e '^\./index$' -e '^\./internal/' | sort)
  # shellcheck disable=SC2086
  if pnpm -s exec attw "$tarball" --profile esm-only --quiet --include-entrypoints $entrypoints; then
    echo "attw: $(basename "$tarball"): no problems ($(echo "$entrypoints" | wc -l) subpath entry points, and \".\")"
  else
    # shellcheck disable=SC2086
    pnpm -s exec attw "$tarball" --profile esm-only --no-color --format table-flipped --include-entrypoints $entrypoints
    exit 1
  fi
done

echo "== install in a scratch project (npm, no PostgreSQL driver)"
app="$work/app"
mkdir -p "$app/src"
cp "$here/main.ts" "$app/src/main.ts"
cp "$here/tsconfig.nodenext.json" "$here/tsconfig.bundler.json" "$app/"
cat >"$app/package.json" <<'JSON'
{ "name": "chronicle-consumer-check", "private": true, "type": "module" }
JSON
# better-sqlite3 (under @effect/sql-sqlite-node) installs a prebuilt binary downloaded from
# GitHub, and compiles one where it cannot (a minute or more of CPU; CI's machines do not reach
# GitHub). The binary the workspace built is offered to its installer (prebuild-install) as a
# local prebuild, under the name a download would have: used when npm installs that same
# version for this Node ABI and platform; the installer loads it to check it, and compiles
# when it does not fit.
prebuilds="$work/prebuilds"
mkdir -p "$prebuilds"
sqlite_native="$(ls -d "$root"/node_modules/.pnpm/better-sqlite3@*/node_modules/better-sqlite3 2>/dev/null | head -1)"
if [ -n "$sqlite_native" ] && [ -f "$sqlite_native/build/Release/better_sqlite3.node" ]; then
  prebuild="$(node -p 'const p = require(process.argv[1] + "/package.json"); `${p.name}-v${p.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`' "$sqlite_native")"
  tar -czf "$prebuilds/$prebuild" -C "$sqlite_native" build/Release/better_sqlite3.node
  export npm_config_better_sqlite3_local_prebuilds="$prebuilds"
  echo "offered as a local prebuild: $prebuild (the workspace's build)"
fi
deps=()
for dep in effect @effect/sql @effect/platform @effect/experimental @effect/sql-sqlite-node typescript @types/node; do
  version="$(pinned "$dep")"
  deps+=("$dep@$version")
done
echo "${deps[*]}"
(
  cd "$app"
  npm install --no-audit --no-fund --loglevel=error --save-exact "$work"/tarballs/*.tgz "${deps[@]}"
  if [ -d node_modules/better-sqlite3/build/Release/obj.target ]; then
    echo "better-sqlite3: compiled from source"
  else
    echo "better-sqlite3: a prebuilt binary"
  fi
  if [ -e node_modules/@chronicle/sql-store/node_modules/@chronicle/core ]; then
    echo "two copies of @chronicle/core were installed" >&2
    exit 1
  fi
  for driver in pg @effect/sql-pg; do
    if [ -e "node_modules/$driver" ]; then
      echo "a PostgreSQL driver was installed: node_modules/$driver" >&2
      exit 1
    fi
  done
  # durable sagas are opt-in: their engine is an optional peer, never installed by default
  for engine in @effect/workflow @effect/cluster; do
    if [ -e "node_modules/$engine" ]; then
      echo "the durable saga engine was installed without being asked for: node_modules/$engine" >&2
      exit 1
    fi
  done

  echo "== tsc (strict, module NodeNext)"
  npx --no-install tsc -p tsconfig.nodenext.json
  echo "== tsc (strict, moduleResolution Bundler)"
  npx --no-install tsc -p tsconfig.bundler.json

  echo "== node dist/main.js"
  expected='{"category":"Wallet","version":3,"balance":750,"refused":"NotOpen","readModel":["Wallet-w-1=750","Wallet-w-2=0"]}'
  actual="$(node dist/main.js)"
  echo "$actual"
  if [ "$actual" != "$expected" ]; then
    echo "unexpected output; expected: $expected" >&2
    exit 1
  fi
)
echo "consumer check: ok"
