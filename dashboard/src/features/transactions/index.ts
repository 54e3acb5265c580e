export { TransactionsTab as default } from './components/TransactionsTab'
