import { useState } from 'react';
import type { CatalogProduct, CatalogVariant } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { attributeText, money, stockText } from '../format.ts';
import { t } from '../i18n.ts';

export function CatalogPage({ api }: { api: StoreApi }) {
  if (!api.catalog) return <p className='muted' data-testid='catalog-loading'>{t('loadingProducts')}</p>;
  if (api.catalog.length === 0) return <p data-testid='catalog-empty'>{t('noProducts')}</p>;
  return (
    <section>
      <h1 className='page-title'>{t('catalog')}</h1>
      <div className='grid' data-testid='catalog'>
        {api.catalog.map((p) => <ProductCard key={p.id} product={p} api={api} />)}
      </div>
    </section>
  );
}

function initials(title: string): string {
  return title
    .split(/\s+/)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
}

function hue(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function ProductCard({ product, api }: { product: CatalogProduct; api: StoreApi }) {
  const firstAvailable = product.variants.find((v) => v.available > 0) ?? product.variants[0];
  const [selectedId, setSelectedId] = useState(firstAvailable?.id);
  const [qty, setQty] = useState(1);
  const selected: CatalogVariant | undefined = product.variants.find((v) => v.id === selectedId) ?? firstAvailable;
  const inCart = api.cart?.lines.find((l) => l.variant_id === selected?.id)?.quantity ?? 0;

  const add = async () => {
    if (!selected) return;
    const ok = await api.cartOp((sf) => sf.cart.add(selected.id, qty), t('added', { product: product.title, variant: selected.title }));
    if (ok) setQty(1);
  };

  return (
    <article className='card' data-testid={`product-${product.slug}`}>
      {product.image_url
        ? <img className='thumb' src={product.image_url} alt={product.title} loading='lazy' />
        : (
          <div className='thumb placeholder' style={{ background: `hsl(${hue(product.slug)} 55% 88%)` }} aria-hidden='true'>
            {initials(product.title)}
          </div>
        )}
      <div className='card-body'>
        <h2 className='card-title'>{product.title}</h2>
        {product.description && <p className='muted small'>{product.description}</p>}
        {selected && (
          <p className='price' data-testid={`price-${product.slug}`}>
            {money(selected.price, selected.currency)}
          </p>
        )}
        {product.variants.length > 0 && (
          <fieldset className='variants'>
            <legend className='sr-only'>{t('variant')}</legend>
            {product.variants.map((v) => (
              <button
                key={v.id}
                type='button'
                className={`chip ${v.id === selected?.id ? 'selected' : ''} ${v.available <= 0 ? 'soldout' : ''}`}
                aria-pressed={v.id === selected?.id}
                title={attributeText(v.attributes)}
                onClick={() => {
                  setSelectedId(v.id);
                  setQty(1);
                }}
                data-testid={`variant-${v.sku}`}
                data-available={v.available}
              >
                {v.title}
              </button>
            ))}
          </fieldset>
        )}
        {selected && (
          <>
            <p className='small muted'>{attributeText(selected.attributes)}</p>
            <p
              className={`stock ${selected.available <= 0 ? 'none' : selected.available <= 3 ? 'low' : ''}`}
              data-testid={`stock-${product.slug}`}
              data-sku={selected.sku}
              data-available={selected.available}
            >
              {stockText(selected.available)}
              {inCart > 0 && <span className='muted'>{t('inYourCart', { n: inCart })}</span>}
            </p>
            <div className='add-row'>
              <label className='qty'>
                <span className='sr-only'>{t('quantity')}</span>
                <input
                  type='number'
                  inputMode='numeric'
                  min={1}
                  max={Math.max(selected.available, 1)}
                  value={qty}
                  onChange={(e) => setQty(Math.max(1, Math.floor(Number(e.target.value) || 1)))}
                  data-testid={`qty-${product.slug}`}
                />
              </label>
              <button
                type='button'
                className='button primary'
                disabled={api.busy || selected.available <= 0}
                onClick={() => void add()}
                data-testid={`add-${product.slug}`}
              >
                {selected.available <= 0 ? t('outOfStock') : t('addToCart')}
              </button>
            </div>
          </>
        )}
      </div>
    </article>
  );
}
