import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { lazy, Suspense } from 'react'
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router'
import { ApiError } from '@/api/client'
import { AppShell } from '@/components/layout/AppShell'
import { Loading } from '@/components/ui/States'
import { NanoLayout } from './nano/NanoLayout'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      // 4xx answers are final; only retry when nothing answered or the server failed
      retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 1,
      retryDelay: 800,
    },
  },
})

const NotFound = lazy(() => import('./NotFound'))
const TrainPage = lazy(() => import('@/features/train'))
const TextPage = lazy(() => import('@/features/text'))
const ChatPage = lazy(() => import('@/features/chat'))
const SweepsPage = lazy(() => import('@/features/sweeps'))
const JobsPage = lazy(() => import('@/features/jobs'))
const ReviewPage = lazy(() => import('@/features/review'))
const BenchmarksPage = lazy(() => import('@/features/benchmarks'))

const PAGES = [
  { path: 'sweeps', what: 'Sweeps', Page: SweepsPage },
  { path: 'jobs', what: 'Jobs', Page: JobsPage },
  { path: 'review', what: 'Review', Page: ReviewPage },
  { path: 'benchmarks', what: 'Benchmarks', Page: BenchmarksPage },
]

function RedirectKeepSearch({ to }: { to: string }) {
  const loc = useLocation()
  return <Navigate to={{ pathname: to, search: loc.search }} replace />
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <Routes>
          <Route element={<AppShell />}>
            <Route index element={<RedirectKeepSearch to="/nano/overview" />} />
            <Route path="nano" element={<RedirectKeepSearch to="/nano/overview" />} />
            <Route path="nano/:tab" element={<NanoLayout />} />
            <Route
              path="text"
              element={
                <Suspense fallback={<Loading what="Text" />}>
                  <TextPage />
                </Suspense>
              }
            />
            <Route
              path="train"
              element={
                <Suspense fallback={<Loading what="Train" />}>
                  <TrainPage />
                </Suspense>
              }
            />
            <Route
              path="chat"
              element={
                <Suspense fallback={<Loading what="Chat" />}>
                  <ChatPage />
                </Suspense>
              }
            />
            {PAGES.map(({ path, what, Page }) => (
              <Route
                key={path}
                path={path}
                element={
                  <Suspense fallback={<Loading what={what} />}>
                    <Page />
                  </Suspense>
                }
              />
            ))}
            <Route
              path="*"
              element={
                <Suspense fallback={<Loading what="page" />}>
                  <NotFound />
                </Suspense>
              }
            />
          </Route>
        </Routes>
      </BrowserRouter>
    </QueryClientProvider>
  )
}
