/**
 * The widget's look, scoped under `.wcw` so it neither leaks into a host page nor picks up the host's styles
 * (inside the Shadow DOM it is isolated anyway). System fonts only: no request to a font service.
 */
import { buttonTextColour, type WidgetConfig } from './config';

export function widgetStyles(config: WidgetConfig): string {
	const { primary, text, background } = config.colours;
	return `
.wcw{--wcw-primary:${primary};--wcw-on-primary:${buttonTextColour(primary)};--wcw-text:${text};--wcw-bg:${background};
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:16px;line-height:1.5;
color:var(--wcw-text);background:var(--wcw-bg);box-sizing:border-box;max-width:34rem;margin:0 auto;padding:1.75rem;
border:1px solid rgba(0,0,0,.12);border-radius:16px;box-shadow:0 1px 2px rgba(0,0,0,.04),0 8px 24px rgba(0,0,0,.06);text-align:left}
.wcw *,.wcw *::before,.wcw *::after{box-sizing:inherit}
.wcw-brand{display:flex;align-items:center;gap:.85rem;margin:0 0 1.25rem}
.wcw-brand svg{flex:none;width:2.5rem;height:2.5rem}
.wcw-title{font-size:1.375rem;line-height:1.25;margin:0;font-weight:700}
.wcw .wcw-business{margin:0 0 .1rem;font-size:.875rem;font-weight:600;letter-spacing:.01em}
.wcw p{margin:0 0 1rem}
.wcw-field{margin:0 0 1.25rem}
.wcw-label{display:block;font-weight:600;margin:0 0 .25rem}
.wcw-hint{display:block;font-size:.875rem;margin:0 0 .5rem}
.wcw input[type=tel]{display:block;width:100%;font:inherit;color:var(--wcw-text);background:var(--wcw-bg);
padding:.7rem .85rem;border:1px solid #6B7280;border-radius:10px}
.wcw fieldset{border:0;padding:0;margin:0 0 1rem;min-width:0}
.wcw legend{font-weight:600;padding:0;margin:0 0 .5rem}
.wcw-choice{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem .85rem;margin:0 0 .5rem;
border:1px solid rgba(0,0,0,.14);border-radius:10px;cursor:pointer}
.wcw-choice:has(input:checked){border-color:var(--wcw-primary);box-shadow:inset 0 0 0 1px var(--wcw-primary)}
.wcw-choice input{flex:none;width:1.25rem;height:1.25rem;margin:.15rem 0 0;accent-color:var(--wcw-primary)}
.wcw-choice-label{display:block;font-weight:600}
.wcw-choice-description{display:block;font-size:.875rem}
.wcw-consent{font-size:.875rem;margin:0 0 1.25rem;padding:.85rem 1rem;border-left:4px solid var(--wcw-primary);
background:rgba(0,0,0,.035);border-radius:0 10px 10px 0}
.wcw-consent p{margin:0}
.wcw-consent-heading{display:block;font-weight:700;margin:0 0 .25rem}
.wcw-age{border:0;padding:0}
.wcw-button{display:inline-flex;align-items:center;justify-content:center;gap:.5rem;width:100%;font:inherit;font-weight:700;
color:var(--wcw-on-primary);background:var(--wcw-primary);border:0;border-radius:999px;padding:.85rem 1.25rem;
cursor:pointer;text-decoration:none;min-height:48px}
.wcw-button:hover{filter:brightness(1.08)}
.wcw-button[aria-disabled=true]{cursor:progress;filter:saturate(.6)}
.wcw a{color:var(--wcw-primary);text-underline-offset:2px}
.wcw a.wcw-button{color:var(--wcw-on-primary)}
.wcw :focus-visible{outline:3px solid var(--wcw-primary);outline-offset:2px}
.wcw input[type=tel]:focus-visible{outline-offset:0}
.wcw .wcw-fine{font-size:.875rem;margin:1rem 0 0}
.wcw-fine a{font-weight:600}
.wcw-error{display:block;color:#B42318;font-size:.875rem;font-weight:600;margin:.35rem 0 0}
.wcw-error:empty{display:none}
.wcw-invalid input[type=tel]{border-color:#B42318;border-width:2px}
.wcw-alert:not(:empty){color:#B42318;background:#FEF3F2;border:1px solid #FDA29B;border-radius:10px;padding:.75rem 1rem;margin:0 0 1rem;font-weight:600}
.wcw-hp{position:absolute!important;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
.wcw-result{text-align:center}
.wcw-result .wcw-brand{justify-content:center}
.wcw-result .wcw-fine{margin:.5rem 0 1rem}
.wcw-result>h1,.wcw-result>h2{font-size:1.375rem;line-height:1.25;margin:0 0 .5rem}
.wcw-result [tabindex="-1"]:focus{outline:none}
.wcw-qr{margin:1.25rem auto .5rem;width:12rem;padding:.5rem;background:#fff;border:1px solid rgba(0,0,0,.12);border-radius:12px}
.wcw-qr svg{display:block;width:100%;height:auto}
.wcw-code{display:inline-block;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.25rem;
letter-spacing:.15em;font-weight:700;padding:.15rem .6rem;border-radius:8px;background:rgba(0,0,0,.05)}
.wcw-steps{text-align:left;margin:1.5rem 0 0;padding:1rem 1.25rem;border-radius:12px;background:rgba(0,0,0,.035)}
.wcw-steps h2,.wcw-steps h3{font-size:1rem;margin:0 0 .5rem}
.wcw-steps ol{margin:0;padding-left:1.25rem}
.wcw-steps li{margin:0 0 .35rem}
@media (max-width:30rem){.wcw{padding:1.25rem;border-radius:12px}}
@media (prefers-reduced-motion:no-preference){.wcw-button{transition:filter .15s}}
`;
}
