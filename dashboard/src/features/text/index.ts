export { TextPage as default } from './components/TextPage'
