/**
 * The protocol: every message between the extension host, the worker process and the webviews (messages.ts), the
 * webviews' view models (view-models.ts) and the request/reply helper (request-tracker.ts). Pure schemas, types and
 * functions: imported by the extension, the worker and the webview bundles alike. It imports the engine's request
 * and result types; the engine never imports the protocol.
 */
export * from './messages';
export * from './view-models';
export { RequestTracker } from './request-tracker';
