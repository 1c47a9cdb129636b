/** The explorer's routes live in the URL's hash (`#/accounts/alice`), so the server serves one page. */
import { useEffect, useState } from "preact/hooks"

/** The current route's segments: `#/accounts/alice` → ["accounts", "alice"]. */
const segments = (): ReadonlyArray<string> =>
  window.location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((s) => s.length > 0)
    .map(decodeURIComponent)

/** Goes to a route (`/accounts/alice`). */
export const navigate = (path: string): void => {
  window.location.hash = `#${path
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/")}`
}

/** The current route, updated on navigation. */
export const useRoute = (): ReadonlyArray<string> => {
  const [route, setRoute] = useState(segments)
  useEffect(() => {
    const update = () => setRoute(segments())
    window.addEventListener("hashchange", update)
    return () => window.removeEventListener("hashchange", update)
  }, [])
  return route
}
