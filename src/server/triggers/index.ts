/** What starts builds besides the API: cron schedules, push webhooks, polling. See docs/triggers.md. */
export { nextRunAt, createScheduleRunner, type ScheduleRunner } from './schedules.js';
export { createPoller, type Poller } from './poll.js';
export { WEBHOOK_SECRET_NAME, deliveryIdOf, intentOf, verifyWebhook, webhookProviders, type WebhookIntent, type WebhookProvider } from './webhooks.js';
export { startTriggerTimers, type TriggerTimers } from './timers.js';
