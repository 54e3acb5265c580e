export { EnvironmentTab as default } from './components/EnvironmentTab'
