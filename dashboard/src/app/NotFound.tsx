import { Link } from 'react-router'

export default function NotFound() {
  return (
    <main id="main" className="mx-auto max-w-2xl px-6 py-16">
      <h1 className="text-lg font-semibold text-zinc-100">Page not found</h1>
      <p className="mt-3 text-sm text-zinc-300">
        Nothing lives at this address. <Link className="text-cyan-300 underline" to="/nano/overview">Go to the Nano overview</Link>.
      </p>
    </main>
  )
}
