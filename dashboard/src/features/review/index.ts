export { ReviewPage as default } from './components/ReviewPage'
