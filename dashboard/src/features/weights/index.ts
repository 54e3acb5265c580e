export { WeightsTab as default } from './components/WeightsTab'
