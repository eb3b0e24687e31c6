/** The portal's two languages (browser code): Chinese when the browser prefers it, else English. */
import type { Language } from './page.js';

export function preferredLanguage(languages: readonly string[]): Language {
  for (const tag of languages) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'zh') return 'zh';
    if (primary === 'en') return 'en';
  }
  return 'en';
}

export function translator(lang: Language): (en: string, zh: string) => string {
  return (en, zh) => (lang === 'zh' ? zh : en);
}
