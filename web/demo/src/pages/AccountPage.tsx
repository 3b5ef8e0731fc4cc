import { type FormEvent, useState } from 'react';
import { ValidationError } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { type AlertMessage, mergeNotice } from '../messages.ts';
import { navigate } from '../router.ts';
import { t } from '../i18n.ts';

/**
 * "Crear cuenta" turns this anonymous shopper into an account (same cart,
 * same orders); "Ingresar" signs in to an existing one and brings this
 * device's cart along (the notice lists what could not come whole).
 */
export function AccountPage({ api, mode }: { api: StoreApi; mode: 'signup' | 'signin' }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<{ email?: string; password?: string }>({});
  const [submitting, setSubmitting] = useState(false);
  const signup = mode === 'signup';

  if (api.shopper && !api.shopper.isAnonymous) {
    return (
      <section data-testid='account-signed-in'>
        <h1 className='page-title'>{t('yourAccount')}</h1>
        <p>
          {t('signedInAs')} <strong>{api.shopper.email}</strong>.
        </p>
      </section>
    );
  }

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitting(true);
    setErrors({});
    api.showAlert(null);
    try {
      let notice: AlertMessage;
      if (signup) {
        await api.sf.account.signUp({ email, password });
        notice = { kind: 'success', title: t('accountCreated'), testid: 'signup-done' };
      } else {
        const { merge } = await api.sf.account.signIn({ email, password });
        notice = merge ? mergeNotice(merge) : { kind: 'success', title: t('signedIn'), testid: 'merge-notice' };
      }
      // The notice shows with the account's cart, on the cart page.
      await api.refresh();
      navigate('/cart');
      api.showAlert(notice);
    } catch (err) {
      if (err instanceof ValidationError) {
        const next: { email?: string; password?: string } = {};
        for (const i of err.issues) if ((i.path === 'email' || i.path === 'password') && !next[i.path]) next[i.path] = i.message;
        setErrors(next);
      }
      api.fail(err);
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <section className='account'>
      <h1 className='page-title'>{signup ? t('signUp') : t('signIn')}</h1>
      <p className='muted'>
        {signup ? t('signUpHint') : t('signInHint')}
      </p>
      <form className='checkout' onSubmit={(e) => void submit(e)} noValidate data-testid={`${mode}-form`}>
        <label className={`field ${errors.email ? 'invalid' : ''}`}>
          <span>{t('email')}</span>
          <input
            type='email'
            name='email'
            autoComplete='email'
            inputMode='email'
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            data-testid='account-email-input'
          />
          {errors.email && <span className='field-error'>{errors.email}</span>}
        </label>
        <label className={`field ${errors.password ? 'invalid' : ''}`}>
          <span>{t('password')}</span>
          <input
            type='password'
            name='password'
            autoComplete={signup ? 'new-password' : 'current-password'}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid='account-password-input'
          />
          {errors.password && <span className='field-error'>{errors.password}</span>}
        </label>
        <button type='submit' className='button primary wide' disabled={submitting} data-testid={`${mode}-submit`}>
          {submitting ? t('oneMoment') : signup ? t('signUp') : t('signIn')}
        </button>
      </form>
    </section>
  );
}
