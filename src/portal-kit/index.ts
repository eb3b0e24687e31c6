/**
 * The portal kit: what every portal page's browser code shares (types, building elements as
 * text-only DOM, the API client with the CSRF token, the two languages). Browser code only; it
 * imports nothing else of wharf's.
 */
export type { PortalPage, PageContext, PageUser, Language } from './page.js';
export { h, append, replaceChildren, formatBytes, adoptStyles, type Attributes } from './dom.js';
export { PortalApi, PortalApiError, CSRF_HEADER, readJson, type UploadOptions } from './api.js';
export { preferredLanguage, translator } from './i18n.js';
