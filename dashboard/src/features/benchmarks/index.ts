export { BenchmarksPage as default } from './components/BenchmarksPage'
