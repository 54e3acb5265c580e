export { ArchitectureTab as default } from './components/ArchitectureTab'
