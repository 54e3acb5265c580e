export { SessionsTab as default } from './components/SessionsTab'
export type { SessionsTabProps } from './components/SessionsTab'
