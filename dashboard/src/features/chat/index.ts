export { ChatPage as default } from './components/ChatPage'
