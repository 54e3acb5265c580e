export { JobsPage as default } from './components/JobsPage'
