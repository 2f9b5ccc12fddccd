export { LogDocument } from './document.js';
export { LogViewer } from './viewer.js';
export { parseLine, plainText } from './ansi.js';
