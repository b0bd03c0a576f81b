// Number, time and risk formatting shared by the screens.
import { language } from './i18n.js';

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return Number(value).toLocaleString(language() === 'zh' ? 'zh-CN' : 'en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

export function pct(value, digits = 1) {
  return value === null || value === undefined ? '—' : `${num(value * 100, digits)}%`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(language() === 'zh' ? 'zh-CN' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
}

export function riskClass(risk) {
  if (risk === null || risk === undefined) return 'risk';
  return risk >= 80 ? 'risk high' : risk >= 50 ? 'risk mid' : 'risk low';
}
