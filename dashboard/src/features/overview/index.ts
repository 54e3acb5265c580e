export { OverviewTab } from './components/OverviewTab'
