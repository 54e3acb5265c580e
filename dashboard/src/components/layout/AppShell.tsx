import { NavLink, Outlet, useLocation } from 'react-router'
import { ApiBanner, ApiStatus } from './ApiBanner'

const AREAS = [
  { to: '/nano', label: 'Nano' },
  { to: '/text', label: 'Text' },
  { to: '/train', label: 'Train' },
  { to: '/chat', label: 'Chat' },
  { to: '/sweeps', label: 'Sweeps' },
  { to: '/benchmarks', label: 'Benchmarks' },
  { to: '/review', label: 'Review' },
  { to: '/jobs', label: 'Jobs' },
]

export function AppShell() {
  const loc = useLocation()
  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-zinc-800 focus:px-2 focus:py-1">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-zinc-800/80 bg-zinc-950/90 backdrop-blur">
        <div className="flex h-11 items-center gap-4 px-4">
          <NavLink to="/nano/overview" className="flex items-center gap-2 font-semibold tracking-tight text-zinc-100">
            <svg aria-hidden="true" viewBox="0 0 32 32" className="h-5 w-5">
              <path d="M4 22 C10 22 12 10 16 10 S22 18 28 8" fill="none" stroke="#22d3ee" strokeWidth="3" strokeLinecap="round" />
              <path d="M4 24 C10 24 14 18 28 18" fill="none" stroke="#71717a" strokeWidth="2" strokeDasharray="3 3" />
            </svg>
            <span>ttt</span>
            <span className="hidden text-xs font-normal text-zinc-500 sm:inline">safe test-time training</span>
          </NavLink>
          <nav aria-label="Areas">
            <ul className="flex items-center gap-0.5">
              {AREAS.map((a) => (
                <li key={a.to}>
                  <NavLink
                    to={{ pathname: a.to === '/nano' ? '/nano/overview' : a.to, search: a.to === '/nano' ? loc.search : '' }}
                    className={() => {
                      const active = loc.pathname.startsWith(a.to)
                      return `rounded px-2.5 py-1 text-[13px] ${active ? 'bg-zinc-800 text-zinc-50' : 'text-zinc-400 hover:text-zinc-100'}`
                    }}
                    aria-current={loc.pathname.startsWith(a.to) ? 'page' : undefined}
                  >
                    {a.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <ApiStatus />
        </div>
        <ApiBanner />
      </header>
      <Outlet />
    </div>
  )
}
