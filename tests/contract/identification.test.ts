/**
 * The payer's identification rules (edge/_shared/identification.ts), from
 * Node as the storefront library imports them: for each type, numbers known
 * to be valid (published examples, check digits computed by their issuers'
 * rules) pass, and the same numbers with a wrong check digit, a wrong length
 * or a wrong prefix fail; each country takes only its own types.
 */
import { describe, expect, test } from 'vitest';
import { COUNTRIES, countryOf, SITE_IDS } from '../../edge/_shared/country.ts';
import { IDENTIFICATION_TYPES, identificationIssue, identificationNumberIssue, normalizeIdentification } from '../../edge/_shared/identification.ts';
import type { IdentificationType } from '../../edge/_shared/country.ts';
import { checkoutInputSchema } from '../../web/src/index.ts';

const EXAMPLES: Record<IdentificationType, { valid: string[]; invalid: string[] }> = {
  DNI: { valid: ['30.123.456', '1234567'], invalid: ['123456', '123456789', '30A23456'] },
  CUIT: { valid: ['20-12345678-6', '30-50001091-2', '27-28033514-8'], invalid: ['20-12345678-7', '30-50001091-3', '11-12345678-6', '2012345678'] },
  CPF: { valid: ['529.982.247-25', '111.444.777-35'], invalid: ['529.982.247-24', '529.982.247-15', '111.111.111-11', '5299822472'] },
  // The second is the Receita Federal's own example of an alphanumeric CNPJ (from July 2026).
  CNPJ: {
    valid: ['11.222.333/0001-81', '12.ABC.345/01DE-35'],
    invalid: ['11.222.333/0001-80', '11.222.333/0001-91', '12.ABC.345/01DE-36', '00.000.000/0000-00'],
  },
  RFC: {
    valid: ['GODE561231GR8', 'XAXX010101000', 'XEXX010101000'],
    invalid: ['GODE561231GR9', 'GODE561331GR8', 'GODE560231GR8', 'GOD561231GR8X', 'GODE56123GR8'],
  },
  RUT: { valid: ['11.111.111-1', '12.345.678-5', '7.654.321-6'], invalid: ['11.111.111-2', '12.345.678-K', '1-9'] },
  CC: { valid: ['1020304050', '79543210'], invalid: ['1234', '12345678901', '1020A04050'] },
  NIT: { valid: ['800.197.268-4', '890.903.938-8', '860.034.313-7'], invalid: ['800.197.268-5', '890.903.938-1', '12345'] },
  RUC: { valid: ['20100070970', '20131312955', '10467793549'], invalid: ['20100070971', '30100070970', '2010007097'] },
  CI: { valid: ['1.234.567-2', '4.567.890-5', '987.654-9'], invalid: ['1.234.567-3', '4.567.890-1', '987.654-0', '12345'] },
};

describe('identification numbers', () => {
  test('every type has examples', () => expect(Object.keys(EXAMPLES).sort()).toEqual([...IDENTIFICATION_TYPES].sort()));
  for (const type of IDENTIFICATION_TYPES) {
    test(`${type}: the valid examples pass`, () => {
      for (const n of EXAMPLES[type].valid) expect(identificationNumberIssue(type, normalizeIdentification(n)), n).toBeUndefined();
    });
    test(`${type}: a wrong check digit, length or prefix fails with a message`, () => {
      for (const n of EXAMPLES[type].invalid) expect(identificationNumberIssue(type, normalizeIdentification(n)), n).toMatch(/\w/);
    });
  }
  test('separators are ignored, letters upper-cased', () => {
    expect(normalizeIdentification(' 12.abc.345/01de-35 ')).toBe('12ABC34501DE35');
  });
});

describe('identification per country', () => {
  test('each country takes its own types and refuses the others, naming the type', () => {
    const ok: Record<string, [string, string]> = {
      MLA: ['CUIT', '20123456786'],
      MLB: ['CPF', '52998224725'],
      MLM: ['RFC', 'GODE561231GR8'],
      MLC: ['RUT', '111111111'],
      MCO: ['NIT', '8001972684'],
      MPE: ['RUC', '20100070970'],
      MLU: ['CI', '12345672'],
    };
    for (const site of SITE_IDS) {
      const [type, number] = ok[site]!;
      expect(identificationIssue(site, { type, number }), site).toBeUndefined();
      const foreign = site === 'MLB' ? 'DNI' : 'CPF';
      expect(identificationIssue(site, { type: foreign, number: '52998224725' })?.field, site).toBe('type');
    }
  });
  test('a wrong number names the number', () => {
    expect(identificationIssue('MLB', { type: 'CPF', number: '52998224724' })).toEqual({ field: 'number', message: expect.stringContaining('CPF') });
  });
  test("Peru's DNI has 8 digits, Argentina's 7 or 8", () => {
    expect(identificationIssue('MLA', { type: 'DNI', number: '1234567' })).toBeUndefined();
    expect(identificationIssue('MPE', { type: 'DNI', number: '1234567' })?.field).toBe('number');
    expect(identificationIssue('MPE', { type: 'DNI', number: '12345678' })).toBeUndefined();
  });
  test('the seven sites, their currencies and whole units', () => {
    expect(SITE_IDS.map((s) => [s, COUNTRIES[s].currency, COUNTRIES[s].wholeUnits])).toEqual([
      ['MLA', 'ARS', false],
      ['MLB', 'BRL', false],
      ['MLM', 'MXN', false],
      ['MLC', 'CLP', true],
      ['MCO', 'COP', true],
      ['MPE', 'PEN', false],
      ['MLU', 'UYU', false],
    ]);
    expect(countryOf('BR')?.site).toBe('MLB');
    expect(countryOf('cop')?.site).toBe('MCO');
    expect(countryOf('XX')).toBeUndefined();
  });
});

describe('the storefront library checks the same rules before sending', () => {
  const input = (identification: unknown) => ({
    payer: { email: 'ana@example.com', name: 'Ana', identification },
    shippingAddress: { streetName: 'Rua Augusta', streetNumber: '100', zipCode: '01305-000', city: 'São Paulo' },
  });
  test('a wrong CPF is refused naming the number; a valid one is sent without separators', () => {
    const bad = checkoutInputSchema.safeParse(input({ type: 'CPF', number: '529.982.247-24' }));
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['payer.identification.number']);
    const good = checkoutInputSchema.safeParse(input({ type: 'CPF', number: '529.982.247-25' }));
    expect(good.data?.payer.identification).toEqual({ type: 'CPF', number: '52998224725' });
  });
});
