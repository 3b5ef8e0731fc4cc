/**
 * CAPTCHA for the anonymous sign-in, when the project has it on
 * (`[auth.captcha]`; /env.js then carries the provider and the site key):
 * loads the provider's widget (Turnstile or hCaptcha, explicit rendering),
 * shows it, and hands its token to the storefront library, which passes it
 * to `signInAnonymously({ options: { captchaToken } })`. A token is good for
 * one sign-in, so every sign-in renders a fresh widget.
 */
export interface CaptchaSettings {
  provider: 'turnstile' | 'hcaptcha';
  siteKey: string;
}

interface WidgetApi {
  render(el: HTMLElement, opts: { sitekey: string; callback: (token: string) => void; 'error-callback'?: () => void }): unknown;
}

declare global {
  interface Window {
    turnstile?: WidgetApi;
    hcaptcha?: WidgetApi;
  }
}

export const CAPTCHA_SCRIPTS: Record<CaptchaSettings['provider'], string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit',
  hcaptcha: 'https://js.hcaptcha.com/1/api.js?render=explicit',
};

let loading: Promise<WidgetApi> | undefined;

function loadWidgetApi(provider: CaptchaSettings['provider']): Promise<WidgetApi> {
  loading ??= new Promise<WidgetApi>((resolve, reject) => {
    const ready = () => window[provider];
    const existing = ready();
    if (existing) return resolve(existing);
    const script = document.createElement('script');
    script.src = CAPTCHA_SCRIPTS[provider];
    script.async = true;
    script.onload = () => {
      const api = ready();
      if (api) resolve(api);
      else reject(new Error(`the ${provider} script did not define window.${provider}`));
    };
    script.onerror = () => reject(new Error(`could not load ${CAPTCHA_SCRIPTS[provider]}`));
    document.head.appendChild(script);
  }).catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** `captchaToken` for createStorefront: renders the widget and resolves with its token. */
export function captchaTokenGetter(settings: CaptchaSettings): () => Promise<string> {
  return async () => {
    const api = await loadWidgetApi(settings.provider);
    let host = document.getElementById('captcha');
    if (!host) {
      host = document.createElement('div');
      host.id = 'captcha';
      host.className = 'captcha';
      host.dataset['testid'] = 'captcha';
      document.body.appendChild(host);
    }
    const slot = document.createElement('div');
    host.appendChild(slot);
    return new Promise<string>((resolve, reject) => {
      api.render(slot, {
        sitekey: settings.siteKey,
        callback: (token) => {
          resolve(token);
          slot.remove();
        },
        'error-callback': () => {
          slot.remove();
          reject(new Error('the CAPTCHA could not be completed'));
        },
      });
    });
  };
}
