export type * from './types.js';
export { createEventBus, toServerEvent, type EventBusOptions } from './bus.js';
