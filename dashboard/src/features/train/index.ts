export { TrainPage as default } from './components/TrainPage'
