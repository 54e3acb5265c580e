export { SweepsPage as default } from './components/SweepsPage'
